"""Zero bias as a weighted sum of components: soft crossings plus p̂T-sliced hard QCD.

A zero-bias bunch crossing holds 1 + Poisson(mu) inelastic interactions.  Generating the rare hard
ones by brute force would need billions of crossings for a kHz-level tail (a 28.61 MHz crossing rate
makes 1 kHz a 3.5e-5 fraction), so the sample is stitched from components, each with a weight that
says which fraction of all crossings it stands for:

* soft: every interaction is drawn from the pileup pool (inelastic interactions whose hardest scatter
  has p̂T < `POOL_MAX_PTHAT`, in tiers of hardness, see `codesign.data.pileup`); weight ``1 - sum of the
  slices' weights``;
* slice s: one hard QCD interaction with p̂T in slice s (fresh Pythia) plus Poisson(mu) pool
  interactions; weight ``(mu + 1) sigma_s / sigma_inel``, the expected number of slice-s interactions
  per crossing.

This is the first-order stitching: crossings with two hard interactions (probability about
``((mu + 1) sigma(p̂T > 30 GeV) / sigma_inel)^2 / 2``, 0.9% at mu = 60) are counted as one.  The cut at
30 GeV keeps that small while the pool holds nothing that can reach a kHz-level tail on its own.

Events are allocated for the most effective events per CPU second.  A slice event costs a fresh Pythia
hard-QCD event (~13 ms of CPU, ~14 soft crossings), so the cheapest allocation for a given variance of
a weighted sum (Neyman's) weighs a slice event sqrt(14) ~ `HARD_WEIGHT_RATIO` times a soft one: each
slice gets its share of ``(1 - HARD_SHARE) x N / HARD_WEIGHT_RATIO`` events in proportion to its weight,
plus an equal share of ``HARD_SHARE x N``, which populates the tail with light events; the soft
component takes the rest (~94% of the events at mu = 60).  The effective number of events stays near
0.8 N, and a sample costs about a third of what proportional allocation (every event weighing the same)
would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.data.processes import Process

#: Pythia 8.317 (default tune), SoftQCD:inelastic `sigmaGen` at 13.6 TeV.
SIGMA_INELASTIC_MB = 78.585
#: Pool interactions are inelastic events whose hardest scatter has a p̂T below this (GeV).
POOL_MAX_PTHAT = 30.0
#: The pool's tiers above the soft one: (p̂T min, p̂T max, sigma in mb) of the inelastic interactions whose
#: hardest scatter lies in the window (`codesign.data.generator.hardest_scatter`), each tier made of HardQCD:all
#: events in its window and drawn with its share.  The sigmas are Pythia 8.317 minimum bias' own
#: (SoftQCD:inelastic, 30,000 events, +-3.5%: the window's fraction times `SIGMA_INELASTIC_MB`), not HardQCD's
#: 2.415 and 1.938 mb: below 30 GeV the multiparton-interaction damping and the condition that the first
#: scatter is the hardest remove 10-20%; `python benchmarks/bench_zerobias.py --xsec` recomputes both.
POOL_HARD_TIERS: tuple[tuple[float, float, float], ...] = ((12.0, 15.0, 2.077), (15.0, 30.0, 1.807))
#: Each tier's size relative to `--pool-events` (soft first).  A replicated share (the part of a seed's weighted
#: rate led by one reused interaction) scales as 1 / (tier size): with 100,000 interactions in every tier, the
#: 15-30 GeV tier left 1.5-1.8% of DoubleEG_25_12er2p5's and DoubleIsoTau34er2p1's rate to one interaction
#: (`benchmarks/bench_zerobias.py`, 1.25M crossings), so it holds 2.5 times as many.
POOL_TIER_SIZES: tuple[float, ...] = (1.0, 1.0, 2.5)
#: The soft tier: SoftQCD:inelastic events whose hardest scatter is below the first hard tier.
SOFT_TIER_MAX_PTHAT = POOL_HARD_TIERS[0][0]
#: (p̂T min, p̂T max, sigma in mb) of HardQCD:all at 13.6 TeV, Pythia 8.317 `sigmaGen` after 50,000 events
#: per slice (statistical error below 0.25%); reproduce with `python benchmarks/bench_zerobias.py --xsec`.
QCD_SLICES: tuple[tuple[float, float, float], ...] = (
    (30.0, 50.0, 1.4877e-01),
    (50.0, 80.0, 2.0690e-02),
    (80.0, 120.0, 2.9719e-03),
    (120.0, 170.0, 5.1126e-04),
    (170.0, 250.0, 1.1615e-04),
    (250.0, 400.0, 2.1086e-05),
    (400.0, 600.0, 2.0433e-06),
    (600.0, 6800.0, 2.6461e-07),
)
HARD_SHARE = 0.03
#: A slice event weighs up to this many soft events (see the module docstring).
HARD_WEIGHT_RATIO = 4.0


def pool_tier_sizes(pool_events: int) -> tuple[int, ...]:
    """Interactions in every pool tier (soft first) of a pool of `pool_events` per unit of `POOL_TIER_SIZES`."""
    return tuple(round(pool_events * factor) for factor in POOL_TIER_SIZES)


def tier_fractions() -> np.ndarray:
    """The share of every pool tier (soft first) among pool interactions (inelastic, p̂T < `POOL_MAX_PTHAT`)."""
    hard = np.array([sigma for _, _, sigma in POOL_HARD_TIERS]) / (SIGMA_INELASTIC_MB - sum(s for _, _, s in QCD_SLICES))
    return np.concatenate([[1.0 - hard.sum()], hard])


@dataclass(frozen=True)
class Component:
    """One part of a zero-bias sample: its primary interaction's process (None: from the pool)."""

    name: str
    process: Process | None
    events: int
    weight: float  # the fraction of all bunch crossings the component stands for

    @property
    def event_weight(self) -> float:
        return self.weight / self.events if self.events else 0.0


