"""Hand-made Level-1 events with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data.objects import Collection, Events
from codesign.data.rootio import PF_EXTRA


def collection(n: int, objects=(), **extra_columns) -> Collection:
    """A collection from (event, pt, eta[, phi]) tuples; `extra_columns` give one value per object."""
    rows = np.array([(o[0], o[1], o[2], o[3] if len(o) > 3 else 0.0) for o in objects], np.float64).reshape(-1, 4)
    extra = {k: np.asarray(v) for k, v in extra_columns.items()}
    return Collection.sorted_by_pt(rows[:, 0].astype(np.int64), n, rows[:, 1], rows[:, 2], rows[:, 3], **extra)


def build_events(n: int, egamma=(), muon=(), jet=(), tau=(), met=None, egamma_iso=None, tau_iso=None) -> Events:
    """Events with the given objects; `*_iso` give the isolation column (one int8 per object; all isolated
    when not given, as the generator always writes the column; False: no column, as in a foreign file)."""
    def iso(values, objects) -> dict:
        if values is False:
            return {}
        return {"iso": np.ones(len(objects), np.int8) if values is None else np.asarray(values, np.int8)}

    pf = Collection(np.zeros(n, np.int64), *(np.zeros(0),) * 3, {k: np.zeros(0) for k in PF_EXTRA})
    return Events(
        egamma=collection(n, egamma, **iso(egamma_iso, egamma)), muon=collection(n, muon), jet=collection(n, jet),
        tau=collection(n, tau, **iso(tau_iso, tau)), pf=pf,
        met_pt=np.zeros(n) if met is None else np.asarray(met, np.float64), met_phi=np.zeros(n),
        regions=np.zeros((n, 18, 14)), n_pileup=np.zeros(n, np.int32),
    )


@pytest.fixture
def make_events():
    return build_events
