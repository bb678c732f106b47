"""Golden vectors: any change of a zoo model's firmware outputs is caught and must be explained."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from codesign.fixed import emulator
from codesign.zoo import zoo_names
from codesign.zoo.loading import load_model
from tests.golden.regenerate import expected

FOLDER = Path(__file__).parent


@pytest.mark.parametrize("fused", [False, True], ids=["numpy", "fused"])
@pytest.mark.parametrize("name", zoo_names())
def test_outputs_equal_the_golden_vectors(name, fused, monkeypatch):
    """On the emulator's numpy steps and on its fused kernels (`FUSED_MIN_EVENTS`: used for large calls)."""
    monkeypatch.setattr(emulator, "FUSED_MIN_EVENTS", 0 if fused else 10**12)
    if fused:  # every zoo model has them
        assert emulator._fused_stages(load_model(name).graph) is not None
    else:  # as in a process that has not loaded them
        monkeypatch.delitem(sys.modules, "codesign.fixed.fused", raising=False)
    path = FOLDER / f"{name}.npz"
    assert path.is_file(), f"no golden vectors for zoo model {name}: run python tests/golden/regenerate.py"
    golden = np.load(path)
    got = expected(load_model(name), golden["inputs"])
    for key, values in got.items():
        assert np.array_equal(values, golden[key]), (
            f"{name}: {key} changed on {np.sum(values != golden[key])} values; if intended, run"
            " python tests/golden/regenerate.py and explain the change in the commit"
        )
    assert len(golden["inputs"]) >= 500 and np.any(golden["score"] > 0)