def slice_process(pthat_min: float, pthat_max: float) -> Process:
    """HardQCD:all restricted to one p̂T slice."""
    return Process(
        f"qcd_pthat_{pthat_min:g}_{pthat_max:g}",
        f"QCD 2->2, {pthat_min:g} <= pT-hat < {pthat_max:g} GeV",
        ("HardQCD:all = on", f"PhaseSpace:pTHatMin = {pthat_min:g}", f"PhaseSpace:pTHatMax = {pthat_max:g}"),
        is_signal=False,
    )


def sliced_parts(slices: tuple[tuple[float, float, float], ...], events: int) -> list[tuple[Process, int, float]]:
    """(process, events, per-event weight) of a p̂T-sliced sample: events shared equally between the slices,
    each slice weighted by its share of the summed cross section (weights sum to 1)."""
    total = sum(sigma for _, _, sigma in slices)
    counts = [events // len(slices) + (k < events % len(slices)) for k in range(len(slices))]
    return [(slice_process(lo, hi), n, sigma / total / n) for (lo, hi, sigma), n in zip(slices, counts) if n]


def plan(events: int, pileup: float) -> list[Component]:
    """The components of a zero-bias sample of about `events` crossings at mean pileup `pileup`."""
    slices = [(slice_process(lo, hi), (pileup + 1.0) * sigma / SIGMA_INELASTIC_MB) for lo, hi, sigma in QCD_SLICES]
    soft_weight = 1.0 - sum(weight for _, weight in slices)
    proportional = (1.0 - HARD_SHARE) * events / HARD_WEIGHT_RATIO
    extra = HARD_SHARE * events / len(slices)
    hard = [Component(process.name, process, max(1, round(weight * proportional + extra)), weight)
            for process, weight in slices]
    soft_events = events - sum(c.events for c in hard)
    if soft_events < 1:
        raise ValueError(f"a zero-bias sample needs at least {events - soft_events + 1} events, got {events}")
    return [Component("soft", None, soft_events, soft_weight), *hard]


@dataclass(frozen=True)
class TailShares:
    """Who makes up the weighted background passing a selection."""

    pool_share: float  # the largest share led by one reused pool interaction
    pool_interaction: int  # that interaction (-1: none passed)
    pool_crossings: int  # the passing crossings it leads
    event_share: float  # the largest share of one event (a statistics figure: about 1 / effective events)


def tail_shares(weights: np.ndarray, passed: np.ndarray, lead_interaction: np.ndarray) -> TailShares:
    """Shares of the passing weight per leading pool interaction and per event.

    A reused pool interaction that leads many passing crossings is a replicated object setting the
    tail; a large event share only says that few events pass."""
    weights = np.asarray(weights, np.float64)[passed]
    lead = np.asarray(lead_interaction)[passed]
    total = weights.sum()
    if total <= 0:
        return TailShares(0.0, -1, 0, 0.0)
    event_share = float(weights.max() / total)
    pooled = lead >= 0
    if not pooled.any():
        return TailShares(0.0, -1, 0, event_share)
    ids, inverse, counts = np.unique(lead[pooled], return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=weights[pooled])
    top = int(np.argmax(sums))
    return TailShares(float(sums[top] / total), int(ids[top]), int(counts[top]), event_share)
