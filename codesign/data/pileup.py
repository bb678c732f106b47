"""Pileup from a pool of inelastic interactions, cached per machine.

Generating pileup on the fly costs ~60 inelastic events per bunch crossing; drawing them from a pool
of pre-generated interactions, each rotated in phi, is far faster.  The pool is *capped in hardness*:
it keeps only interactions whose hardest scatter has p̂T below `POOL_MAX_PTHAT`, and the hard tail is
supplied by the cross-section-weighted QCD slices of `codesign.data.zerobias`.  A pool interaction is
reused many times, so it must never be able to make a crossing rare on its own.  Hence tiers of the
same size by the p̂T of the hardest scatter: soft inelastic events (below `SOFT_TIER_MAX_PTHAT`, ~94% of
interactions) and HardQCD:all in the windows of `POOL_HARD_TIERS` (12-15 and 15-30 GeV, ~2.5% each; the
latter 2.5 times the size, `POOL_TIER_SIZES`), each drawn with its minimum-bias share, so an interaction that can reach an e/γ, muon or jet seed is reused
~40x less often than if it were a share of one pool.  Scatters of 12-15 GeV need a tier of their own:
initial-state radiation recoils against the scatter and one hadron can carry most of a jet, so a scatter
just below 15 GeV can hold a 25 GeV photon.  The rotation (a whole number of calorimeter towers, so
tower sums are unchanged) and the per-use detector response keep copies from being identical.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign.atomic import atomic_path
from codesign.cache import cache_dir, cache_key
from codesign.data.detector import N_PHI_TOWERS, Deposits, MuonSources, concatenate
from codesign.data.particles import Particles
from codesign.data.processes import Process, get_process
from codesign.data.zerobias import POOL_HARD_TIERS, SOFT_TIER_MAX_PTHAT, pool_tier_sizes, slice_process, tier_fractions

POOL_CHUNK_EVENTS = 1000
#: Pool interactions turned into deposits and muon sources at once: ~1 GB of temporaries, and arrays above glibc's
#: largest mmap threshold (32 MB), so that freeing them returns the memory instead of fragmenting the heap.
_LEVEL1_BATCH = 50_000
#: Bump when the pool's content for a given (seed, size) changes.
POOL_FORMAT = 4


@dataclass
class PileupPool:
    """The pool's interactions as the detector's inputs (deposits, muon sources) and, when PF candidates are
    wanted, as particles; each table indexed by interaction (its `event` column), tier after tier (soft first)."""

    particles: Particles | None  # None: a Level-1-only pool (~40% of the memory)
    deposits: Deposits
    muons: MuonSources
    hardness: np.ndarray  # per interaction: the highest particle pT, GeV
    tier_starts: np.ndarray  # first interaction of every tier (and the total at the end)
    deposit_offsets: np.ndarray  # first deposit row of every interaction (and the total at the end)
    muon_offsets: np.ndarray
    particle_offsets: np.ndarray | None

    @classmethod
    def of(cls, tiers: Iterable[Particles], with_particles: bool = True) -> PileupPool:
        """The pool of `tiers` (soft first), taken one at a time: a default pool's particles are ~6.4 GB and their
        deposits ~2 GB, so a worker holds one tier's particles beyond what it keeps, not all of them twice."""
        deposits, muons, hardness, kept, starts = [], [], [], [], [0]
        for tier in tiers:
            tier_deposits, tier_muons = _level1_inputs(tier, starts[-1])
            deposits += tier_deposits
            muons += tier_muons
            hardness.append(max_pt(tier))
            starts.append(starts[-1] + tier.n_events)
            if with_particles:
                kept.append(_single_precision(tier))
            del tier  # else this tier's particles stay alive while the next one loads
        sizes = np.diff(starts)
        if len(sizes) != len(tier_fractions()) or sizes.min() < 1:
            raise ValueError(f"a pool needs {len(tier_fractions())} non-empty tiers, got tiers of {sizes.tolist()} interactions")
        n = starts[-1]
        deposits, muons = concatenate(deposits), concatenate(muons)
        particles = Particles.concatenate(kept, consume=True) if with_particles else None
        return cls(particles, deposits, muons, np.concatenate(hardness), np.array(starts),
                   _offsets(deposits.event, n), _offsets(muons.event, n),
                   _offsets(particles.event_index, n) if particles is not None else None)

    @property
    def n_interactions(self) -> int:
        return int(self.tier_starts[-1])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of `n` interactions drawn with the tiers' minimum-bias shares."""
        tier = np.searchsorted(np.cumsum(tier_fractions())[:-1], rng.random(n), side="right")
        start = self.tier_starts[tier]
        return start + rng.integers(0, self.tier_starts[tier + 1] - start)


@dataclass
class Overlay:
    """Pool interactions drawn for a batch of crossings (detector inputs with crossing indices)."""

    deposits: Deposits
    muons: MuonSources
    particles: Particles | None  # only when PF candidates are wanted
    n_pileup: np.ndarray  # pileup interactions per crossing
    interactions: np.ndarray  # pool index of every drawn interaction, crossing by crossing
    crossing: np.ndarray  # the crossing of every drawn interaction
    leading: np.ndarray  # per crossing: the pool index of its hardest drawn interaction (-1: none drawn)
    leading_pt: np.ndarray  # per crossing: that interaction's highest particle pT (0: none drawn)


