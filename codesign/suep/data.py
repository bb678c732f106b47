"""SUEP samples: generation through `codesign data generate`, the HT > 500 GeV preselection, and the
288 x 360 x 3 images built batch by batch from the stored PF candidates (never stored dense)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.data.objects import Collection
from codesign.data.views import suep_ht, suep_images
from codesign.errors import CodesignError
from codesign.metrics.stats import Estimate, fraction


@dataclass(frozen=True)
class ImageSpec:
    """The card's `images`: grid, HCAL cell, the ET scale that makes pixels O(1), the HT cut."""

    n_eta: int = 288
    n_phi: int = 360
    hcal_cell: int = 5
    eta_max: float = 2.5
    scale_gev: float = 10.0
    ht_min_gev: float = 500.0
    ht_jet_min_pt_gev: float = 30.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_eta, self.n_phi, 3)

    def images(self, pf: Collection) -> np.ndarray:
        return suep_images(pf, self.scale_gev, self.n_eta, self.n_phi, self.hcal_cell, self.eta_max)


@dataclass
class Sample:
    """The events of one process that pass the preselection: their PF candidates and weights."""

    name: str
    pf: Collection  # selected events only
    weights: np.ndarray  # (n,) generator weights of the selected events
    selection: Estimate  # HT-preselection efficiency (weighted, 68% interval)
    generated: int

    @property
    def n(self) -> int:
        return self.pf.n_events

    def batches(self, spec: ImageSpec, batch_size: int) -> Iterator[np.ndarray]:
        """The images of all events in order, `batch_size` at a time."""
        for start in range(0, self.n, batch_size):
            yield spec.images(self.pf.take(np.arange(start, min(start + batch_size, self.n))))


def load(process: str, events: int, seed: int, pileup: float, pool_events: int, spec: ImageSpec,
         jobs: int = 2, progress: bool = True) -> Sample:
    """Generate (or take from the cache) a sample and keep the events with HT > `spec.ht_min_gev` (Level-1 jets
    above `spec.ht_jet_min_pt_gev` in the image's |eta| range)."""
    import tempfile

    from codesign.data import GenerationRequest, generate
    from codesign.data.rootio import read_events

    request = GenerationRequest(process, events, pileup=pileup, seed=seed, pool_events=pool_events)
    with tempfile.TemporaryDirectory() as tmp:
        path, _ = generate(request, Path(tmp) / f"{process}.root", jobs=jobs, progress=progress)
        stored = read_events(path, parts=("jet", "pf"))
    pf, weights = stored.pf, stored.weight
    passed = suep_ht(stored.jet, spec.ht_jet_min_pt_gev, spec.eta_max) > spec.ht_min_gev
    if not passed.any():
        raise CodesignError(f"no {process} event of {events} passes HT > {spec.ht_min_gev:g} GeV; "
                            "generate more events (--signal-events / --test-events / --train-events)")
    rows = np.flatnonzero(passed)
    return Sample(process, pf.take(rows), weights[rows], fraction(passed, weights), events)
