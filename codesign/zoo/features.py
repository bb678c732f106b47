"""The feature layout of a trigger view: what every input column is, in one place.

Derived from `codesign.data.views` (the object slots of a view and their hardware formats); the
only facts added here are the eta coverage of each object type, which bound the eta bins.
"""

from __future__ import annotations

import numpy as np

from codesign.data.views import AXOL1TL_LAYOUT, GELATO_LAYOUT, L1TOPO_FORMATS, UGT_FORMATS, HardwareFormat
from codesign.errors import CodesignError
from codesign.fixed.scaling import Feature

#: |eta| coverage of the uGT objects, generous so no present object lies outside: calorimeter
#: e/gamma up to the ECAL endcap edge (|eta| < 3.0), jets up to the HF edge (5.191), muons as the
#: uGMT (2.45).
UGT_ETA_COVERAGE = {"egamma": 3.0, "jet": 5.191, "muon": 2.45}
#: The same for the L1Topo objects of the simulation: taus are seeded in |eta| < 2.5.
L1TOPO_ETA_COVERAGE = {"jet": 5.191, "tau": 2.5, "muon": 2.45}


def _object(name: str, fmt: HardwareFormat, eta_max: float | None, presence: int | None,
            counts: bool = False) -> list[Feature]:
    """(pT, eta, phi) of one object slot; eta is constant 0 when `eta_max` is None; pT in GeV, or in counts of
    its LSB with `counts`."""
    pt_max = (2**fmt.pt_bits - 1) * (1.0 if counts else fmt.pt_lsb)
    eta_low, eta_high = (0.0, 0.0) if eta_max is None else tuple(fmt.eta(np.array([-eta_max, eta_max])))
    return [
        Feature(f"{name}_pt", 0.0, pt_max, from_range=False, presence=presence),
        Feature(f"{name}_eta", eta_low, eta_high, from_range=True, presence=presence),
        Feature(f"{name}_phi", 0.0, float(fmt.phi_bins - 1), from_range=True, presence=presence),
    ]


def axol1tl_features() -> list[Feature]:
    """The 57 AXOL1TL inputs: MET (pT, eta = 0, phi; always present), then the slots of
    `AXOL1TL_LAYOUT`, each present when its pT is above zero."""
    features = _object("met", UGT_FORMATS["met"], None, presence=None)
    for kind, slots in AXOL1TL_LAYOUT:
        for slot in range(slots):
            pt_column = len(features)
            features += _object(f"{kind}{slot + 1}", UGT_FORMATS[kind], UGT_ETA_COVERAGE[kind], presence=pt_column)
    return features


def gelato_tob_features() -> list[Feature]:
    """The 44 GELATO inputs as TOB counts: the slots of `GELATO_LAYOUT` (present when their ET is above zero),
    then MET (ET, phi; always present)."""
    features: list[Feature] = []
    for kind, slots in GELATO_LAYOUT:
        for slot in range(slots):
            features += _object(f"{kind}{slot + 1}", L1TOPO_FORMATS[kind], L1TOPO_ETA_COVERAGE[kind],
                                presence=len(features), counts=True)
    met_pt, _, met_phi = _object("met", L1TOPO_FORMATS["met"], None, presence=None, counts=True)
    return [*features, met_pt, met_phi]


VIEW_FEATURES = {"axol1tl": axol1tl_features, "gelato_tob": gelato_tob_features}


def view_features(view: str) -> list[Feature]:
    """The feature layout of a trigger view (a card's `inputs.view`)."""
    if view not in VIEW_FEATURES:
        raise CodesignError(f"no feature layout for view {view!r}; known: {', '.join(VIEW_FEATURES)}")
    return VIEW_FEATURES[view]()