class PileupOverlay:
    """Draws Poisson(mu) pool interactions (and optionally a pool primary) for every crossing."""

    def __init__(self, pool: PileupPool, mu: float, rng: np.random.Generator) -> None:
        if mu < 0:
            raise ValueError(f"pileup mean must be >= 0, got {mu}")
        if pool.n_interactions == 0:
            raise ValueError("the pileup pool is empty")
        self.pool = pool
        self.mu = mu
        self._rng = rng

    def draw(self, n_crossings: int, primary_from_pool: bool = False, with_particles: bool = False) -> Overlay:
        """Pool interactions for `n_crossings` crossings, each rotated in phi by a whole number of towers.
        With `primary_from_pool`, each crossing also gets one interaction that is not pileup (the soft
        zero-bias primary)."""
        n_pileup = self._rng.poisson(self.mu, size=n_crossings)
        n_drawn = n_pileup + int(primary_from_pool)
        drawn = self.pool.sample(int(n_drawn.sum()), self._rng)
        crossing = np.repeat(np.arange(n_crossings), n_drawn)
        steps = self._rng.integers(0, N_PHI_TOWERS, size=len(drawn)).astype(np.int16)
        d = self.pool.deposits
        index, which = _gather(self.pool.deposit_offsets, drawn)
        deposits = Deposits(crossing[which], d.ieta[index], (d.iphi[index] + steps[which]) % N_PHI_TOWERS,
                            d.pt[index], d.sigma[index], d.em[index], d.hf[index])
        m = self.pool.muons
        index, which = _gather(self.pool.muon_offsets, drawn)
        muons = MuonSources(crossing[which], m.pt[index], m.eta[index], _rotate(m.phi[index], steps[which]), m.pid[index])
        particles = None
        if with_particles:
            if self.pool.particles is None:
                raise ValueError("this pileup pool was loaded without particles; PF candidates need them")
            p = self.pool.particles
            index, which = _gather(self.pool.particle_offsets, drawn)
            columns = {f.name: getattr(p, f.name)[index] for f in fields(Particles)[1:]}
            columns["phi"] = _rotate(columns["phi"], steps[which])
            is_pileup = np.ones(len(drawn), dtype=bool)
            if primary_from_pool:
                is_pileup[np.cumsum(n_drawn) - n_drawn] = False  # the first interaction of each crossing
            columns["is_pileup"] = is_pileup[which]
            counts = np.bincount(crossing[which], minlength=n_crossings).astype(np.int64)
            particles = Particles(counts=counts, **columns)  # crossing-ordered: `drawn` is
        hardness = self.pool.hardness[drawn]
        order = np.lexsort((-hardness, crossing))  # by crossing, hardest first
        first = np.cumsum(n_drawn) - n_drawn
        has = n_drawn > 0
        leading, leading_pt = np.full(n_crossings, -1), np.zeros(n_crossings)
        leading[has] = drawn[order][first[has]]
        leading_pt[has] = hardness[order][first[has]]
        return Overlay(deposits, muons, particles, n_pileup, drawn, crossing, leading, leading_pt)


def _level1_inputs(tier: Particles, first: int) -> tuple[list[Deposits], list[MuonSources]]:
    """The deposits and muon sources of `tier`, its interactions numbered from `first`, `_LEVEL1_BATCH` interactions
    at a time: on a whole 250,000-interaction tier (~60M particles) the temporaries of `Deposits.of` took ~10 GB,
    and two workers ran a 24 GB machine out of memory."""
    deposits, muons = [], []
    for start in range(0, tier.n_events, _LEVEL1_BATCH):
        part = tier.slice_events(start, start + _LEVEL1_BATCH)
        d, m = Deposits.of(part), MuonSources.of(part)
        # interaction indices fit 32 bits and tower indices 16: fewer bytes to hold and for every draw to gather
        deposits.append(replace(d, event=(d.event + first + start).astype(np.int32), ieta=d.ieta.astype(np.int16),
                                iphi=d.iphi.astype(np.int16)))
        muons.append(replace(m, event=m.event + first + start))
    return deposits, muons


def _single_precision(particles: Particles) -> Particles:
    """`particles` with float32 kinematics, one column at a time (each float64 column is freed as it goes): pileup's
    PF candidates need no more, and a default pool's particles take ~3.7 GB per worker instead of ~6.4 GB."""
    for f in fields(Particles):
        column = getattr(particles, f.name)
        if column.dtype == np.float64:
            setattr(particles, f.name, column.astype(np.float32))
    return particles


def max_pt(particles: Particles) -> np.ndarray:
    """The highest particle pT of every event (0 for an empty one)."""
    hardness = np.zeros(particles.n_events)
    np.maximum.at(hardness, particles.event_index, particles.pt)
    return hardness


def _offsets(owner: np.ndarray, n_interactions: int) -> np.ndarray:
    """First row of every interaction in a table sorted by interaction (`owner`), and the row count last."""
    return np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_interactions))])


