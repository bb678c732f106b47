"""The per-machine cache folder (generated samples, Pythia initialisations, build products)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
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


#: LLVM optimisation level of numba's one-off compilations (da4ml's solver, the emulator's `fixed/fused.py`
#: kernels: as fast at level 1 as at 3, measured).  Measured on a cold AXOL1TL synth (user CPU seconds of the
#: whole command, loaded 2-core machine): level 3 (numba's default) 171 s, level 1 112 s, level 0 110 s; the warm
#: synth (cached kernels: the solver's run time) 23.9 s at level 3, 21.7 s at level 1; byte-identical RTL.
COMPILE_OPT = 1


def configure_numba_cache() -> Path:
    """Point numba's cache at `$NUMBA_CACHE_DIR`, else the codesign cache, and compile at `NUMBA_OPT` (default
    `COMPILE_OPT`); call before importing numba (da4ml imports it)."""
    if not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir("numba"))
    os.environ.setdefault("NUMBA_OPT", str(COMPILE_OPT))
    if "numba" in sys.modules:  # numba read its configuration at import: make it read the folder again
        from numba.core import config

        config.reload_config()
    return Path(os.environ["NUMBA_CACHE_DIR"])
