"""The per-machine cache folder (generated samples, Pythia initialisations, build products)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def cache_dir(kind: str) -> Path:
    """`$CODESIGN_CACHE/<kind>` (default `~/.cache/codesign/<kind>`), created on demand."""
    root = Path(os.environ.get("CODESIGN_CACHE", Path.home() / ".cache" / "codesign"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(settings: dict[str, Any]) -> str:
    """A short, stable hash of JSON-serialisable settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]
