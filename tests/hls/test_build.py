"""The C-simulation build: one g++ run per content, objects in parallel, one-line errors."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.hls import build


def _project(root: Path, factor: int) -> tuple[list[Path], list[Path]]:
    (root / "inc").mkdir(parents=True)
    (root / "inc" / "factor.h").write_text(f"static const int FACTOR = {factor};\n")
    (root / "a.cpp").write_text('#include "factor.h"\nint twice(int x) { return FACTOR * x; }\n')
    (root / "b.cpp").write_text('int twice(int);\nextern "C" int api(int x) { return twice(x) + 1; }\n')
    return [root / "a.cpp", root / "b.cpp"], [root / "inc"]


def _call(library: Path, x: int) -> int:
    copy = library.with_name(f"{library.stem}-{x}-{library.stat().st_mtime_ns}.so")  # dlopen caches by path
    shutil.copyfile(library, copy)
    return ctypes.CDLL(str(copy)).api(x)


@pytest.fixture
def g_plus_plus_runs(monkeypatch, tmp_path: Path) -> list[list[str]]:
    """Every g++ command the build runs (with an empty cache)."""
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "cache"))
    runs, real = [], build.proc.run

    def counting(command, *args, **kwargs):
        if command[0] == build.CXX and "--version" not in command:
            runs.append(command)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(build.proc, "run", counting)
    return runs


def test_same_content_builds_once_anywhere(tmp_path: Path, g_plus_plus_runs):
    first = _project(tmp_path / "one", 3)
    assert not build.build_library(tmp_path / "one", *first, tmp_path / "one" / "lib.so")
    assert len(g_plus_plus_runs) == 3  # two objects and the link
    assert _call(tmp_path / "one" / "lib.so", 5) == 16
    second = _project(tmp_path / "two", 3)  # the same bytes elsewhere: no build
    assert build.build_library(tmp_path / "two", *second, tmp_path / "two" / "lib.so")
    assert len(g_plus_plus_runs) == 3
    assert _call(tmp_path / "two" / "lib.so", 5) == 16
    assert str(tmp_path).encode() not in (tmp_path / "two" / "lib.so").read_bytes()


def test_a_changed_header_rebuilds(tmp_path: Path, g_plus_plus_runs):
    sources, includes = _project(tmp_path / "p", 3)
    build.build_library(tmp_path / "p", sources, includes, tmp_path / "p" / "lib.so")
    (tmp_path / "p" / "inc" / "factor.h").write_text("static const int FACTOR = 4;\n")
    assert not build.build_library(tmp_path / "p", sources, includes, tmp_path / "p" / "lib.so")
    assert len(g_plus_plus_runs) == 6
    assert _call(tmp_path / "p" / "lib.so", 5) == 21


def test_compile_error_is_one_line_and_caches_nothing(tmp_path: Path):
    sources, includes = _project(tmp_path / "p", 3)
    sources[0].write_text("int twice(int x) { return x +; }\n")
    with pytest.raises(CodesignError, match=r"did not compile: .*error:") as caught:
        build.build_library(tmp_path / "p", sources, includes, tmp_path / "p" / "lib.so")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "p" / "lib.so").exists()
    assert not list(build.cache_dir("csim").glob(f"{build.library_key(tmp_path / 'p', sources, includes)}*"))
