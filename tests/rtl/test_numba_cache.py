"""da4ml's kernels: the tracer uses the serial solver, and a cold numba cache is detected (for the progress line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codesign.fixed import lower_keras
from codesign.rtl import trace_graph
from codesign.rtl.numba_cache import compile_kernels, kernels_cached, start_compiling, use_serial_solver
from tests.rtl.test_rtl import qkeras_mlp

ROOT = Path(__file__).resolve().parents[2]


def test_the_tracer_calls_the_serial_solver():
    from da4ml.cmvm import api
    from da4ml.trace import fixed_variable_array

    use_serial_solver()  # idempotent
    solver = fixed_variable_array.solve
    assert solver.py_func.__code__ is api.solve.py_func.__code__ and solver.py_func.__qualname__ == "solve_serial"
    assert not solver.targetoptions.get("parallel") and api.solve.targetoptions.get("parallel")


def test_a_cold_cache_is_detected_and_a_trace_fills_it(tmp_path: Path):
    code = "import codesign.rtl; from codesign.rtl.numba_cache import kernels_cached; print(kernels_cached())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert run.stdout.strip() == "False"
    trace_graph(lower_keras(qkeras_mlp((4, 3), seed=3, weight_bits=3))[0])  # this session's cache
    assert kernels_cached()


def test_the_warm_up_compiles_what_a_trace_needs():
    """`compile_kernels` (the background warm-up of a first synth) must ready every kernel that tracing a real
    network calls, with its argument types: afterwards, tracing adds no compiled signature to any of da4ml's
    kernels (neither compiled nor loaded from the cache).  A kernel the warm-up does not reach, or other
    argument types, add one and fail this test."""
    compile_kernels()
    before = _jitted_signatures()
    trace_graph(lower_keras(qkeras_mlp((6, 5, 2), seed=11, weight_bits=5))[0])
    assert "solve_serial" in before and before == _jitted_signatures()


def _jitted_signatures() -> dict[str, set]:
    """The compiled signatures of every numba kernel in da4ml's modules (the tracer's replacements included)."""
    from numba.core.registry import CPUDispatcher

    return {attr.py_func.__qualname__: set(attr.signatures)
            for name, module in list(sys.modules.items()) if name.startswith("da4ml")
            for attr in vars(module).values() if isinstance(attr, CPUDispatcher)}


def test_a_warm_cache_starts_no_background_compilation():
    trace_graph(lower_keras(qkeras_mlp((4, 3), seed=3, weight_bits=3))[0])  # this session's cache is warm
    assert start_compiling() is None
