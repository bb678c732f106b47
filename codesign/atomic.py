"""Atomic outputs: write to a temporary name beside the target, move into place when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from codesign.errors import CodesignError


def check_writable(target: Path) -> Path:
    """The folder that will hold `target`, after checking it exists and is writable."""
    parent = Path(target).parent
    if not parent.is_dir():
        raise CodesignError(f"output folder {parent} does not exist; create it or choose another -o")
    if not os.access(parent, os.W_OK):
        raise CodesignError(f"output folder {parent} is not writable; choose another -o")
    return parent


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path for `target` (file or folder); it replaces `target` only on success."""
    target = Path(target)
    parent = check_writable(target)
    tmp = parent / f".{target.name}.partial-{os.getpid()}"
    try:
        yield tmp
        if target.is_dir() and not tmp.is_file():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
