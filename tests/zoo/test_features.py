"""The AXOL1TL feature layout, scaling fitted to it (no present angle ever saturates), and the card's
scaling round trip with negative shifts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from codesign.data.views import AXOL1TL_LAYOUT, UGT_FORMATS
from codesign.errors import CodesignError
from codesign.fixed.scaling import saturated_fraction
from codesign.fixed.trigger import MAX_SHIFT, InputScaling
from codesign.zoo import load_card
from codesign.zoo.card import models_dir
from codesign.zoo.features import view_features

FEATURES = view_features("axol1tl")
ANGLES = np.array([f.name.endswith(("_eta", "_phi")) for f in FEATURES])
# mean number of objects per event and (pT threshold, mean pT above it) in GeV, zero-bias-like;
# the 4th e/gamma is never filled, so its scaling must come from the hardware range
OCCUPANCY = {"egamma": (0.8, 3.0, 4.0), "muon": (0.3, 2.5, 1.5), "jet": (4.0, 8.0, 15.0)}


def synthetic(n: int, rng: np.random.Generator, edges: bool = False) -> np.ndarray:
    """(n, 57) AXOL1TL raw inputs in hardware units: pT-sorted, zero-padded slots, eta and phi uniform
    over the whole hardware range of their bins (only at the range's two ends with `edges`)."""
    raw = np.zeros((n, len(FEATURES)))
    raw[:, 0] = np.floor(rng.exponential(18, n) * 2) / 2
    raw[:, 2] = rng.integers(0, UGT_FORMATS["met"].phi_bins, n)
    column = 3
    for kind, slots in AXOL1TL_LAYOUT:
        mean, threshold, scale = OCCUPANCY[kind]
        filled = np.minimum(rng.poisson(mean, n), slots - 1 if kind == "egamma" else slots)
        pt = -np.sort(-(threshold + rng.exponential(scale, (n, slots))), axis=1)
        for slot in range(slots):
            on = filled > slot
            eta, phi = FEATURES[column + 1], FEATURES[column + 2]
            raw[on, column] = np.floor(pt[on, slot] * 2) / 2
            if edges:
                raw[on, column + 1] = rng.choice([eta.low, eta.high], on.sum())
                raw[on, column + 2] = rng.choice([phi.low, phi.high], on.sum())
            else:
                raw[on, column + 1] = rng.integers(int(eta.low), int(eta.high), on.sum(), endpoint=True)
                raw[on, column + 2] = rng.integers(int(phi.low), int(phi.high), on.sum(), endpoint=True)
            column += 3
    return raw


@pytest.fixture(scope="module")
def scaling() -> InputScaling:
    card = load_card("axol1tl")
    return InputScaling.from_data(synthetic(20_000, np.random.default_rng(0)), card.format(card.data["inputs"]["raw_format"]),
                                  card.format(card.data["inputs"]["network_format"]), card.features())


@pytest.fixture(scope="module")
def net_format():
    card = load_card("axol1tl")
    return card.format(card.data["inputs"]["network_format"])


def test_layout_follows_the_view():
    assert len(FEATURES) == 57 == load_card("axol1tl").data["inputs"]["size"]
    assert [f.name for f in FEATURES[:6]] == ["met_pt", "met_eta", "met_phi", "egamma1_pt", "egamma1_eta", "egamma1_phi"]
    assert FEATURES[-1].name == "jet10_phi" and FEATURES[-1].high == UGT_FORMATS["jet"].phi_bins - 1
    assert all(FEATURES[i].presence is None for i in range(3))
    assert all(FEATURES[i].presence == i - i % 3 for i in range(3, 57))
    assert [f.name for f in FEATURES if not f.from_range] == [f.name for f in FEATURES if f.name.endswith("_pt")]
    muon_eta = FEATURES[16]
    assert muon_eta.name == "muon1_eta" and muon_eta.low == -226 and muon_eta.high == 225  # 2.45 / 0.010875


def test_no_present_angle_saturates(scaling, net_format):
    rng = np.random.default_rng(1)
    for edges in (False, True):
        fractions = saturated_fraction(scaling, synthetic(20_000, rng, edges=edges), net_format, FEATURES)
        filled = ~np.isnan(fractions)
        assert filled[ANGLES].sum() == ANGLES.sum() - 2  # all but the never-filled 4th e/gamma
        assert np.all(fractions[ANGLES & filled] == 0)
        if not edges:  # an independent sample from the training distribution: pT saturates rarely
            assert np.nanmax(fractions[~ANGLES]) < 0.02


def test_scaling_fits_the_slots(scaling):
    names = [f.name for f in FEATURES]
    offsets, shifts = dict(zip(names, scaling.offsets)), dict(zip(names, scaling.shifts))
    assert offsets["met_phi"] == 72 and offsets["muon2_phi"] == 288 and offsets["jet3_eta"] == 0
    assert offsets["egamma4_pt"] == 0 and shifts["egamma4_pt"] == 4  # never filled: the whole 9-bit pT range fits
    assert offsets["jet1_pt"] > offsets["jet4_pt"] > offsets["jet9_pt"] > 8  # medians of present jets, not zeros
    assert min(scaling.shifts) < 0  # small spreads (muon pT) use left shifts
    assert shifts["met_eta"] == 0


def test_card_round_trip_with_negative_shifts(tmp_path):
    folder = tmp_path / "axo"
    shutil.copytree(models_dir() / "axol1tl", folder, ignore=shutil.ignore_patterns("*.h5", "metrics.json"))
    card = load_card(folder)
    scaling = card.scaling()
    shifts = np.arange(57) % (2 * MAX_SHIFT + 1) - MAX_SHIFT
    new = InputScaling(scaling.raw_format, scaling.offsets - 300, shifts)
    card.set_scaling(new)
    card.save()
    again = load_card(folder).scaling()
    assert again.offsets.tolist() == new.offsets.tolist() and again.shifts.tolist() == shifts.tolist()
    assert again.difference_format == new.difference_format and again.shifts.min() == -MAX_SHIFT


@pytest.mark.parametrize("shifts, message", [
    ([16] + [0] * 56, "shifts must lie in -15..15"),
    ([0] * 56, "needs 57 offsets and shifts"),
    ([0.5] + [0] * 56, "must be integers"),
])
def test_bad_card_scaling_is_one_clear_line(tmp_path, shifts, message):
    folder = tmp_path / "axo"
    shutil.copytree(models_dir() / "axol1tl", folder, ignore=shutil.ignore_patterns("*.h5", "metrics.json"))
    card = load_card(folder)
    card.data["inputs"]["scaling"]["shifts"] = shifts
    with pytest.raises(CodesignError, match=message) as error:
        card.scaling()
    assert "\n" not in str(error.value)


def test_unknown_view_is_refused():
    with pytest.raises(CodesignError, match="no feature layout for view 'nope'"):
        view_features("nope")


def test_gelato_tob_features():
    """44 GELATO inputs: 14 object slots present with their ET (in counts), then MET (ET, phi) always present."""
    features = view_features("gelato_tob")
    assert len(features) == 44 and [f.name for f in features[-2:]] == ["met_pt", "met_phi"]
    assert features[0].high == 2**13 - 1 and features[18].high == 2**12 - 1 and features[30].high == 2**8 - 1
    for k in range(14):
        assert {f.presence for f in features[3 * k:3 * k + 3]} == {3 * k}
    assert features[-1].presence is None and features[-1].high == 127
