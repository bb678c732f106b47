"""Physics sanity of the generated samples: each check compares processes and can fail."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data import PROCESSES, read_view
from codesign.data.objects import Collection
from tests.conftest import SAMPLE_EVENTS, TEST_PILEUP

CHARGED_PF = (11, 13, 211)


def _charged(pf: Collection) -> np.ndarray:
    return np.isin(np.abs(pf.extra["pid"]), CHARGED_PF)


def _per_event(collection: Collection, mask: np.ndarray) -> np.ndarray:
    return np.bincount(collection.event_index[mask], minlength=collection.n_events)


def _transverse_sphericity(pf: Collection) -> np.ndarray:
    """Per event, 2 x the smaller eigenvalue of the charged tracks' transverse momentum tensor."""
    ch, ev, n = _charged(pf), pf.event_index, pf.n_events
    px, py = pf.pt * np.cos(pf.phi), pf.pt * np.sin(pf.phi)
    sxx, syy, sxy = (np.bincount(ev[ch], w[ch], n) for w in (px * px, py * py, px * py))
    trace = np.maximum(sxx + syy, 1e-9)
    smaller = (trace - np.sqrt(np.maximum(trace**2 - 4 * (sxx * syy - sxy**2), 0))) / 2
    return 2 * smaller / trace


def _leading_lepton(x: np.ndarray) -> np.ndarray:
    return np.maximum(x[:, 3], x[:, 15])  # leading e/gamma and muon pT of the AXOL1TL view


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_process_gives_sorted_padded_finite_views(sample, process):
    path = sample(process)
    x = read_view(path, "axol1tl")
    assert x.shape == (SAMPLE_EVENTS, 57) and np.all(np.isfinite(x))
    for first, k in ((3, 4), (15, 4), (27, 10)):  # e/gamma, muon, jet blocks
        pt = x[:, first : first + 3 * k : 3]
        assert np.all(np.diff(pt, axis=1) <= 0), "objects not sorted by decreasing pT"
        padded = pt == 0
        assert np.all(x[:, first + 1 : first + 3 * k : 3][padded] == 0), "padding is not all zero"
    g = read_view(path, "gelato")
    assert g.shape == (SAMPLE_EVENTS, 44) and np.all(np.isfinite(g))
    c = read_view(path, "cicada")
    assert c.shape == (SAMPLE_EVENTS, 18, 14) and c.max() <= 1023


def test_zprime_leptons_are_far_harder_than_qcd(sample):
    zprime = _leading_lepton(read_view(sample("zprime_ll"), "axol1tl"))
    qcd = _leading_lepton(read_view(sample("qcd"), "axol1tl"))
    assert np.median(zprime) > 100 and np.median(qcd) < 10
    assert np.mean(zprime > 50) > 0.8


def test_wprime_to_tau_nu_has_large_met(events):
    assert np.median(events("wprime_taunu").met_pt) > 100
    assert np.median(events("qcd").met_pt) < 40


def _isolated_taus(tau: Collection, min_pt: float = 20.0) -> float:
    return _per_event(tau, (tau.extra["iso"] == 1) & (tau.pt > min_pt)).mean()


def test_tau_signals_have_more_isolated_taus_than_qcd(events):
    qcd = _isolated_taus(events("qcd").tau)
    for process in ("h125_tautau", "zprime_tautau", "lq80_btau"):
        assert _isolated_taus(events(process).tau) > 2.0 * qcd, process


def test_hidden_valley_dark_mesons_give_muons(events):
    assert events("hidden_valley").muon.counts.mean() > 2.0
    assert events("qcd").muon.counts.mean() < 0.2


def test_suep_is_many_soft_isotropic_tracks(events):
    suep, qcd = events("suep").pf, events("qcd").pf
    assert _per_event(suep, _charged(suep)).mean() > 1.4 * _per_event(qcd, _charged(qcd)).mean()
    assert _transverse_sphericity(suep).mean() > _transverse_sphericity(qcd).mean() + 0.1


def test_b_and_tau_decays_give_displaced_tracks(events):
    def displaced_per_event(pf: Collection) -> float:
        return _per_event(pf, _charged(pf) & (np.abs(pf.extra["dxysig"]) > 5)).mean()

    assert displaced_per_event(events("lq80_btau").pf) > 1.5 * displaced_per_event(events("qcd").pf)


def test_pileup_overlay_and_subtraction(events):
    clean, piled = events("minbias"), events("minbias", TEST_PILEUP)
    assert np.all(clean.n_pileup == 0)
    assert piled.n_pileup.mean() == pytest.approx(TEST_PILEUP, abs=1.0)
    assert np.var(piled.n_pileup) == pytest.approx(TEST_PILEUP, rel=0.35)  # Poisson
    assert piled.regions.sum(axis=(1, 2)).mean() > 10 * clean.regions.sum(axis=(1, 2)).mean()
    # the chunky-donut subtraction keeps pileup from filling the event with hard jets
    assert _per_event(piled.jet, piled.jet.pt > 30).mean() < 0.5
    # pileup tracks are removed (charged-hadron subtraction), pileup neutrals stay
    assert _per_event(piled.pf, _charged(piled.pf)).mean() < 2 * _per_event(clean.pf, _charged(clean.pf)).mean() + 5
