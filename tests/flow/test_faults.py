"""Fault injection: SIGINT/SIGTERM/SIGKILL at stages of `synth`, `data generate` and `dqm train`.

A signalled run exits 128 + the signal (130, 143), leaves no output and no temporary folder, and no child
process (g++, cc1plus, workers) outlives it; after a SIGKILL no tool keeps running either (the watchdog of
`codesign.proc`), and the leftover temporary folder is removed by the next run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Run:
    """The CLI in a subprocess, its output collected by a thread."""

    def __init__(self, argv: list[str], cwd: Path, cache: Path | None = None) -> None:
        # without the variables TensorFlow set in this process (TF_USE_LEGACY_KERAS breaks loading .h5 files)
        env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "TF2_BEHAVIOR")}
        env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
        if cache is not None:  # a codesign cache of its own (e.g. so that g++ does run)
            env["CODESIGN_CACHE"] = str(cache)
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "codesign.cli", *argv], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def wait_until(self, ready: Callable[[Run], bool], timeout_s: float = 300) -> None:
        end = time.monotonic() + timeout_s
        while not ready(self):
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before the stage: {self.lines[-5:]}"
            assert time.monotonic() < end, f"stage not reached in {timeout_s} s: {self.lines[-5:]}"
            time.sleep(0.05)

    def signal(self, sig: int) -> tuple[int, list[psutil.Process]]:
        """Send `sig`; returns the exit code and the descendants that lived at that moment."""
        kids = self.descendants()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=120)
        self._reader.join(timeout=10)
        return code, kids


def printed(text: str) -> Callable[[Run], bool]:
    return lambda run: any(text in line for line in run.lines)


def child_named(*names: str) -> Callable[[Run], bool]:
    def ready(run: Run) -> bool:
        for child in run.descendants():
            try:
                if child.name() in names:
                    return True
            except psutil.Error:
                pass
        return False

    return ready


def exists(path: Path) -> Callable[[Run], bool]:
    return lambda run: path.exists()


def _assert_clean(run: Run, sig: int, kids: list[psutil.Process], folder: Path, name: str) -> None:
    # the output says why, e.g. when the run had already ended on its own (no descendants when signalled)
    assert run.proc.returncode == 128 + sig, (run.proc.returncode, len(kids), run.lines[-20:])
    _, alive = psutil.wait_procs(kids, timeout=10)
    for proc in alive:  # do not leave them behind, then fail
        proc.kill()
    assert alive == [], [p.pid for p in alive]
    assert [p.name for p in folder.iterdir() if name in p.name] == []


@pytest.mark.parametrize("stage, sig", [
    ("g++ compiling the C-simulation", signal.SIGTERM),
    ("g++ compiling the C-simulation", signal.SIGINT),
    ("da4ml: tracing", signal.SIGINT),
    ("yosys (", signal.SIGTERM),
])
def test_synth_interrupted(small_h5, tmp_path, tmp_path_factory, stage, sig):
    run = Run(["synth", str(small_h5), "--vectors", "500", "-o", str(tmp_path / "deep" / "proj")], tmp_path,
              cache=tmp_path_factory.mktemp("empty-cache"))  # the C-simulation is not a cached library
    run.wait_until(child_named("cc1plus", "g++") if stage.startswith("g++") else printed(stage))
    _, kids = run.signal(sig)
    _assert_clean(run, sig, kids, tmp_path, "proj")
    assert not (tmp_path / "deep").exists()  # the parent created for the output is gone too
    assert "interrupted" in run.lines[-1]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_data_generate_interrupted(tmp_path, sig):
    out = tmp_path / "events.root"
    run = Run(["data", "generate", "--process", "qcd", "--events", "4000", "--pileup", "0", "--no-cache",
               "--jobs", "2", "-o", str(out)], tmp_path)
    run.wait_until(exists(tmp_path / f".events.root.partial-{run.proc.pid}"))
    run.wait_until(lambda r: len(r.descendants()) >= 2)  # the spawned workers are running
    _, kids = run.signal(sig)
    _assert_clean(run, sig, kids, tmp_path, "events.root")


def test_data_generate_killed_then_the_next_run_cleans_up(tmp_path):
    out = tmp_path / "events.root"
    run = Run(["data", "generate", "--process", "qcd", "--events", "4000", "--pileup", "0", "--no-cache",
               "-o", str(out)], tmp_path)
    partial = tmp_path / f".events.root.partial-{run.proc.pid}"
    run.wait_until(exists(partial))
    code, kids = run.signal(signal.SIGKILL)
    assert code == -signal.SIGKILL and partial.exists()
    for proc in kids:
        if proc.is_running():
            proc.kill()
    again = Run(["data", "generate", "--process", "qcd", "--events", "10", "--pileup", "0", "--no-cache",
                 "-o", str(out)], tmp_path)
    assert again.proc.wait(timeout=300) == 0, again.lines[-3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.root"]


def _killed(run: Run, partial: Path) -> None:
    """SIGKILL: the partial output stays (for the next run to remove), nothing the run started survives."""
    code, kids = run.signal(signal.SIGKILL)
    assert code == -signal.SIGKILL and partial.exists()
    _, alive = psutil.wait_procs(kids, timeout=10)  # the tools' watchdog kills their process groups
    for proc in alive:
        proc.kill()
    assert alive == [], [p.pid for p in alive]


def test_synth_killed_while_compiling_then_the_next_run_cleans_up(small_h5, tmp_path):
    argv = ["synth", str(small_h5), "--vectors", "100", "-o", str(tmp_path / "proj")]
    run = Run(argv, tmp_path)
    run.wait_until(child_named("cc1plus"))
    _killed(run, tmp_path / f".proj.partial-{run.proc.pid}")
    again = Run(argv, tmp_path)
    assert again.proc.wait(timeout=900) == 0, again.lines[-3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


DQM_TRAIN = ["dqm", "train", "--runs", "1", "--lumisections", "24", "--filters", "4", "--latent", "4", "-q"]


#: few epochs, so EB's training ends soon; EE+'s and EE-'s training, their ONNX export and the thresholds
#: still take seconds after EB.onnx appears (the test polls every 50 ms)
EPOCHS_TO_EE = "20"


@pytest.mark.parametrize("stage, sig", [("training EB", signal.SIGTERM), ("training EE+", signal.SIGINT)])
def test_dqm_train_interrupted(tmp_path, stage, sig):
    epochs = EPOCHS_TO_EE if stage == "training EE+" else "1000"
    run = Run([*DQM_TRAIN, "--epochs", epochs, "-o", str(tmp_path / "model")], tmp_path)
    partial = tmp_path / f".model.partial-{run.proc.pid}"
    run.wait_until(exists(partial / "EB.onnx" if stage == "training EE+" else partial), timeout_s=900)
    _, kids = run.signal(sig)
    _assert_clean(run, sig, kids, tmp_path, "model")


def test_dqm_train_killed_then_the_next_run_cleans_up(tmp_path):
    run = Run([*DQM_TRAIN, "--epochs", EPOCHS_TO_EE, "-o", str(tmp_path / "model")], tmp_path)
    partial = tmp_path / f".model.partial-{run.proc.pid}"
    run.wait_until(exists(partial / "EB.onnx"), timeout_s=900)
    _killed(run, partial)
    again = Run([*DQM_TRAIN, "--epochs", "1", "-o", str(tmp_path / "model")], tmp_path)
    assert again.proc.wait(timeout=900) == 0, again.lines[-3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only; skipped where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("verb", ["emulate", "synth"])
def test_full_disk_is_one_line_and_leaves_nothing(small_h5, small_disk, tmp_path, capsys, verb):
    import numpy as np

    from codesign.cli import main

    if verb == "emulate":  # 400,000 x 3 float64 outputs: 9.6 MB on a 1 MiB disk
        np.save(tmp_path / "x.npy", np.zeros((400_000, 6)))
        argv = ["emulate", str(small_h5), "--input", str(tmp_path / "x.npy"), "-o", str(small_disk / "y.npy")]
    else:
        argv = ["synth", str(small_h5), "--vectors", "100", "-o", str(small_disk / "proj")]
    assert main(argv) in (1, 2)
    err = capsys.readouterr().err.strip()
    assert err.startswith("codesign: error:") and err.count("\n") == 0 and "No space left" in err, err
    assert list(small_disk.iterdir()) == []


EXECUTOR_INTERRUPTED = """
import multiprocessing, time
import psutil
from codesign.cli import stop_children
from codesign.data.generate import executor
def running(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
workers = []
try:
    with executor(2) as pool:
        futures = [pool.submit(time.sleep, 120) for _ in range(5)]  # two running, three queued
        while len(multiprocessing.active_children()) < 2:
            time.sleep(0.05)
        time.sleep(1)
        workers = [p.pid for p in multiprocessing.active_children()]
        stop_children()  # what the CLI's signal handler does, then it raises
        raise KeyboardInterrupt
except KeyboardInterrupt:
    # by PID, not by multiprocessing's bookkeeping: the executor's manager thread may be reaping a worker
    # at this very moment, and `active_children()` then still lists it
    alive = [pid for pid in workers if running(pid)]
    print("unwound", len(workers), "workers,", len(alive), "alive")
"""


def test_interrupted_executor_does_not_hang():
    """The signal handler's reaping must not hide the pool workers' exit from the executor (it then waited
    forever in its shutdown), and the running chunks are not waited for."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", EXECUTOR_INTERRUPTED], env=env, capture_output=True, text=True,
                          timeout=100)
    assert done.returncode == 0 and done.stdout.strip() == "unwound 2 workers, 0 alive", done.stderr[-2000:]
    assert time.monotonic() - start < 60
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


SWALLOWED_INTERRUPT = """
import argparse, os, signal, time
from codesign import cli
from codesign.errors import CodesignError
def run(args):
    try:  # a library's bare except around the moment the signal arrives
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    except BaseException:
        pass
    raise CodesignError("the C-simulation did not compile")  # what the handler stopped fails afterwards
cli.build_parser = lambda: argparse.Namespace(parse_args=lambda argv: argparse.Namespace(verbose=True, run=run))
raise SystemExit(cli.main([]))
"""


def test_an_interrupt_swallowed_by_a_library_still_exits_as_the_interrupt():
    """The failure that follows a signal (a g++ the handler killed) is reported as the interrupt, 128 + signal."""
    done = subprocess.run([sys.executable, "-c", SWALLOWED_INTERRUPT], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith("codesign: interrupted (SIGTERM, then: "), done.stderr
