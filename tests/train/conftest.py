"""Training samples shared by the trainers' tests: the session's small generated files read in a view."""

from __future__ import annotations

import pytest

from codesign.train.common import Samples, read_sample
from tests.conftest import TEST_PILEUP


@pytest.fixture(scope="session")
def training_samples(sample):
    """`training_samples(view)` -> (Samples, raw inputs by key): minimum bias to train on, zero bias as the
    reference and Z'->ll as the one signal, read in `view`."""

    def load(view: str) -> tuple[Samples, dict]:
        files = {"background": sample("minbias", TEST_PILEUP), "reference": sample("zerobias", TEST_PILEUP),
                 "zprime_ll": sample("zprime_ll")}
        loaded = {key: read_sample(key, path, view) for key, path in files.items()}
        samples = Samples(loaded["background"][0], loaded["reference"][0], {"zprime_ll": loaded["zprime_ll"][0]})
        return samples, {key: raw for key, (_, raw) in loaded.items()}

    return load
