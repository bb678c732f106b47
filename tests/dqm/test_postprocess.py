"""Corrections, threshold, FDR, baseline, flag counter and table on hand-made maps."""

import json

import numpy as np
import pytest

from codesign.dqm import postprocess as P


def test_spatial_correction_flattens_eta_bias():
    ref = np.linspace(1, 5, 8)[:, None] * np.ones((8, 4))
    loss = 0.7 * ref  # same relative anomaly everywhere, biased by occupancy
    out = P.spatial_correction(loss, ref)
    assert np.allclose(out, 0.7)
    assert np.isfinite(P.spatial_correction(loss, np.zeros_like(ref))).all()


def test_time_correction_keeps_persistent_suppresses_transient():
    loss = np.full((4, 3, 3), 0.5)
    loss[:, 0, 0] = 2.0  # persistent anomaly
    loss[1, 2, 2] = 5.0  # single-LS fluctuation
    out = P.time_correction(loss)
    assert out.shape == (2, 3, 3)
    assert np.allclose(out[:, 0, 0], 8.0) and np.allclose(out[:, 2, 2], 1.25)
    assert np.allclose(out[:, 1, 1], 0.125)
    with pytest.raises(ValueError):
        P.time_correction(loss[:2])


def test_threshold_and_fdr_hand_example():
    scores = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5], float)
    labels = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0], bool)
    thr = P.threshold_at_efficiency(scores, labels, 0.99)
    assert thr == 6  # all anomalous towers above
    # flagged: 9, 8, 7, 6 -> one good of four
    assert P.fdr(scores, labels, thr) == pytest.approx(0.25)
    assert P.fdr(scores, labels, 100.0) == 0.0
    assert P.fdr(scores, labels, thr, valid=np.arange(10) != 2) == 0.0


def test_eta_ring_baseline():
    x = np.ones((2, 3, 4))
    x[0, 1, 2] = 5.0
    mask = np.ones((3, 4), bool)
    b = P.eta_ring_baseline(x, mask)
    assert b[0, 1, 2] == pytest.approx(3.0) and b[0, 1, 0] == pytest.approx(1.0)
    assert np.allclose(b[0, [0, 2]], 0) and np.allclose(b[1], 0)


def test_method_scores_alignment():
    x = np.ones((5, 3, 4), np.float32)
    s = P.method_scores(x, x * 0.5, np.ones((3, 4)), np.ones((3, 4), bool))
    assert set(s) == set(P.METHODS) and all(v.shape == (3, 3, 4) for v in s.values())
    assert np.allclose(s["AE + spatial + time"], 0.25 ** 3)


def test_flag_counter_accumulates(tmp_path):
    c = P.FlagCounter({"EB": (2, 2)})
    c.update({"EB": np.array([[1, 0], [0, 0]], bool)})
    c.update({"EB": np.array([[1, 1], [0, 0]], bool)})
    assert np.allclose(c.frequency()["EB"], [[1, 0.5], [0, 0]])
    c.save(tmp_path / "f.npz")
    c.save(tmp_path / "f.npz")
    with np.load(tmp_path / "f.npz") as f:
        assert int(f["n_ls"]) == 4 and f["EB"][0, 0] == 4


def test_table_files(tmp_path):
    cols = ["EB missing_sm", "EE+ hot_tower"]
    table = {m: {"EB missing_sm": 1.5, "EE+ hot_tower": None if m.startswith("Base") else 0.001} for m in P.METHODS}
    md, js = P.write_table(table, cols, tmp_path)
    text = md.read_text()
    assert all(m in text for m in P.METHODS) and "< 0.01" in text and "–" in text
    assert json.loads(js.read_text())["columns"] == cols


def test_zero_fdr_shows_resolution():
    table = {m: {"EB hot_tower": 0.0} for m in P.METHODS}
    text = P.format_table(table, ["EB hot_tower"], {m: {"EB hot_tower": 200} for m in P.METHODS})
    assert "0 (< 0.5)" in text
