"""Occupancy generator: shapes, masks, Poisson statistics, |eta| dependence, determinism, injection."""

import numpy as np
import pytest

from codesign.dqm import data as D


@pytest.fixture(scope="module")
def det():
    return D.Detector(0)


def test_shapes_and_masks(det):
    run = D.generate_run(det, 0, 10, seed=1)
    assert run.events.shape == (10,)
    for r in D.REGIONS:
        m = D.geometry_mask(r)
        assert run.counts[r].shape == (10, *D.SHAPES[r])
        assert np.all(run.counts[r][:, ~m] == 0)
        assert np.all(run.counts[r][:, det.known_bad[r]] == 0)
        assert det.known_bad[r].sum() == det.n_known_bad and not (det.known_bad[r] & ~m).any()
    eb = D.geometry_mask("EB")
    assert not eb[0].any() and not eb[35].any() and eb[1:35].all()
    ee = D.geometry_mask("EE+")
    assert not ee[10:12, 10:12].any() and not ee[0, 0].any() and ee[0, 10] and 200 < ee.sum() < 400


def test_poisson_statistics_and_eta_dependence(det):
    run = D.generate_run(det, 0, 400, seed=2, drift_per_run=0.0)
    for r in D.REGIONS:
        m = D.geometry_mask(r) & ~det.known_bad[r]
        c = run.counts[r][:, m]
        mu = run.events[:, None] * det.rate[r][m] * D.OCC_PER_EVENT
        chi2 = ((c - mu) ** 2 / mu).mean()
        assert 0.9 < chi2 < 1.1, (r, chi2)
        eta, ref = D.abs_eta(r)[m], c.mean(axis=0)
        assert ref[eta > np.median(eta)].mean() > 1.2 * ref[eta <= np.median(eta)].mean()


def test_deterministic(det):
    a, b, c = (D.generate_run(det, 3, 5, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a.counts[r], b.counts[r]) for r in D.REGIONS)
    assert not np.array_equal(a.counts["EB"], c.counts["EB"])
    assert np.array_equal(D.Detector(0).rate["EE-"], det.rate["EE-"])


def test_slow_drift_lowers_high_eta(det):
    early, late = (D.generate_run(det, n, 200, seed=4) for n in (0, 100))
    x0, x1 = (D.normalise(r.counts["EE+"], r.events).mean(axis=0) for r in (early, late))
    eta, m = D.abs_eta("EE+"), D.geometry_mask("EE+") & ~det.known_bad["EE+"]
    ratio = x1[m] / x0[m]
    assert ratio[eta[m] > 2.7].mean() < ratio[eta[m] < 1.7].mean() - 0.05


def test_injection_labels(det):
    counts = D.generate_run(det, 0, 12, seed=5).counts
    out, lab = D.inject(det, "EB", counts["EB"], "missing_sm", seed=1, segment=6)
    rows, cols = np.nonzero(lab[0])
    assert 68 - det.n_known_bad <= lab[0].sum() <= 68
    assert rows.max() - rows.min() == 16 and cols.max() - cols.min() == 3 and cols.min() % 4 == 0
    assert np.all(out[lab] == 0) and np.array_equal(out[~lab], counts["EB"][~lab])
    assert np.array_equal(lab[0], lab[5]) and lab.reshape(2, 6, -1).any(axis=1).sum() >= 2
    out, lab = D.inject(det, "EE-", counts["EE-"], "missing_sector", seed=1)
    assert 15 < lab[0].sum() < 60 and not (lab & ~D.geometry_mask("EE-")).any()
    out, lab = D.inject(det, "EE+", counts["EE+"], "hot_tower", seed=1)
    assert lab.sum(axis=(1, 2)).tolist() == [1] * 12
    assert out[lab].mean() > 3 * counts["EE+"][lab].mean()
    out, lab = D.inject(det, "EB", counts["EB"], "zero_tower", seed=1, segment=12, transient=0.5)
    assert 0 < lab.any(axis=(1, 2)).sum() < 12 and np.all(out[lab] == 0)
    with pytest.raises(ValueError):
        D.inject(det, "EE+", counts["EE+"], "missing_sm", seed=1)
