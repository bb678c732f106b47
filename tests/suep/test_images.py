"""SUEP images: the vectorised builder against a per-candidate loop, on random and edge-case candidates."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data.objects import Collection
from codesign.data.views import suep_ht, suep_images

PIDS = np.array([211, -211, 11, -11, 13, -13, 22, 130])


def _pf(rng: np.random.Generator, n_events: int, per_event: int) -> Collection:
    n = n_events * per_event
    eta = rng.uniform(-3.0, 3.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    edges = np.array([-2.5, 2.5, 2.5 - 1e-9, -2.5 + 1e-9, 0.0, 2.49])  # acceptance edges, last HCAL row
    eta[: len(edges)] = edges
    phi[: 4] = [-np.pi, np.pi, np.pi - 1e-12, 0.0]
    event = rng.integers(0, n_events, n)
    pid = rng.choice(PIDS, n).astype(np.int32)
    return Collection.sorted_by_pt(event, n_events, rng.exponential(5.0, n), eta, phi, pid=pid)


def _reference(pf: Collection, scale: float, n_eta: int, n_phi: int, cell: int) -> np.ndarray:
    """One candidate at a time, with the pixel geometry written out independently."""
    out = np.zeros((pf.n_events, n_eta, n_phi, 3))
    width_eta, width_phi = 5.0 / n_eta, 2 * np.pi / n_phi
    for ev, pt, eta, phi, pid in zip(pf.event_index, pf.pt, pf.eta, pf.phi, pf.extra["pid"]):
        i = int(np.floor((eta + 2.5) / width_eta))
        if not 0 <= i < n_eta:
            continue
        j = int(np.floor(((phi + np.pi) % (2 * np.pi)) / width_phi)) % n_phi
        a = abs(int(pid))
        if a in (11, 13, 211):
            out[ev, i, j, 0] += pt / scale
        if a in (11, 22):
            out[ev, i, j, 1] += pt / scale
        if a in (211, 130):
            rows = range(cell * (i // cell), min(cell * (i // cell + 1), n_eta))
            cols = range(cell * (j // cell), min(cell * (j // cell + 1), n_phi))
            for r in rows:
                for c in cols:
                    out[ev, r, c, 2] += pt / scale / (len(rows) * len(cols))
    return out


@pytest.mark.parametrize("n_eta, n_phi, cell", [(288, 360, 5), (24, 36, 5), (7, 9, 3), (10, 10, 1)])
def test_images_match_a_per_candidate_loop(n_eta, n_phi, cell):
    pf = _pf(np.random.default_rng(n_eta), 5, 300)
    got = suep_images(pf, 10.0, n_eta, n_phi, cell)
    assert got.shape == (5, n_eta, n_phi, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, _reference(pf, 10.0, n_eta, n_phi, cell), rtol=1e-5, atol=1e-6)


def test_channels_conserve_the_et_inside_the_acceptance():
    pf = _pf(np.random.default_rng(1), 3, 500)
    img = suep_images(pf, 1.0)
    inside = (pf.eta >= -2.5) & (pf.eta < 2.5)
    pid = np.abs(pf.extra["pid"])
    for channel, codes in enumerate(((11, 13, 211), (11, 22), (211, 130))):
        m = inside & np.isin(pid, codes)
        want = np.bincount(pf.event_index[m], weights=pf.pt[m], minlength=3)
        np.testing.assert_allclose(img[..., channel].sum(axis=(1, 2)), want, rtol=1e-5)


def test_hcal_cell_is_spread_over_its_pixels():
    pf = Collection.sorted_by_pt(np.array([0, 0]), 1, np.array([25.0, 15.0]), np.array([0.001, 2.499]),
                                 np.array([0.001, 0.001]), pid=np.array([130, 211], np.int32))
    hcal = suep_images(pf, 1.0)[0, ..., 2]
    assert np.count_nonzero(hcal) == 25 + 15  # a full cell and one of the last, 3-pixel-high row
    assert hcal.max() == pytest.approx(1.0) and hcal.sum() == pytest.approx(40.0)
    assert np.all(hcal[285:, 180:185] == pytest.approx(1.0))


def test_ht_sums_central_jets_above_threshold():
    jets = Collection.sorted_by_pt(np.array([0, 0, 0, 1]), 3, np.array([300.0, 30.0, 250.0, 40.0]),
                                   np.array([0.0, 0.0, 2.6, -2.4]), np.zeros(4))
    np.testing.assert_array_equal(suep_ht(jets), [300.0, 40.0, 0.0])
