"""Atomic outputs: check the target first, build under a temporary name beside it, swap in when complete.

Every folder codesign writes carries the marker file `MARKER`; only such a folder is ever replaced.
Anything else at an output path (a user's folder, the working directory or one of its parents, a
symbolic link, a file where a folder is wanted or the reverse) is refused before any work starts.
Temporary names are `.NAME.partial-PID` (and `.NAME.replaced-PID` during a swap); those left by
processes that no longer run (a hard kill) are removed by the next write of the same target.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from codesign.errors import CodesignError

MARKER = ".codesign-output"
NAME_MAX = 255  # bytes in one file name on Linux file systems
_TEMP_TAGS = ("partial", "replaced")
MAX_NAME = NAME_MAX - len(".") - len(".replaced-") - 7  # 7: digits of the largest Linux PID (4194304)


def check_output(target: Path, folder: bool | None = None, inputs: tuple[Path | str, ...] = ()) -> Path:
    """`target` after checking, before any work, that codesign may write it (`folder`: True for a folder,
    False for a file, None for either) without replacing any of the `inputs`; raises CodesignError naming
    the problem and the fix."""
    target = Path(target)
    full = Path(os.path.abspath(target))
    size = len(os.fsencode(full.name))
    if not full.name:
        raise CodesignError(f"output {target} is the root folder; choose a new folder name")
    if size > MAX_NAME:
        raise CodesignError(f"output name {full.name[:40]}... is {size} bytes; codesign allows at most {MAX_NAME} "
                            f"(the {NAME_MAX}-byte file-name limit less its temporary suffix); choose a shorter name")
    if target.is_symlink():
        raise CodesignError(f"output {target} is a symbolic link; give the real path (codesign never writes through links)")
    cwd = Path.cwd().resolve()
    if full.resolve() == cwd or full.resolve() in cwd.parents:
        raise CodesignError(f"output {target} is the working folder or contains it; choose a new folder name")
    for source in map(Path, inputs):
        if source.exists() and (full.resolve() == source.resolve() or full.resolve() in source.resolve().parents):
            raise CodesignError(f"output {target} is or contains the input {source}; choose another output path")
    if target.is_dir():
        if folder is False:
            raise CodesignError(f"output {target} is a folder; give a file name such as {target / 'out'}")
        if not (target / MARKER).is_file():
            raise CodesignError(f"output folder {target} exists and was not written by codesign (no {MARKER} in it); "
                                "choose a new folder name or remove it yourself")
    elif target.exists() or target.is_symlink():
        if folder or not target.is_file():
            raise CodesignError(f"output {target} exists and is not a folder; choose a new folder name")
    ancestor = full.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CodesignError(f"cannot create {full.parent}: {ancestor} is a file; choose another output path")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CodesignError(f"output folder {ancestor} is not writable; choose another output path")
    return target


def check_writable(target: Path) -> Path:
    """The existing folder that will hold `target`, after checking it is writable (for inputs beside outputs)."""
    parent = Path(target).parent
    if not parent.is_dir():
        raise CodesignError(f"output folder {parent} does not exist; create it or choose another -o")
    if not os.access(parent, os.W_OK):
        raise CodesignError(f"output folder {parent} is not writable; choose another -o")
    return parent


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale(target: Path) -> list[Path]:
    """Remove the temporary names of `target` left by processes that no longer run; returns them."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:{'|'.join(_TEMP_TAGS)})-(\d+)")
    stale = []
    for entry in target.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match and int(match[1]) != os.getpid() and not _pid_alive(int(match[1])):
            _remove(entry)
            stale.append(entry)
    return stale


def _make_parents(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; returns the created ones, deepest first."""
    created = []
    path = Path(os.path.abspath(folder))
    while not path.exists():
        created.append(path)
        path = path.parent
    for path in reversed(created):
        path.mkdir()
    return created


def _swap(tmp: Path, target: Path) -> None:
    """Move `tmp` to `target`; a folder already there (codesign's, checked) is moved aside, then deleted."""
    if target.is_dir() and not target.is_symlink():
        if not (target / MARKER).is_file():  # checked before the work; appeared meanwhile
            raise CodesignError(f"output folder {target} appeared during the run and was not written by codesign; "
                                "choose a new folder name")
        old = target.parent / f".{target.name}.replaced-{os.getpid()}"
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:  # an interrupt between the two renames would lose both folders
            os.replace(target, old)
            os.replace(tmp, target)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


@contextlib.contextmanager
def atomic_path(target: Path, folder: bool | None = None) -> Iterator[Path]:
    """Yield a temporary path for `target` (a file, or a folder the caller creates); it replaces `target`
    only on success.  A folder gets codesign's marker.  On failure nothing is left: neither the
    temporary path nor the parent folders created for it.  `folder` is passed to :func:`check_output`."""
    target = check_output(target, folder)
    created = _make_parents(target.parent)
    clean_stale(target)
    tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
    _remove(tmp)
    done = False
    try:
        yield tmp
        if tmp.is_dir():
            (tmp / MARKER).write_text("written by codesign; a later codesign run may replace this folder\n")
        _swap(tmp, target)
        done = True
    finally:
        _remove(tmp)
        if not done:
            for path in created:
                with contextlib.suppress(OSError):
                    path.rmdir()  # only if still empty
