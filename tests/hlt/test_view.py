"""The `hlt` view against a per-event reference loop; augmentations; the HLT processes' physics (dxy, weights)."""

import numpy as np

from codesign.data import read_events, read_weights
from codesign.data.objects import Collection
from codesign.data.views import HLT_PID_CODES, hlt
from codesign.hlt.model import augment
from codesign.zoo import zoo_names


def _reference(pf: Collection, n: int) -> np.ndarray:
    """One event at a time, in plain Python: sort by pT, keep n, code the PDG id."""
    out = np.zeros((pf.n_events, n, 6), np.float32)
    start = 0
    for event, count in enumerate(pf.counts):
        rows = list(range(start, start + count))
        start += count
        rows.sort(key=lambda r: -pf.pt[r])
        for slot, r in enumerate(rows[:n]):
            pid = int(pf.extra["pid"][r])
            code = HLT_PID_CODES.get(abs(pid), 0) * (1 if pid > 0 else -1)
            out[event, slot] = (pf.pt[r], pf.eta[r], pf.phi[r], pf.extra["dxy"][r], pf.extra["dxysig"][r], code)
    return out


def test_view_matches_a_per_event_loop_on_unsorted_candidates():
    rng = np.random.default_rng(3)
    counts = np.array([0, 1, 5, 12, 40, 3])
    total = counts.sum()
    pid = rng.choice([11, -11, 13, -13, 211, -211, 22, 130, 2112], total)  # 2112: an id without a code
    pf = Collection(counts, rng.exponential(5, total) + 0.5, rng.normal(0, 2, total), rng.uniform(-3, 3, total),
                    {"dxy": rng.normal(0, 0.1, total), "dxysig": rng.normal(0, 3, total), "pid": pid})
    for n in (1, 8, 64):
        view, mask = hlt(pf, n)
        assert view.shape == (6, n, 6) and view.dtype == np.float32
        np.testing.assert_array_equal(view, _reference(pf, n))
        np.testing.assert_array_equal(mask.sum(1), np.minimum(counts, n))
        assert np.all(view[~mask] == 0) and np.all(np.diff(view[..., 0], axis=1) <= 0)


def test_augment_keeps_events_sorted_and_only_removes_candidates():
    rng = np.random.default_rng(0)
    x = np.zeros((50, 32, 6), np.float32)
    x[:, :20, 0] = -np.sort(-rng.exponential(5, (50, 20)), axis=1) + 1
    x[:, :20, 1:] = rng.normal(size=(50, 20, 5))
    aug = augment(x, rng, {"drop": 0.2, "eta_shift": 0.05, "pt_smear": 0.05})
    kept = (aug[..., 0] > 0).sum(1)
    assert np.all(kept <= 20) and 10 < kept.mean() < 19
    assert np.all(np.diff(aug[..., 0], axis=1) <= 0) and np.all(aug[aug[..., 0] == 0] == 0)
    assert np.all(np.abs(aug[..., 2]) <= np.pi + 1e-6)
    np.testing.assert_array_equal(np.sort(aug[..., 5][aug[..., 0] > 0]).size, kept.sum())


def test_emerging_jets_have_displaced_tracks(sample):
    def large_dxy_share(process):
        pf = read_events(sample(process), parts=("pf",)).pf
        charged = np.isin(np.abs(pf.extra["pid"]), (11, 13, 211))
        return np.mean(np.abs(pf.extra["dxy"][charged]) > 0.1)  # 1 mm

    assert large_dxy_share("emerging_jets") > 5 * large_dxy_share("dy_ll") + 0.05  # prompt: K0s, Lambda only


def test_biased_qcd_weights_follow_pythia_bias(sample):
    path = sample("qcd_biased")
    weights, pthat = read_weights(path), read_events(path, parts=()).pthat
    assert np.isclose(weights.sum(), 1.0) and pthat.min() >= 15.0
    ratio = weights * pthat**4  # bias2Selection with power 4: weight ~ pT-hat^-4 inside a chunk
    np.testing.assert_allclose(ratio, np.median(ratio), rtol=0.06)  # heavy-quark processes: massive pT-hat
    assert np.mean(np.isclose(ratio, np.median(ratio), rtol=1e-4)) > 0.8
    assert np.ptp(pthat) > 30.0


def test_cpu_models_are_not_level1_zoo_models():
    assert "hlt" not in zoo_names() and "axol1tl" in zoo_names()
