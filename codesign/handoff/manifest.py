"""manifest.json: tool and package versions, part, clock and the SHA-256 of every file; `--check` re-verifies.

`check_bundle` recomputes every listed file's checksum (a missing or changed file fails) and reruns the
bundle's `make check` (the HLS C++ testbench and the CMSSW emulator on the bundled vectors) in a copy of
the bundle, so the bundle itself is never written.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from codesign.errors import CodesignError, first_error_line

MANIFEST = "manifest.json"
PACKAGES = ("codesign", "hls4ml", "da4ml", "qkeras", "tensorflow", "keras", "numpy", "qonnx")
CHECK_TIMEOUT_S = 1800


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tool_versions(report_tools: dict) -> dict:
    """Versions of the Python packages, the compilers and the tools the synth report names."""
    tools = dict(report_tools)
    for package in PACKAGES:
        try:
            tools[package] = version(package)
        except PackageNotFoundError:
            continue
    tools["python"] = platform.python_version()
    for command in ("g++", "make"):
        if shutil.which(command):
            first = subprocess.run([command, "--version"], capture_output=True, text=True).stdout.splitlines()
            tools[command] = first[0] if first else "unknown"
    return dict(sorted(tools.items()))


def write_manifest(bundle: Path, report: dict, extra: dict) -> Path:
    """manifest.json of `bundle` (every other file's checksum, sorted)."""
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {
        "model": report["model"],
        "part": report["part"],
        "part_full_name": report["part_full_name"],
        "clock_mhz": report["clock_mhz"],
        "latency_cycles": report["latency_cycles"],
        "ii": report["ii"],
        **extra,
        "tools": tool_versions(report["tools"]),
        "sha256": {str(p.relative_to(bundle)): sha256(p) for p in files},
    }
    path = bundle / MANIFEST
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def verify_checksums(bundle: Path) -> int:
    """Number of files verified; raises CodesignError naming the missing or changed ones."""
    path = Path(bundle) / MANIFEST
    if not path.is_file():
        raise CodesignError(f"{bundle} has no {MANIFEST}; give a folder written by `codesign handoff`")
    try:
        listed = json.loads(path.read_text())["sha256"]
    except (ValueError, KeyError, TypeError):
        raise CodesignError(f"{path} is not a codesign manifest (no sha256 table); rewrite the bundle") from None
    missing = [name for name in listed if not (bundle / name).is_file()]
    changed = [name for name in listed if name not in missing and sha256(bundle / name) != listed[name]]
    if missing or changed:
        parts = [f"{len(missing)} missing ({', '.join(missing[:3])})" if missing else "",
                 f"{len(changed)} changed ({', '.join(changed[:3])})" if changed else ""]
        raise CodesignError(f"bundle {bundle}: " + ", ".join(p for p in parts if p)
                            + " against its manifest; write the bundle again with `codesign handoff`")
    return len(listed)


def check_bundle(bundle: Path, progress=print) -> str:
    """Verify the checksums, then run `make check` in a copy of the bundle; returns a summary."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise CodesignError(f"bundle {bundle} is not a folder; give the folder `codesign handoff` wrote")
    n_files = verify_checksums(bundle)
    progress(f"{n_files} files match the manifest; running make check (g++) in a copy")
    for command in ("make", "g++"):
        if shutil.which(command) is None:
            raise CodesignError(f"`{command}` is not on PATH; install it to rerun the bundle's vectors")
    with tempfile.TemporaryDirectory(prefix="codesign-check-") as tmp:
        copy = Path(tmp) / bundle.name
        shutil.copytree(bundle, copy, symlinks=True)
        try:
            run = subprocess.run(["make", "-s", "check"], cwd=copy, capture_output=True, text=True,
                                 timeout=CHECK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CodesignError(f"make check of {bundle} took over {CHECK_TIMEOUT_S} s; run it there by hand") from None
    if run.returncode != 0:
        detail = first_error_line(run.stderr + run.stdout) or f"exit {run.returncode}"
        raise CodesignError(f"make check of {bundle} failed: {detail}")
    results = [line for line in run.stdout.splitlines() if "vectors," in line]
    return f"{n_files} files match the manifest; " + "; ".join(results)
