"""A process started with TF_USE_LEGACY_KERAS set (as every process started after a QKeras import is: Dask
workers, `dask worker`, subprocesses) still builds and lowers AXOL1TL, or, when TensorFlow came first, says why not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_AND_LOWER = """
from codesign.zoo import load_card
from codesign.zoo.axol1tl import build
from codesign.fixed.lower import lower_keras
graph, _ = lower_keras(build(load_card("axol1tl"))[1])
print([type(op).__name__ for op in graph.ops])
"""


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_inherited_legacy_keras_variable_is_dropped_before_tensorflow():
    run = _python(BUILD_AND_LOWER)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[-2] == "['Quantize', 'Dense', 'Quantize', 'Dense', 'Quantize', 'Dense', 'Quantize']"


def test_tensorflow_imported_first_with_the_variable_is_one_clear_error():
    run = _python("import tensorflow\n" + BUILD_AND_LOWER)
    assert run.returncode == 1
    assert "CodesignError: TensorFlow was imported with TF_USE_LEGACY_KERAS set" in run.stderr
