"""Shared fixtures: small real samples generated once per test session, in a private cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codesign.data import GenerationRequest, generate, read_events

SAMPLE_EVENTS = 300
TEST_POOL_EVENTS = 600  # a small minimum-bias pool keeps the pileup tests fast
TEST_PILEUP = 20.0


def pytest_configure(config: pytest.Config) -> None:
    """da4ml's numba kernels take minutes to compile: keep them in pytest's cache folder across sessions
    (the session's private codesign cache is new every run, and the user's cache is not for tests)."""
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None and not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = str(cache.mkdir("numba"))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Never read or write the user's cache from tests."""
    path = tmp_path_factory.mktemp("codesign-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("CODESIGN_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory):
    """`sample(process, pileup=0)` -> path of a small generated ROOT file (made once per session)."""
    made: dict[tuple[str, float], Path] = {}
    folder = tmp_path_factory.mktemp("samples")

    def make(process: str, pileup: float = 0.0) -> Path:
        key = (process, pileup)
        if key not in made:
            request = GenerationRequest(process, SAMPLE_EVENTS, pileup=pileup, seed=11, pool_events=TEST_POOL_EVENTS)
            made[key], _ = generate(request, folder / f"{process}-mu{pileup:g}.root", jobs=2, progress=False)
        return made[key]

    return make


@pytest.fixture(scope="session")
def events(sample):
    """`events(process, pileup=0)` -> the sample's :class:`Events`."""
    cache = {}

    def load(process: str, pileup: float = 0.0):
        if (process, pileup) not in cache:
            cache[(process, pileup)] = read_events(sample(process, pileup))
        return cache[(process, pileup)]

    return load

