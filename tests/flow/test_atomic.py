"""The shared output helper: marker, checks before work, swap on success, stale and parent clean-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codesign.atomic import MARKER, MAX_NAME, atomic_path, check_output, clean_stale
from codesign.errors import CodesignError


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_new_folder_gets_the_marker_and_replaces_only_codesign_folders(tmp_path):
    out = tmp_path / "a" / "b" / "project"
    with atomic_path(out, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "x").write_text("1")
    assert (out / MARKER).is_file() and (out / "x").read_text() == "1"
    with atomic_path(out, folder=True) as tmp:  # a codesign folder is replaced, only once complete
        tmp.mkdir()
        assert (out / "x").read_text() == "1"
        (tmp / "y").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "y"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["project"]


@pytest.mark.parametrize("kind", ["user folder", "file", "symlink", "cwd", "parent of cwd"])
def test_refused_targets_are_untouched(tmp_path, monkeypatch, kind):
    user = tmp_path / "thesis"
    user.mkdir()
    (user / "chapter.tex").write_text("years of work")
    target = {"user folder": user, "file": user / "chapter.tex", "symlink": tmp_path / "link",
              "cwd": user, "parent of cwd": tmp_path}[kind]
    if kind == "symlink":
        target.symlink_to(user)
    if kind.endswith("cwd"):
        (user / MARKER).write_text("")  # even a codesign folder: never the working folder
        monkeypatch.chdir(user)
    with pytest.raises(CodesignError) as err:
        with atomic_path(target, folder=True) as tmp:
            tmp.mkdir()
    assert "\n" not in str(err.value)
    assert (user / "chapter.tex").read_text() == "years of work"


def test_failure_leaves_nothing_not_even_created_parents(tmp_path):
    out = tmp_path / "new" / "deeper" / "project"
    with pytest.raises(RuntimeError), atomic_path(out, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "half").write_text("")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_stale_partials_of_dead_processes_are_removed(tmp_path):
    out = tmp_path / "project"
    dead, alive = _dead_pid(), os.getppid()
    for pid in (dead, alive):
        (tmp_path / f".project.partial-{pid}").mkdir()
    (tmp_path / f".project.replaced-{dead}").mkdir()
    (tmp_path / f".other.partial-{dead}").mkdir()
    with atomic_path(out, folder=True) as tmp:
        tmp.mkdir()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f".other.partial-{dead}", f".project.partial-{alive}", "project"]
    assert clean_stale(tmp_path / "other") == [tmp_path / f".other.partial-{dead}"]


def test_long_names_are_refused_with_the_limit(tmp_path):
    with pytest.raises(CodesignError, match=f"at most {MAX_NAME}"):
        check_output(tmp_path / ("x" * 245), folder=True)
    check_output(tmp_path / ("x" * MAX_NAME), folder=True)


def test_files_replace_files_not_folders(tmp_path):
    (tmp_path / "out.npy").write_text("old")
    with atomic_path(tmp_path / "out.npy", folder=False) as tmp:
        tmp.write_text("new")
    assert (tmp_path / "out.npy").read_text() == "new"
    (tmp_path / "dir.npy").mkdir()
    with pytest.raises(CodesignError, match="is a folder"):
        check_output(tmp_path / "dir.npy", folder=False)
