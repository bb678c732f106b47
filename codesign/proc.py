"""Running external tools (g++ through build scripts, Verilator, Yosys) so that none outlives codesign.

A watchdog process is started first, as the leader of a new process group, blocked reading a pipe only
codesign writes to.  The tool then joins that group, and everything it starts (g++'s cc1plus, Yosys'
ABC) with it.  The group is killed when the tool's time runs out or the call is interrupted; and when
codesign dies without a chance to clean up (SIGKILL, out-of-memory killer) the pipe reaches end-of-file
and the watchdog kills the group.  Because the group exists before the tool, there is no moment in which
the tool runs unwatched.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

_WATCHDOG = "import os, sys\nsys.stdin.buffer.read()\nos.killpg(0, 9)\n"


def run(cmd: list[str], cwd: Path | None = None, timeout_s: float | None = None) -> subprocess.CompletedProcess:
    """`subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)`, with the tool's whole
    process group killed on a timeout, an interrupt or codesign's death (see the module docstring).
    The tool's standard input is /dev/null (its group is not the terminal's foreground group)."""
    watchdog = _start_watchdog()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, process_group=watchdog.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except BaseException:  # timeout or interrupt: nothing of the tool may keep running
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(watchdog.pid, signal.SIGKILL)
            proc.communicate()
            raise
    finally:
        watchdog.kill()  # before closing its pipe: end-of-file would make it fire
        watchdog.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _start_watchdog() -> subprocess.Popen:
    """The leader of a new process group, which kills the group when its standard input reaches end-of-file."""
    return subprocess.Popen([sys.executable, "-S", "-I", "-c", _WATCHDOG], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)


class Background:
    """`cmd` running beside codesign, `niceness` steps below its priority, in a group watched as in `run`: it is
    killed when codesign exits, is interrupted or dies (SIGKILL included).  `wait()` for its exit code."""

    def __init__(self, cmd: list[str], niceness: int = 0) -> None:
        self._watchdog = _start_watchdog()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, process_group=self._watchdog.pid,
                                     preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
        atexit.register(self.stop)

    def wait(self) -> int:
        code = self.proc.wait()
        self.stop()
        return code

    def stop(self) -> None:
        """Kill the group; once stopped, a no-op (its id may since belong to another group)."""
        if self._watchdog.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._watchdog.pid, signal.SIGKILL)
        self.proc.wait()
        self._watchdog.communicate()

