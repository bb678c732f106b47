"""`codesign data generate`: reproducible samples, in parallel chunks, cached per machine.

A sample is cut into chunks of `CHUNK_EVENTS` events; chunk i is generated from its own seed
derived from (seed, i) with a fresh Pythia, so the output depends only on the request, never on
the number of jobs.  Chunks are written in order into one TTree, atomically.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign import __version__
from codesign.atomic import atomic_path, check_writable
from codesign.cache import cache_dir, cache_key
from codesign.data import detector, rootio
from codesign.data.generator import PythiaGenerator, mpi_init_file
from codesign.data.objects import Events
from codesign.data.particles import Particles
from codesign.data.pileup import PileupOverlay
from codesign.data.processes import get_process
from codesign.errors import CodesignError

CHUNK_EVENTS = 500
SUB_BATCH_EVENTS = 100  # events simulated at once inside a chunk: bounds memory with pileup
DEFAULT_PILEUP = 60.0  # Run-3-like mean number of interactions per crossing
DEFAULT_POOL_EVENTS = 5000
#: Bump when the generator or detector changes what a request produces, to invalidate caches.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a sample."""

    process: str
    events: int
    pileup: float = DEFAULT_PILEUP
    seed: int = 1
    pool_events: int = DEFAULT_POOL_EVENTS

    def validate(self) -> None:
        get_process(self.process)
        if self.events <= 0:
            raise CodesignError(f"--events must be a positive number of events, got {self.events}")
        if self.pileup < 0:
            raise CodesignError(f"--pileup must be >= 0 (mean interactions per crossing), got {self.pileup}")
        if self.seed < 0:
            raise CodesignError(f"--seed must be >= 0, got {self.seed}")
        if self.pileup > 0 and self.pool_events < 10 * self.pileup:
            raise CodesignError(f"the pileup pool ({self.pool_events} events) must hold at least 10 x mu events")

    def key(self) -> str:
        """Cache key: the request with normalised types (pileup 60 and 60.0 are the same request)."""
        process = get_process(self.process)
        request = {"process": self.process, "events": int(self.events), "pileup": float(self.pileup),
                   "seed": int(self.seed), "pool_events": int(self.pool_events)}
        return cache_key({**request, "settings": process.settings, "suep": process.suep, "format": FORMAT_VERSION})


def generate(
    request: GenerationRequest, output: Path, jobs: int = 2, use_cache: bool = True, progress: bool = True
) -> tuple[Path, bool]:
    """Write the sample of `request` to `output`; returns (output, whether it came from the cache)."""
    request.validate()
    output = Path(output)
    if output.is_dir():
        raise CodesignError(f"output {output} is a folder; give a file name such as {output / 'events.root'}")
    check_writable(output)
    if jobs < 1:
        raise CodesignError(f"--jobs must be >= 1, got {jobs}")
    cached = cache_dir("samples") / f"{request.process}-{request.key()}.root"
    from_cache = use_cache and cached.is_file()
    if not from_cache:
        target = cached if use_cache else output
        _generate_into(request, target, jobs, progress)
        if target == output:
            return output, False
    with atomic_path(output) as tmp:
        shutil.copyfile(cached, tmp)
    return output, from_cache


def _generate_into(request: GenerationRequest, path: Path, jobs: int, progress: bool) -> None:
    process = get_process(request.process)
    init_dir = cache_dir("pythia")
    mpi_init_file(process, init_dir)  # once, before the workers, so they never race on it
    pool_path = pileup_pool(request.seed, request.pool_events, jobs, progress) if request.pileup > 0 else None
    chunks = [
        (request, i, min(CHUNK_EVENTS, request.events - i * CHUNK_EVENTS), pool_path, init_dir)
        for i in range(-(-request.events // CHUNK_EVENTS))
    ]
    metadata = {**asdict(request), "codesign": __version__, "format": FORMAT_VERSION, "description": process.description}
    with rootio.TreeWriter(path, metadata) as writer, _executor(jobs) as pool:
        bar = tqdm(total=request.events, unit="ev", desc=f"{request.process}", disable=not progress)
        for events in pool.map(_simulate_chunk, *zip(*chunks)):
            writer.write(events)
            bar.update(events.n_events)
        bar.close()


def _simulate_chunk(
    request: GenerationRequest, index: int, n_events: int, pool_path: Path | None, init_dir: Path
) -> Events:
    """Generate and simulate chunk `index` of a request (runs in a worker process)."""
    seeds = np.random.SeedSequence([request.seed, index])
    pythia_seed = int(seeds.generate_state(1)[0]) % 900_000_000 + 1
    rng = np.random.default_rng(seeds)
    generator = PythiaGenerator(get_process(request.process), pythia_seed, init_dir)
    overlay = PileupOverlay(load_pool(pool_path), request.pileup, rng) if pool_path else None
    parts = []
    for start in range(0, n_events, SUB_BATCH_EVENTS):
        particles = generator.generate(min(SUB_BATCH_EVENTS, n_events - start))
        n_pileup = np.zeros(particles.n_events, np.int64)
        if overlay is not None:
            particles, n_pileup = overlay(particles)
        parts.append(detector.simulate(particles, n_pileup, rng))
    return Events.concatenate(parts)


def _generate_particles_chunk(seed: int, index: int, n_events: int, init_dir: Path) -> Particles:
    seeds = np.random.SeedSequence([seed, index, 0xB1A5])
    generator = PythiaGenerator(get_process("minbias"), int(seeds.generate_state(1)[0]) % 900_000_000 + 1, init_dir)
    return generator.generate(n_events)


def pileup_pool(seed: int, n_events: int, jobs: int, progress: bool) -> Path:
    """The cached minimum-bias pool for `seed` (generated on first use)."""
    path = cache_dir("pileup") / f"minbias-pool-{cache_key({'seed': seed, 'events': n_events, 'format': FORMAT_VERSION})}.npz"
    if path.is_file():
        return path
    init_dir = cache_dir("pythia")
    mpi_init_file(get_process("minbias"), init_dir)
    sizes = [min(CHUNK_EVENTS, n_events - s) for s in range(0, n_events, CHUNK_EVENTS)]
    with _executor(jobs) as pool:
        results = list(
            tqdm(
                pool.map(_generate_particles_chunk, [seed] * len(sizes), range(len(sizes)), sizes, [init_dir] * len(sizes)),
                total=len(sizes), unit="chunk", desc="pileup pool", disable=not progress,
            )
        )
    particles = Particles.concatenate(results)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{k: v for k, v in vars(particles).items()})
    return path


def load_pool(path: Path) -> Particles:
    """The minimum-bias pool written by `pileup_pool`."""
    with np.load(path) as data:
        return Particles(**{k: data[k] for k in data.files})


@contextlib.contextmanager
def _executor(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """Worker processes; on an error or interrupt the queued chunks are cancelled, not run."""
    # spawn: workers must not inherit TensorFlow or other threaded state from the parent
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))
