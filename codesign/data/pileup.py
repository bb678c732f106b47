"""Pileup by overlaying minimum-bias events drawn from a cached pool.

Generating pileup on the fly costs ~60 inelastic events per bunch crossing (~11 events/s at mu=60);
drawing them from a pool of pre-generated minimum-bias events, each rotated by a random phi, is
~7x faster and statistically equivalent as long as the pool is much larger than mu.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from codesign.data.particles import Particles


class PileupOverlay:
    """Adds Poisson(mu) minimum-bias events from `pool` to every event of a batch."""

    def __init__(self, pool: Particles, mu: float, rng: np.random.Generator) -> None:
        if mu < 0:
            raise ValueError(f"pileup mean must be >= 0, got {mu}")
        if pool.n_events == 0:
            raise ValueError("the minimum-bias pool is empty")
        self.pool = pool
        self.mu = mu
        self._rng = rng
        self._offsets = np.concatenate([[0], np.cumsum(pool.counts)])

    def __call__(self, events: Particles) -> tuple[Particles, np.ndarray]:
        """The events with pileup added, and the number of pileup interactions of each."""
        n_pileup = self._rng.poisson(self.mu, size=events.n_events)
        drawn = self._rng.integers(0, self.pool.n_events, size=int(n_pileup.sum()))
        rotation = self._rng.uniform(-np.pi, np.pi, size=len(drawn))
        # gather the particles of all drawn pool events without a Python loop
        sizes = self.pool.counts[drawn]
        starts = np.repeat(self._offsets[drawn], sizes)
        within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        index = starts + within
        columns = {f.name: getattr(self.pool, f.name)[index] for f in fields(Particles)[1:]}
        columns["phi"] = _wrap_phi(columns["phi"] + np.repeat(rotation, sizes))
        columns["is_pileup"] = np.ones(len(index), dtype=bool)
        per_event = np.bincount(
            np.repeat(np.repeat(np.arange(events.n_events), n_pileup), sizes),
            minlength=events.n_events,
        ).astype(np.int64)
        pileup = Particles(counts=per_event, **columns)
        return Particles.merge(events, pileup), n_pileup


def _wrap_phi(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2 * np.pi) - np.pi
