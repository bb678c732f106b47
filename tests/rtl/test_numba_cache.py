"""da4ml's kernels: the tracer uses the serial solver, and a cold numba cache is detected (for the progress line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codesign.fixed import lower_keras
from codesign.rtl import trace_graph
from codesign.rtl.numba_cache import kernels_cached, use_serial_solver
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
