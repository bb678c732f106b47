"""`codesign.proc.run`: a tool's whole process group ends with the call, on a timeout, and when the
caller is killed with SIGKILL (the watchdog)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from codesign.proc import run

ROOT = Path(__file__).resolve().parents[2]
#: a tool that starts a grandchild (as g++ starts cc1plus), records its PID and waits for it
TOOL = 'sleep 60 & echo $! > "{pid}"; wait'


def _gone(pid: int, timeout_s: float = 10) -> bool:
    try:
        psutil.Process(pid).wait(timeout_s)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        return False
    return True


def _wait_for(path: Path, timeout_s: float = 30) -> int:
    end = time.monotonic() + timeout_s
    while not (path.is_file() and path.read_text().strip()):
        assert time.monotonic() < end, f"{path} not written"
        time.sleep(0.05)
    return int(path.read_text())


def test_output_and_exit_code_as_subprocess_run(tmp_path):
    before = {p.pid for p in psutil.Process().children()}  # e.g. a YoWASP warm-up an earlier synth started
    done = run(["sh", "-c", "echo out; echo err >&2; exit 3"], cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    left = [p for p in psutil.Process().children() if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []  # no watchdog left


def test_timeout_kills_the_grandchildren(tmp_path):
    with pytest.raises(subprocess.TimeoutExpired):
        run(["sh", "-c", TOOL.format(pid=tmp_path / "pid")], timeout_s=1)
    assert _gone(_wait_for(tmp_path / "pid"))


def test_a_killed_caller_leaves_no_tool_running(tmp_path):
    code = f"from codesign.proc import run; run(['sh', '-c', {TOOL.format(pid=tmp_path / 'pid')!r}])"
    caller = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    grandchild = _wait_for(tmp_path / "pid")
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    assert _gone(grandchild), "the tool's child outlived a SIGKILL'd codesign"