def _gather(offsets: np.ndarray, drawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows (of a table with interaction `offsets`) of the `drawn` interactions, in draw order, and for
    each row the position in `drawn` it came from; no Python loop."""
    sizes = offsets[drawn + 1] - offsets[drawn]
    which = np.repeat(np.arange(len(drawn)), sizes)
    index = np.repeat(offsets[drawn], sizes) + np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return index, which


def _rotate(phi: np.ndarray, steps: np.ndarray) -> np.ndarray:
    return (phi + steps * (2 * np.pi / N_PHI_TOWERS) + np.pi) % (2 * np.pi) - np.pi


def pool_file(seed: int, pool_events: int, jobs: int, progress: bool) -> tuple[Path, ...]:
    """The cached pool for `seed` with tiers of `pool_tier_sizes(pool_events)` interactions: one file per tier,
    each generated on first use (in chunks, on `jobs` workers), so changing one tier never rebuilds another; a
    tier's chunks are seeded by their index, so a larger tier starts with the interactions of a smaller one."""
    from codesign.data.generate import executor
    from codesign.data.generator import mpi_init_file

    init_dir = cache_dir("pythia")
    paths, missing = [], []
    tiers = [(get_process("minbias"), 0.0, SOFT_TIER_MAX_PTHAT, 1.1),
             *((slice_process(low, high), low, high, 1.0) for low, high, _ in POOL_HARD_TIERS)]
    sizes = pool_tier_sizes(pool_events)
    for tier, ((process, low, high, spare), n_events) in enumerate(zip(tiers, sizes)):
        key = cache_key({"seed": seed, "events": n_events, "tier": tier, "settings": process.settings,
                         "low": low, "high": high, "format": POOL_FORMAT})
        paths.append(cache_dir("pileup") / f"tier-{key}.npz")
        if not paths[-1].is_file():
            mpi_init_file(process, init_dir)
            # enough chunks for n_events after the p̂T window removes its few per cent: the tier is their first n_events
            n_chunks = -(-int(n_events * spare + 10) // POOL_CHUNK_EVENTS)
            missing.append((tier, [(seed, tier, index, process, low, high, init_dir) for index in range(n_chunks)]))
    if not missing:
        return tuple(paths)
    # every missing tier's chunks on one set of workers, the slow hard tiers first: a small pool (the first synth's)
    # keeps both cores busy instead of building three tiers of a few chunks one after the other
    missing.sort(key=lambda item: -item[0])
    tasks = [task for _, tier_tasks in missing for task in tier_tasks]
    started = time.monotonic()
    with executor(jobs) as workers, tqdm(total=len(tasks), unit="chunk", desc=f"pileup pool (seed {seed}, built once)",
                                         disable=not progress) as bar:
        results = workers.map(_pool_chunk, tasks)
        for tier, tier_tasks in missing:
            low, high = tiers[tier][1:3]
            n_events = sizes[tier]
            chunks = []
            for _ in tier_tasks:
                chunks.append(next(results))
                bar.update()
            particles = Particles.concatenate(chunks).slice_events(0, n_events)
            if particles.n_events < n_events:
                raise RuntimeError(f"pileup pool tier p̂T {low:g}-{high:g} GeV: {particles.n_events} of {n_events} interactions")
            with atomic_path(paths[tier]) as tmp:
                with open(tmp, "wb") as handle:
                    np.savez(handle, **vars(particles))
    if progress:
        built = ", ".join(f"{sizes[tier]:,}" for tier, _ in missing)
        print(f"pileup pool (seed {seed}): {len(missing)} tier(s) of {built} interactions built once in "
              f"{time.monotonic() - started:.0f} s ({jobs} jobs), {paths[0].parent}")
    return tuple(paths)


def _pool_chunk(task: tuple[int, int, int, Process, float, float, Path]) -> Particles:
    """Interactions of `process` whose hardest scatter has low <= p̂T < high, from one chunk of events (runs
    in a worker)."""
    from codesign.data.generator import PythiaGenerator

    seed, tier, index, process, low, high, init_dir = task
    seeds = np.random.SeedSequence([seed, tier, index, 0xB1A5])
    generator = PythiaGenerator(process, int(seeds.generate_state(1)[0]) % 900_000_000 + 1, init_dir)
    generated = generator.generate(POOL_CHUNK_EVENTS)
    particles, scatter_pt = generated.particles, generated.scatter_pt
    inside = (scatter_pt >= low) & (scatter_pt < high)
    kept = particles.select(np.repeat(inside, particles.counts))
    return Particles(kept.counts[inside], *(getattr(kept, f.name) for f in fields(Particles)[1:]))


@functools.lru_cache(maxsize=1)
def load_pool(paths: tuple[Path, ...], with_particles: bool = True) -> PileupPool:
    """The pool of the tier files written by `pool_file` (kept in memory: every chunk of a worker process
    reuses it); without particles when no PF candidates are wanted."""
    def tiers() -> Iterator[Particles]:
        for path in paths:
            with np.load(path) as data:
                yield Particles(**{k: data[k] for k in data.files})

    return PileupPool.of(tiers(), with_particles)
