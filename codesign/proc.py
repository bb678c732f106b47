"""Running external tools (g++ through build scripts, Verilator, Yosys) so that none outlives codesign.

A tool runs in its own process group with everything it starts (g++'s cc1plus, Yosys' ABC).  The group
is killed when the tool's time runs out or the call is interrupted; and a watchdog process, blocked
reading a pipe only codesign writes to, kills it when codesign dies without a chance to clean up (SIGKILL,
out-of-memory killer): the pipe then reaches end-of-file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

_WATCHDOG = "import os, sys\nsys.stdin.buffer.read()\ntry:\n    os.killpg({pgid}, 9)\nexcept OSError:\n    pass\n"


def run(cmd: list[str], cwd: Path | None = None, timeout_s: float | None = None) -> subprocess.CompletedProcess:
    """`subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)`, with the tool's whole
    process group killed on a timeout, an interrupt or codesign's death (see the module docstring)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    watchdog = subprocess.Popen([sys.executable, "-S", "-I", "-c", _WATCHDOG.format(pgid=proc.pid)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except BaseException:  # timeout or interrupt: nothing of the tool may keep running
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    finally:
        watchdog.kill()  # before closing its pipe: end-of-file would make it fire
        watchdog.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
