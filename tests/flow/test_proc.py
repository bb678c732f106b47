"""`codesign.proc.run`: a tool's whole process group ends with the call, on a timeout, and when the
caller is killed with SIGKILL (the watchdog)."""

from __future__ import annotations

import contextlib
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


def _survivors(marker: str, timeout_s: float = 10) -> list[psutil.Process]:
    end = time.monotonic() + timeout_s
    while True:
        left = []
        for process in psutil.process_iter(["cmdline", "status"]):
            if marker in " ".join(process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(process)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


@pytest.mark.parametrize("delay_ms", [0, 2, 5, 10, 20, 40])
def test_a_caller_killed_while_starting_the_tool_leaves_nothing(tmp_path, delay_ms):
    """SIGKILL at any moment of `run`, including between starting the watchdog and the tool."""
    marker = f"codesign-proc-test-{os.getpid()}-{delay_ms}"
    tool = ["sh", "-c", f'sh -c "sleep 60; : {marker}" & wait']  # both shells carry the marker
    code = f"from codesign.proc import run\nprint('ready', flush=True)\nrun({tool!r})"
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert caller.stdout.readline().strip() == "ready"
    time.sleep(delay_ms / 1000)
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    left = _survivors(marker)
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()
    assert left == [], f"{len(left)} processes outlived a SIGKILL'd codesign"


def test_a_background_tool_ends_with_a_killed_caller(tmp_path):
    """`Background` (the one-off compilations of a first synth): the tool and its children die with codesign."""
    code = (f"from codesign.proc import Background; import time; Background(['sh', '-c', {TOOL.format(pid=tmp_path / 'pid')!r}]);"
            " time.sleep(60)")
    caller = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    grandchild = _wait_for(tmp_path / "pid")
    caller.send_signal(signal.SIGKILL)
    caller.wait()
    assert _gone(grandchild), "a background tool's child outlived a SIGKILL'd codesign"


def test_a_background_tool_gives_its_exit_code_and_is_stopped_at_exit(tmp_path):
    from codesign.proc import Background

    before = {p.pid for p in psutil.Process().children()}
    assert Background(["sh", "-c", "exit 4"], niceness=5).wait() == 4
    left = [p for p in psutil.Process().children() if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []  # its watchdog went with it
    code = (f"from codesign.proc import Background; Background(['sh', '-c', {TOOL.format(pid=tmp_path / 'pid2')!r}])"
            "; import time; time.sleep(1)")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, timeout=60)
    assert _gone(_wait_for(tmp_path / "pid2")), "a background tool outlived codesign's normal exit"
