"""da4ml compiles its solver with numba on first use (~80 s); the compiled code is cached on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from codesign.cache import cache_dir


def configure_numba_cache() -> Path:
    """Point numba's cache at `$NUMBA_CACHE_DIR`, else the codesign cache; call before importing da4ml."""
    if not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir("numba"))
    if "numba" in sys.modules:  # numba read its configuration at import: make it read the folder again
        from numba.core import config

        config.reload_config()
    return Path(os.environ["NUMBA_CACHE_DIR"])
