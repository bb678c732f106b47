"""`codesign data generate`: reproducible samples, in parallel chunks, cached per machine.

A sample is cut into chunks of `CHUNK_EVENTS` events; chunk i is generated from its own seed
derived from (seed, i) with a fresh Pythia, so the output depends only on the request, never on
the number of jobs.  Chunks are written in order into one TTree, atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import shutil
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign import __version__
from codesign.atomic import atomic_path, check_writable
from codesign.cache import cache_dir, cache_key
from codesign.data import detector, rootio, trigger, zerobias
from codesign.data.generator import PythiaGenerator, mpi_init_file
from codesign.data.objects import Events
from codesign.data.particles import Particles
from codesign.data.pileup import POOL_FORMAT, PileupOverlay, load_pool, max_pt, pool_file
from codesign.data.processes import Process, get_process
from codesign.errors import CodesignError

CHUNK_EVENTS = 500
SUB_BATCH_EVENTS = 50  # crossings simulated at once inside a chunk: bounds memory, and small grids stay in cache
DEFAULT_PILEUP = 60.0  # Run-3-like mean number of interactions per crossing
DEFAULT_POOL_EVENTS = 100_000
#: Bump when the generator or detector changes what a request produces, to invalidate caches.
FORMAT_VERSION = 5


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a sample."""

    process: str
    events: int
    pileup: float = DEFAULT_PILEUP
    seed: int = 1
    pool_events: int = DEFAULT_POOL_EVENTS
    pf: bool = True  # PF-like candidates (HLT and SUEP views); L1 views do not need them
    pf_trigger: str | None = None  # MODEL:WORKING_POINT: PF candidates only where it fires (`codesign.data.trigger`)

    def validate(self) -> None:
        process = get_process(self.process)
        if self.events <= 0:
            raise CodesignError(f"--events must be a positive number of events, got {self.events}")
        if not self.pileup >= 0 or self.pileup == float("inf"):
            raise CodesignError(f"--pileup must be >= 0 and finite (mean interactions per crossing), got {self.pileup}")
        if self.seed < 0:
            raise CodesignError(f"--seed must be >= 0, got {self.seed}")
        if process.zero_bias:
            try:
                zerobias.plan(self.events, self.pileup)
            except ValueError as err:
                raise CodesignError(f"--events: {err}") from None
        if self.pf_trigger is not None:
            if not self.pf:
                raise CodesignError("--pf-trigger chooses which crossings get PF candidates; it cannot go with --no-pf")
            trigger.parse(self.pf_trigger)
        if (self.pileup > 0 or process.zero_bias) and self.pool_events < max(10 * self.pileup, 100):
            raise CodesignError(
                f"the pileup pool ({self.pool_events} events) must hold at least 10 x mu and 100 interactions"
            )

    def key(self) -> str:
        """Cache key: the request with normalised types (pileup 60 and 60.0 are the same request)."""
        process = get_process(self.process)
        request = {"process": self.process, "events": int(self.events), "pileup": float(self.pileup),
                   "seed": int(self.seed), "pool_events": int(self.pool_events), "pf": bool(self.pf)}
        stitching = {"slices": zerobias.QCD_SLICES, "pool_max_pthat": zerobias.POOL_MAX_PTHAT,
                     "hard_share": zerobias.HARD_SHARE} if process.zero_bias else {}
        if process.slices:
            stitching = {"slices": process.slices}
        if self.pileup > 0 or process.zero_bias:  # the pool's definition
            stitching["pool"] = {"tiers": zerobias.POOL_HARD_TIERS, "sizes": zerobias.POOL_TIER_SIZES, "format": POOL_FORMAT}
        if self.pf_trigger is not None:
            stitching["pf_trigger"] = {"spec": self.pf_trigger, "fingerprint": trigger.fingerprint(self.pf_trigger)}
        return cache_key({**request, "settings": process.settings, "suep": process.suep, "format": FORMAT_VERSION,
                          **stitching})


@dataclass(frozen=True)
class _Chunk:
    """Events `index` of a request: the primary interaction's process (None: drawn from the pool)."""

    request: GenerationRequest
    index: int
    events: int
    process: Process | None
    weight: float  # per event: the fraction of the sample's population it stands for


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


def plan_chunks(request: GenerationRequest) -> list[_Chunk]:
    """The chunks of a request, in file order; chunk seeds depend only on their index."""
    process = get_process(request.process)
    if process.zero_bias:
        parts = [(c.process, c.events, c.event_weight) for c in zerobias.plan(request.events, request.pileup)]
    elif process.slices:
        parts = zerobias.sliced_parts(process.slices, request.events)
    else:
        parts = [(process, request.events, 1.0 / request.events)]
    chunks: list[_Chunk] = []
    for primary, n_events, weight in parts:
        for start in range(0, n_events, CHUNK_EVENTS):
            chunks.append(_Chunk(request, len(chunks), min(CHUNK_EVENTS, n_events - start), primary, weight))
    return chunks


