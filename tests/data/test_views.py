"""Trigger views on hand-made events: layouts, hardware units, sorting, padding, saturation."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data import views
from codesign.data.objects import Collection, Events


def _collection(per_event: list[list[tuple[float, float, float]]], **extra) -> Collection:
    event = np.repeat(np.arange(len(per_event)), [len(e) for e in per_event])
    rows = np.array([obj for e in per_event for obj in e], dtype=float).reshape(-1, 3)
    return Collection.sorted_by_pt(event, len(per_event), rows[:, 0], rows[:, 1], rows[:, 2], **extra)


def _events(egamma=None, muon=None, jet=None, tau=None, met=((0.0, 0.0),), regions=None) -> Events:
    n = len(met)
    empty = [[] for _ in range(n)]
    return Events(
        egamma=_collection(egamma or empty),
        muon=_collection(muon or empty),
        jet=_collection(jet or empty),
        tau=_collection(tau or empty),
        pf=_collection(empty, dxy=np.zeros(0), dxysig=np.zeros(0), pid=np.zeros(0, np.int32)),
        met_pt=np.array([m[0] for m in met]),
        met_phi=np.array([m[1] for m in met]),
        regions=np.zeros((n, 18, 14)) if regions is None else regions,
        n_pileup=np.zeros(n, np.int32),
    )


def test_axol1tl_layout_units_sorting_and_padding():
    ev = _events(
        egamma=[[(12.3, 0.5, 0.1), (300.0, -1.0, -0.1)]],
        muon=[[(5.26, 2.0, np.pi - 1e-6)]],
        jet=[[(30.0 + i, 0.0, 0.0) for i in range(12)]],
        met=[(45.7, -np.pi / 2)],
    )
    x = views.axol1tl(ev)
    assert x.shape == (1, 57) and x.dtype == np.float32
    # MET: pT on the 0.5 GeV grid, eta fixed to 0, phi as one of 144 bins counted from 0
    assert x[0, 0] == 45.5 and x[0, 1] == 0.0 and x[0, 2] == 108  # -pi/2 -> 3 pi / 2 -> bin 108
    # e/gamma sorted by pT; 300 GeV saturates the 9-bit word at 255.5 GeV; eta in 0.0435 bins
    assert x[0, 3] == 255.5 and x[0, 4] == np.floor(-1.0 / 0.0435)
    assert x[0, 6] == 12.0 and x[0, 7] == np.floor(0.5 / 0.0435) and x[0, 8] == np.floor(0.1 / (2 * np.pi / 144))
    assert np.all(x[0, 9:15] == 0)  # two e/gamma slots zero-padded
    # muons: eta in 0.010875 bins, phi in 576 bins
    assert x[0, 15] == 5.0 and x[0, 16] == np.floor(2.0 / 0.010875) and x[0, 17] == 287
    assert np.all(x[0, 18:27] == 0)
    # jets: the 10 hardest of 12, in decreasing pT
    jet_pt = x[0, 27::3]
    assert list(jet_pt) == [41.0 - i for i in range(10)]


def test_axol1tl_jet_and_met_saturation():
    ev = _events(jet=[[(5000.0, 0.0, 0.0)]], met=[(5000.0, 0.0)])
    x = views.axol1tl(ev)
    assert x[0, 27] == 1023.5  # 11-bit jet pT
    assert x[0, 0] == 2047.5  # 12-bit MET


def test_gelato_layout():
    ev = _events(
        jet=[[(50.0, 1.0, 1.0)] * 7],
        tau=[[(25.05, -0.5, 3.0)]],
        muon=[[(10.4, 0.3, -3.0)]],
        met=[(33.3, 1.0)],
    )
    x = views.gelato(ev)
    assert x.shape == (1, 44)
    assert list(x[0, 0:18:3]) == [50.0] * 6  # six jets kept of seven
    assert x[0, 1] == np.floor(1.0 / 0.025) and x[0, 2] == np.floor(1.0 / (2 * np.pi / 128))
    assert x[0, 18] == pytest.approx(25.0) and x[0, 21] == 0  # one tau, padded
    assert x[0, 30] == 10.0  # muons in 1 GeV steps
    assert x[0, 42] == pytest.approx(33.2) and x[0, 43] == np.floor(1.0 / (2 * np.pi / 128))
    # the TOB fields: ET in integer counts of each object's LSB (0.2 GeV jets and MET, 0.1 GeV taus, 1 GeV
    # muons), angles unchanged
    tob = views.gelato_tob(x)
    assert list(tob[0, 0:18:3]) == [250.0] * 6 and tob[0, 18] == 250 and tob[0, 30] == 10 and tob[0, 42] == 166
    angles = np.ones(44, bool)
    angles[[column for column, _ in views.GELATO_ET_COLUMNS]] = False
    assert np.array_equal(tob[0, angles], x[0, angles]) and angles.sum() == 29


def test_cicada_regions_are_10_bit_counts_of_half_gev():
    regions = np.zeros((2, 18, 14))
    regions[0, 3, 7] = 1.26
    regions[1, 17, 13] = 10_000.0
    x = views.cicada(_events(met=[(0, 0), (0, 0)], regions=regions))
    assert x.dtype == np.uint16 and x.shape == (2, 18, 14)
    assert x[0, 3, 7] == 2 and x[1, 17, 13] == 1023 and x.sum() == 1025


def test_suep_image_channels_hold_the_candidates_pt():
    pf = _collection(
        [[(10.0, 0.0, 0.0), (5.0, 1.0, 1.0), (3.0, -1.0, 2.0), (2.0, 3.0, 0.0)]],
        dxy=np.zeros(4),
        dxysig=np.zeros(4),
        pid=np.array([211, 22, 130, 211]),  # after pT sorting: 211, 22, 130, 211 (last outside |eta| < 2.5)
    )
    img = views.suep_images(pf, n_eta=32, n_phi=32)
    assert img.shape == (1, 32, 32, 3)
    assert img[..., 0].sum() == pytest.approx(10.0)  # tracker: the charged hadron inside the acceptance
    assert img[..., 1].sum() == pytest.approx(5.0)  # ECAL: the photon
    assert img[..., 2].sum() == pytest.approx(13.0)  # HCAL: charged + neutral hadron
