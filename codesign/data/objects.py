"""Event-level containers of reconstructed objects, in physical units (GeV, eta, phi in rad)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class Collection:
    """A jagged, pT-sorted collection (e/gamma, muons, jets, taus, PF candidates) of a batch."""

    counts: np.ndarray  # (n_events,) int64
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    extra: dict[str, np.ndarray]  # further per-object columns, e.g. dxy for PF candidates

    @classmethod
    def sorted_by_pt(
        cls, event: np.ndarray, n_events: int, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
        **extra: np.ndarray,
    ) -> Collection:
        """Group objects by `event` (any order) and sort each event's objects by decreasing pT."""
        order = np.lexsort((-pt, event))
        counts = np.bincount(event, minlength=n_events).astype(np.int64)
        return cls(counts, pt[order], eta[order], phi[order], {k: v[order] for k, v in extra.items()})

    @property
    def n_events(self) -> int:
        return len(self.counts)

    @property
    def event_index(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_events), self.counts)

    @property
    def rank(self) -> np.ndarray:
        """Position of every object inside its event (0 = leading)."""
        starts = np.cumsum(self.counts) - self.counts
        return np.arange(len(self.pt)) - np.repeat(starts, self.counts)

    def columns(self) -> dict[str, np.ndarray]:
        return {"pt": self.pt, "eta": self.eta, "phi": self.phi, **self.extra}

    def as_float32(self) -> Collection:
        """The collection with its kinematics rounded to float32, as stored on disk."""
        return Collection(
            self.counts, *(getattr(self, k).astype(np.float32) for k in ("pt", "eta", "phi")), self.extra
        )

    def take(self, rows: np.ndarray) -> Collection:
        """The objects of events `rows` (increasing event indices), in that order."""
        keep = np.repeat(np.isin(np.arange(self.n_events), rows), self.counts)
        return Collection(self.counts[rows], self.pt[keep], self.eta[keep], self.phi[keep],
                          {k: v[keep] for k, v in self.extra.items()})

    @staticmethod
    def concatenate(parts: list[Collection]) -> Collection:
        return Collection(
            np.concatenate([p.counts for p in parts]),
            *(np.concatenate([getattr(p, name) for p in parts]) for name in ("pt", "eta", "phi")),
            {k: np.concatenate([p.extra[k] for p in parts]) for k in parts[0].extra},
        )


#: The L1 object collections every event carries, with the PF-like candidates of the HLT view.
COLLECTIONS = ("egamma", "muon", "jet", "tau", "pf")


@dataclass
class Events:
    """Everything the trigger views are built from, for a batch of events."""

    egamma: Collection
    muon: Collection
    jet: Collection
    tau: Collection
    pf: Collection  # extra columns: dxy (cm), dxysig, pid (PF-like PDG code)
    met_pt: np.ndarray  # calorimeter missing transverse energy, GeV
    met_phi: np.ndarray
    regions: np.ndarray  # (n, 18 phi, 14 eta) calorimeter region ET, GeV
    n_pileup: np.ndarray  # (n,) number of overlaid pileup interactions
    #: (n,) fraction of the sample's population (crossings for zero bias) each event stands for; uniform if not given
    weight: np.ndarray | None = None
    #: (n,) p̂T of the generated hard interaction, GeV (0 for a soft zero-bias crossing and when not given)
    pthat: np.ndarray | None = None
    #: (n,) the pool interaction that is the hardest of the crossing (highest particle pT), or -1 when that
    #: is an interaction generated for this event only: shows whether reused pileup shapes a tail
    lead_interaction: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.met_pt)
        if self.lead_interaction is None:
            self.lead_interaction = np.full(n, -1, np.int64)
        if self.weight is None:
            self.weight = np.full(n, 1.0 / max(n, 1))
        if self.pthat is None:
            self.pthat = np.zeros(n)

    @property
    def n_events(self) -> int:
        return len(self.met_pt)

    def as_float32(self) -> Events:
        """The events as stored on disk (float32 kinematics), so views built before writing
        equal views rebuilt after reading, bit for bit."""
        values = {f.name: getattr(self, f.name) for f in fields(Events)}
        for name in ("egamma", "muon", "jet", "tau", "pf"):
            values[name] = values[name].as_float32()
        for name in ("met_pt", "met_phi", "regions"):
            values[name] = values[name].astype(np.float32)
        return Events(**values)

    def take(self, rows: np.ndarray) -> Events:
        """Events `rows` (increasing indices); the weights are kept as they are (rescale them for a subsample)."""
        values = {f.name: getattr(self, f.name) for f in fields(Events)}
        return Events(**{k: v.take(rows) if isinstance(v, Collection) else v[rows] for k, v in values.items()})

    @staticmethod
    def concatenate(parts: list[Events]) -> Events:
        values = {}
        for f in fields(Events):
            items = [getattr(p, f.name) for p in parts]
            values[f.name] = (
                Collection.concatenate(items) if isinstance(items[0], Collection) else np.concatenate(items)
            )
        return Events(**values)
