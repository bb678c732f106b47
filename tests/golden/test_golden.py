"""Golden vectors: any change of a zoo model's firmware outputs is caught and must be explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.zoo import zoo_names
from codesign.zoo.loading import load_model
from tests.golden.regenerate import expected

FOLDER = Path(__file__).parent


@pytest.mark.parametrize("name", zoo_names())
def test_outputs_equal_the_golden_vectors(name):
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
