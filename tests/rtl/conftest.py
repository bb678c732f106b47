"""da4ml's numba kernels take minutes to compile: keep them in pytest's cache folder across sessions
(the session's private codesign cache is new every run, and the user's cache is not for tests)."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None and not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = str(cache.mkdir("numba"))
