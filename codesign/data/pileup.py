"""Pileup from a pool of inelastic interactions, cached per machine.

Generating pileup on the fly costs ~60 inelastic events per bunch crossing; drawing them from a pool
of pre-generated interactions, each rotated in phi, is far faster.  The pool is *capped in hardness*:
it keeps only interactions whose hardest scatter has p̂T below `POOL_MAX_PTHAT`, and the hard tail is
supplied by the cross-section-weighted QCD slices of `codesign.data.zerobias`.  A pool interaction is
reused many times, so it must never be able to make a crossing rare on its own.  Hence two tiers of
the same size: soft inelastic events (p̂T < `SOFT_TIER_MAX_PTHAT`, drawn for most interactions) and
semi-hard QCD (p̂T from there to the cap, ~2.5% of interactions, ~1.5 per crossing at mu = 60), so
each semi-hard interaction, the only kind that can reach an e/γ or jet seed, is reused ~40x less
often than if it were a share of one pool.  The rotation (a whole number of calorimeter towers, so
tower sums are unchanged) and the per-use detector response keep copies from being identical.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign.atomic import atomic_path
from codesign.cache import cache_dir, cache_key
from codesign.data.detector import N_PHI_TOWERS, Deposits, MuonSources
from codesign.data.particles import Particles
from codesign.data.processes import Process, get_process
from codesign.data.zerobias import POOL_MAX_PTHAT, SOFT_TIER_MAX_PTHAT, semihard_fraction, slice_process

POOL_CHUNK_EVENTS = 1000
#: Bump when the pool's content for a given (seed, size) changes.
POOL_FORMAT = 3


@dataclass
class PileupPool:
    """The pool's interactions as particles and as the detector's inputs (deposits, muon sources),
    each table indexed by interaction (its `event` column): the soft tier first, then the semi-hard one."""

    particles: Particles
    deposits: Deposits
    muons: MuonSources
    hardness: np.ndarray  # per interaction: the highest particle pT, GeV
    n_soft: int  # interactions of the soft tier (the rest are semi-hard)
    deposit_offsets: np.ndarray  # first deposit row of every interaction (and the total at the end)
    muon_offsets: np.ndarray
    particle_offsets: np.ndarray

    @classmethod
    def of(cls, particles: Particles, n_soft: int) -> PileupPool:
        deposits, muons = Deposits.of(particles), MuonSources.of(particles)
        # tower indices fit 16 bits: half the bytes every draw gathers
        deposits = replace(deposits, ieta=deposits.ieta.astype(np.int16), iphi=deposits.iphi.astype(np.int16))
        n = particles.n_events
        return cls(particles, deposits, muons, max_pt(particles), n_soft,
                   _offsets(deposits.event, n), _offsets(muons.event, n), _offsets(particles.event_index, n))

    @property
    def n_interactions(self) -> int:
        return self.particles.n_events

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of `n` interactions drawn with the tiers' cross-section shares."""
        semihard = rng.random(n) < semihard_fraction()
        drawn = rng.integers(0, self.n_soft, size=n)
        drawn[semihard] = self.n_soft + rng.integers(0, self.n_interactions - self.n_soft, size=int(semihard.sum()))
        return drawn


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


def pool_file(seed: int, n_events: int, jobs: int, progress: bool) -> Path:
    """The cached pool for `seed` with `n_events` interactions in each tier (generated on first use)."""
    from codesign.data.generate import executor
    from codesign.data.generator import mpi_init_file

    key = cache_key({"seed": seed, "events": n_events, "max_pthat": POOL_MAX_PTHAT,
                     "soft_max_pthat": SOFT_TIER_MAX_PTHAT, "format": POOL_FORMAT})
    path = cache_dir("pileup") / f"pool-{key}.npz"
    if path.is_file():
        return path
    init_dir = cache_dir("pythia")
    tiers = []
    for tier, (process, low, high, spare) in enumerate((
            (get_process("minbias"), 0.0, SOFT_TIER_MAX_PTHAT, 1.05),
            (slice_process(SOFT_TIER_MAX_PTHAT, POOL_MAX_PTHAT), SOFT_TIER_MAX_PTHAT, POOL_MAX_PTHAT, 1.0))):
        mpi_init_file(process, init_dir)
        # enough chunks for n_events after the p̂T window removes its few per cent: the tier is their first n_events
        n_chunks = -(-int(n_events * spare + 10) // POOL_CHUNK_EVENTS)
        tasks = [(seed, tier, index, process, low, high, init_dir) for index in range(n_chunks)]
        with executor(jobs) as workers:
            chunks = list(tqdm(workers.map(_pool_chunk, tasks), total=n_chunks, unit="chunk",
                               desc=f"pileup pool, p̂T {low:g}-{high:g} GeV", disable=not progress))
        tiers.append(Particles.concatenate(chunks).slice_events(0, n_events))
    particles = Particles.concatenate(tiers)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, n_soft=tiers[0].n_events, **vars(particles))
    return path


def _pool_chunk(task: tuple[int, int, int, Process, float, float, Path]) -> Particles:
    """Interactions of `process` with low <= p̂T < high from one chunk of events (runs in a worker)."""
    from codesign.data.generator import PythiaGenerator

    seed, tier, index, process, low, high, init_dir = task
    seeds = np.random.SeedSequence([seed, tier, index, 0xB1A5])
    generator = PythiaGenerator(process, int(seeds.generate_state(1)[0]) % 900_000_000 + 1, init_dir)
    particles, pthat, _ = generator.generate(POOL_CHUNK_EVENTS)
    inside = (pthat >= low) & (pthat < high)
    kept = particles.select(np.repeat(inside, particles.counts))
    return Particles(kept.counts[inside], *(getattr(kept, f.name) for f in fields(Particles)[1:]))


@functools.lru_cache(maxsize=1)
def load_pool(path: Path) -> PileupPool:
    """The pool written by `pool_file` (kept in memory: every chunk of a worker process reuses it)."""
    with np.load(path) as data:
        n_soft = int(data["n_soft"])
        return PileupPool.of(Particles(**{k: data[k] for k in data.files if k != "n_soft"}), n_soft)