def _generate_into(request: GenerationRequest, path: Path, jobs: int, progress: bool) -> None:
    process = get_process(request.process)
    chunks = plan_chunks(request)
    init_dir = cache_dir("pythia")
    for primary in {c.process.name: c.process for c in chunks if c.process is not None}.values():
        mpi_init_file(primary, init_dir)  # once, before the workers, so they never race on it
    needs_pool = request.pileup > 0 or process.zero_bias
    pool = pool_file(request.seed, request.pool_events, jobs, progress) if needs_pool else None
    pf_filter = trigger.load_filter(request.pf_trigger) if request.pf_trigger else None
    n_events = sum(c.events for c in chunks)
    metadata = {**asdict(request), "events_requested": request.events, "codesign": __version__,
                "format": FORMAT_VERSION, "description": process.description,
                "weighted": process.zero_bias or bool(process.slices) or process.biased}
    if pf_filter is not None:
        metadata["pf_trigger"] = {"spec": request.pf_trigger, "fingerprint": trigger.fingerprint(request.pf_trigger),
                                  "threshold": int(pf_filter.chain.thresholds[pf_filter.working_point])}
    if process.zero_bias:
        metadata["zerobias"] = {"pool_max_pthat": zerobias.POOL_MAX_PTHAT, "sigma_inelastic_mb": zerobias.SIGMA_INELASTIC_MB,
                                "pool_hard_tiers": zerobias.POOL_HARD_TIERS,
                                "pool_tier_sizes": zerobias.pool_tier_sizes(request.pool_events),
                                "components": [{"name": c.name, "events": c.events, "weight": c.weight}
                                               for c in zerobias.plan(request.events, request.pileup)]}
    with rootio.TreeWriter(path, metadata) as writer, executor(jobs) as workers:
        bar = tqdm(total=n_events, unit="ev", desc=f"{request.process}", disable=not progress)
        for events in workers.map(_simulate_chunk, chunks, [pool] * len(chunks), [init_dir] * len(chunks),
                                  [pf_filter] * len(chunks)):
            writer.write(events)
            bar.update(events.n_events)
        bar.close()


def _simulate_chunk(chunk: _Chunk, pool_path: tuple[Path, ...] | None, init_dir: Path,
                    pf_filter: trigger.Level1Filter | None = None) -> Events:
    """Generate and simulate one chunk (runs in a worker process)."""
    request = chunk.request
    seeds = np.random.SeedSequence([request.seed, chunk.index])
    rng = np.random.default_rng(seeds)
    overlay = PileupOverlay(load_pool(pool_path, request.pf), request.pileup, rng) if pool_path else None
    # filtered PF draws from its own stream, so the Level-1 objects are those of the same request without PF
    pf_rng = np.random.default_rng(seeds.spawn(1)[0]) if pf_filter is not None else None
    generator = None
    if chunk.process is not None:
        pythia_seed = int(seeds.generate_state(1)[0]) % 900_000_000 + 1
        generator = PythiaGenerator(chunk.process, pythia_seed, init_dir)
    parts = []
    for start in range(0, chunk.events, SUB_BATCH_EVENTS):
        n = min(SUB_BATCH_EVENTS, chunk.events - start)
        weight = np.full(n, chunk.weight)
        if generator is None:  # a soft zero-bias crossing: every interaction from the pool
            drawn = overlay.draw(n, primary_from_pool=True, with_particles=request.pf)
            events = detector.simulate_inputs(drawn.deposits, drawn.muons, drawn.particles, drawn.n_pileup, rng, pf_filter, pf_rng)
            pthat, lead = np.zeros(n), drawn.leading
        else:
            particles, pthat, pythia_weight, _ = generator.generate(n)
            if chunk.process.biased:
                weight = weight * pythia_weight
            lead = np.full(n, -1)
            if overlay is None:
                events = detector.simulate(particles, np.zeros(n, np.int64), rng, with_pf=request.pf, pf_filter=pf_filter,
                                           pf_rng=pf_rng)
            else:
                drawn = overlay.draw(n, with_particles=request.pf)
                deposits = detector.concatenate([detector.Deposits.of(particles), drawn.deposits])
                muons = detector.concatenate([detector.MuonSources.of(particles), drawn.muons])
                pf_particles = Particles.merge(particles, drawn.particles) if request.pf else None
                events = detector.simulate_inputs(deposits, muons, pf_particles, drawn.n_pileup, rng, pf_filter, pf_rng)
                lead = np.where(drawn.leading_pt > max_pt(particles), drawn.leading, -1)
        parts.append(dataclasses.replace(events, weight=weight, pthat=pthat, lead_interaction=lead))
    events = Events.concatenate(parts)
    if chunk.process is not None and chunk.process.biased:  # the chunk keeps its share of the population
        events.weight[:] = events.weight * (chunk.weight * chunk.events / events.weight.sum())
    return events


class _WorkerProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker that starts with SIGINT blocked (the mask survives exec, and Python keeps it):
    a terminal's Ctrl-C reaches the whole process group, and the parent decides, even while a worker is
    still importing."""

    def start(self) -> None:
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class _WorkerContext(multiprocessing.context.SpawnContext):
    # spawn: workers must not inherit TensorFlow or other threaded state from the parent
    Process = _WorkerProcess


@contextlib.contextmanager
def executor(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """Worker processes.  On an error or interrupt the queued chunks are cancelled and the workers
    terminated without waiting for the running ones."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=_WorkerContext())
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_workers()
        raise
    pool.shutdown(wait=True)


def stop_workers(grace_s: float = 3.0) -> None:
    """Terminate this process' multiprocessing children and wait for them through multiprocessing itself,
    so the executor's manager thread sees them exit (SIGKILL after `grace_s`)."""
    workers = multiprocessing.active_children()
    for worker in workers:
        worker.terminate()
    end = time.monotonic() + grace_s
    for worker in workers:
        worker.join(max(0.0, end - time.monotonic()))
        if worker.is_alive():
            worker.kill()
            worker.join()


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))
