"""Final-state particles as flat, event-ordered numpy columns.

All stages between the generator and the trigger views exchange one :class:`Particles` batch:
columns of equal length for all particles of all events, plus the per-event counts.  Flat columns
keep every detector step a vectorised numpy operation (no per-event Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: Neutrinos and the stable invisible particles of the dark sectors leave no trace in the detector.
INVISIBLE_PDG = (12, 14, 16, 1000022, 4900211, 4900213, 4900101, 4900021, 51, 52, 53)


@dataclass
class Particles:
    """Particles of a batch of events; every column has one entry per particle."""

    counts: np.ndarray  # (n_events,) int64
    pt: np.ndarray  # GeV
    eta: np.ndarray
    phi: np.ndarray  # (-pi, pi]
    mass: np.ndarray  # GeV
    pid: np.ndarray  # PDG id, int32
    charge: np.ndarray  # units of e, int8
    dxy: np.ndarray  # transverse impact parameter w.r.t. the beam line, cm
    is_pileup: np.ndarray  # bool

    @property
    def n_events(self) -> int:
        return len(self.counts)

    @property
    def event_index(self) -> np.ndarray:
        """Index of the event each particle belongs to."""
        return np.repeat(np.arange(self.n_events), self.counts)

    def select(self, mask: np.ndarray) -> Particles:
        """Keep the particles where `mask` is true."""
        counts = np.bincount(self.event_index[mask], minlength=self.n_events).astype(np.int64)
        return Particles(counts, *(getattr(self, f.name)[mask] for f in fields(self)[1:]))

    def slice_events(self, start: int, stop: int) -> Particles:
        """Events `start` to `stop` (exclusive) of the batch."""
        offsets = np.concatenate([[0], np.cumsum(self.counts)])
        lo, hi = offsets[start], offsets[min(stop, self.n_events)]
        return Particles(self.counts[start:stop], *(getattr(self, f.name)[lo:hi] for f in fields(self)[1:]))

    @staticmethod
    def merge(first: Particles, second: Particles) -> Particles:
        """Per event, the particles of `first` followed by those of `second`."""
        if first.n_events != second.n_events:
            raise ValueError("cannot merge particle batches with different numbers of events")
        counts = first.counts + second.counts
        order = np.argsort(
            np.concatenate([first.event_index, second.event_index]), kind="stable"
        )
        columns = (
            np.concatenate([getattr(first, f.name), getattr(second, f.name)])[order]
            for f in fields(first)[1:]
        )
        return Particles(counts, *columns)

    @staticmethod
    def concatenate(batches: list[Particles], consume: bool = False) -> Particles:
        """Events of all `batches`, one batch after the other.  With `consume` each column of the batches is
        released once copied (the batches are left without it): the peak holds one column twice, not every one."""
        columns = []
        for f in fields(Particles):
            columns.append(np.concatenate([getattr(b, f.name) for b in batches]))
            if consume:
                for b in batches:
                    setattr(b, f.name, None)
        return Particles(*columns)

    def px(self) -> np.ndarray:
        return self.pt * np.cos(self.phi)

    def py(self) -> np.ndarray:
        return self.pt * np.sin(self.phi)
