"""The per-machine cache folder (generated samples, Pythia initialisations, build products)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

from codesign.atomic import atomic_path


def cache_dir(kind: str) -> Path:
    """`$CODESIGN_CACHE/<kind>` (default `~/.cache/codesign/<kind>`), created on demand."""
    root = Path(os.environ.get("CODESIGN_CACHE", Path.home() / ".cache" / "codesign"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(settings: dict[str, Any]) -> str:
    """A short, stable hash of JSON-serialisable settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def content_key(settings: Any, files: Sequence[Path | str]) -> str:
    """A short hash of JSON-serialisable settings and the names and bytes of `files` (tool runs keyed by what
    they read: Verilator builds and lints, Yosys runs)."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in map(Path, files):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def cached_array(kind: str, settings: dict[str, Any], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """`compute()`, kept in `$CODESIGN_CACHE/<kind>` under the key of `settings` (which must name everything the
    result depends on), written atomically; later calls with the same settings load it."""
    path = cache_dir(kind) / f"{cache_key(settings)}.npy"
    if path.exists():
        return np.load(path)
    result = compute()
    with atomic_path(path, folder=False) as tmp, open(tmp, "wb") as out:
        np.save(out, result)
    return result
