"""Trigger views: the fixed-layout inputs each trigger algorithm receives, in hardware units.

| view | shape | content |
|---|---|---|
| `axol1tl` | (n, 57) float32 | MET, 4 e/gamma, 4 muons, 10 jets x (pT, eta, phi), uGT units |
| `gelato` | (n, 44) float32 | 6 jets, 4 taus, 4 muons x (ET, eta, phi), MET (ET, phi), L1Topo units |
| `gelato_tob` | (n, 44) float32 | the `gelato` view as the integer TOB fields L1Topo receives (ET in counts of its LSB) |
| `cicada` | (n, 18, 14) uint16 | calorimeter region ET (phi x eta), 10-bit, 0.5 GeV LSB |
| `hlt` | (n, N, 6) float32 + (n, N) mask | the N hardest PF-like candidates (pT GeV, eta, phi, dxy cm, dxy significance, PF id code), pT-sorted, zero-padded |
| `suep` | (n, 288, 360, 3) float32 | tracker / ECAL / HCAL ET images (abs(eta) < 2.5) built from the PF candidates |

Hardware units (see docs/data.md): a pT enters as ``floor(pT / LSB) * LSB`` saturated at the word's
maximum, i.e. in GeV on the hardware grid; eta and phi enter as the integer hardware bin.  Every
block is sorted by decreasing pT and zero-padded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.data.objects import Collection, Events


@dataclass(frozen=True)
class HardwareFormat:
    """How one object type is encoded: pT LSB and width, eta LSB, number of phi bins."""

    pt_lsb: float
    pt_bits: int
    eta_lsb: float
    phi_bins: int  # bins of [0, 2 pi)

    # All arithmetic in float64, so float32 values from disk and in memory give the same bins.
    def pt(self, pt: np.ndarray) -> np.ndarray:
        counts = np.minimum(np.floor(np.asarray(pt, np.float64) / self.pt_lsb), 2**self.pt_bits - 1)
        return counts * self.pt_lsb

    def eta(self, eta: np.ndarray) -> np.ndarray:
        return np.floor(np.asarray(eta, np.float64) / self.eta_lsb)

    def phi(self, phi: np.ndarray) -> np.ndarray:
        bins = np.floor(np.mod(np.asarray(phi, np.float64), 2 * np.pi) / (2 * np.pi / self.phi_bins))
        return np.minimum(bins, self.phi_bins - 1)


#: CMS Level-1 Global Trigger (uGT) inputs, Stage-2 formats.
UGT_FORMATS = {
    "met": HardwareFormat(pt_lsb=0.5, pt_bits=12, eta_lsb=0.0435, phi_bins=144),
    "egamma": HardwareFormat(pt_lsb=0.5, pt_bits=9, eta_lsb=0.0435, phi_bins=144),
    "muon": HardwareFormat(pt_lsb=0.5, pt_bits=9, eta_lsb=0.010875, phi_bins=576),
    "jet": HardwareFormat(pt_lsb=0.5, pt_bits=11, eta_lsb=0.0435, phi_bins=144),
}
#: ATLAS L1Topo trigger objects (Phase-I eFEX/jFEX/MUCTPI-like granularity).
L1TOPO_FORMATS = {
    "met": HardwareFormat(pt_lsb=0.2, pt_bits=15, eta_lsb=0.025, phi_bins=128),
    "jet": HardwareFormat(pt_lsb=0.2, pt_bits=13, eta_lsb=0.025, phi_bins=128),
    "tau": HardwareFormat(pt_lsb=0.1, pt_bits=12, eta_lsb=0.025, phi_bins=128),
    "muon": HardwareFormat(pt_lsb=1.0, pt_bits=8, eta_lsb=0.025, phi_bins=128),
}
AXOL1TL_LAYOUT = (("egamma", 4), ("muon", 4), ("jet", 10))
GELATO_LAYOUT = (("jet", 6), ("tau", 4), ("muon", 4))
CICADA_LSB_GEV, CICADA_BITS = 0.5, 10


def axol1tl(events: Events) -> np.ndarray:
    """(n, 57): MET (pT, 0, phi), then 4 e/gamma, 4 muons, 10 jets x (pT, eta, phi), uGT units."""
    met = UGT_FORMATS["met"]
    blocks = [np.stack([met.pt(events.met_pt), np.zeros(events.n_events), met.phi(events.met_phi)], axis=1)]
    blocks += [_padded(getattr(events, name), k, UGT_FORMATS[name]) for name, k in AXOL1TL_LAYOUT]
    return np.concatenate(blocks, axis=1).astype(np.float32)


def gelato(events: Events) -> np.ndarray:
    """(n, 44): 6 jets, 4 taus, 4 muons x (ET, eta, phi), then MET (ET, phi), L1Topo units."""
    met = L1TOPO_FORMATS["met"]
    blocks = [_padded(getattr(events, name), k, L1TOPO_FORMATS[name]) for name, k in GELATO_LAYOUT]
    blocks.append(np.stack([met.pt(events.met_pt), met.phi(events.met_phi)], axis=1))
    return np.concatenate(blocks, axis=1).astype(np.float32)


def cicada(events: Events) -> np.ndarray:
    """(n, 18, 14): region ET in counts of 0.5 GeV, saturated at 10 bits (`ap_uint<10>`)."""
    counts = np.floor(np.asarray(events.regions, np.float64) / CICADA_LSB_GEV)
    return np.minimum(counts, 2**CICADA_BITS - 1).astype(np.uint16)


#: SUEP images (ICHEP 2022): ECAL granularity in |eta| < 2.5 (288 x 360 pixels of 0.0174 x 0.0175), channels
#: tracker / ECAL / HCAL; an HCAL cell is 5 x 5 pixels (the last eta row of cells is 3 pixels high).
SUEP_ETA_MAX, SUEP_N_ETA, SUEP_N_PHI, SUEP_HCAL_CELL = 2.5, 288, 360, 5
_CHARGED_PF, _ECAL_PF, _HCAL_PF = (11, 13, 211), (11, 22), (211, 130)


def suep_ht(jets: Collection, min_pt: float = 30.0, eta_max: float = SUEP_ETA_MAX) -> np.ndarray:
    """(n,) HT in GeV: the scalar sum of the pT of jets above `min_pt` in |eta| < `eta_max` (the Level-1 HTT
    sum the HLT preselection follows)."""
    keep = (np.abs(jets.eta) < eta_max) & (jets.pt > min_pt)
    return np.bincount(jets.event_index[keep], weights=jets.pt[keep], minlength=jets.n_events)


def suep_images(pf: Collection, scale_gev: float = 1.0, n_eta: int = SUEP_N_ETA, n_phi: int = SUEP_N_PHI,
                hcal_cell: int = SUEP_HCAL_CELL, eta_max: float = SUEP_ETA_MAX) -> np.ndarray:
    """(n, n_eta, n_phi, 3) float32 images of pixel ET / `scale_gev` in |eta| < `eta_max`, phi in [-pi, pi).

    Channel 0, tracker: pT of the charged candidates (pileup tracks already removed, i.e. pileup-corrected);
    1, ECAL: ET of electrons and photons; 2, HCAL: ET of charged and neutral hadrons summed over cells of
    `hcal_cell` x `hcal_cell` pixels, each cell's ET spread evenly over its pixels.  Muons only in the
    tracker.  Built per batch with `np.bincount` (no per-event loop), never stored.
    """
    pid = np.abs(pf.extra["pid"])
    ieta = np.floor((pf.eta + eta_max) / (2 * eta_max) * n_eta).astype(np.int64)
    iphi = np.floor((np.mod(pf.phi + np.pi, 2 * np.pi)) / (2 * np.pi) * n_phi).astype(np.int64)
    iphi = np.minimum(iphi, n_phi - 1)
    inside = (ieta >= 0) & (ieta < n_eta)
    event, pt = pf.event_index, np.asarray(pf.pt, np.float64) / scale_gev
    n = pf.n_events

    def grid(mask: np.ndarray, rows: int, cols: int, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        m = mask & inside
        flat = (event[m] * rows + r[m]) * cols + c[m]
        return np.bincount(flat, weights=pt[m], minlength=n * rows * cols).reshape(n, rows, cols)

    images = np.empty((n, n_eta, n_phi, 3), np.float32)
    images[..., 0] = grid(np.isin(pid, _CHARGED_PF), n_eta, n_phi, ieta, iphi)
    images[..., 1] = grid(np.isin(pid, _ECAL_PF), n_eta, n_phi, ieta, iphi)
    cells_eta, cells_phi = -(-n_eta // hcal_cell), -(-n_phi // hcal_cell)
    cells = grid(np.isin(pid, _HCAL_PF), cells_eta, cells_phi, ieta // hcal_cell, iphi // hcal_cell)
    pixels = np.minimum(hcal_cell, n_eta - hcal_cell * np.arange(cells_eta))[:, None] * np.minimum(
        hcal_cell, n_phi - hcal_cell * np.arange(cells_phi))[None, :]
    spread = np.repeat(np.repeat(cells / pixels, hcal_cell, axis=1), hcal_cell, axis=2)
    images[..., 2] = spread[:, :n_eta, :n_phi]
    return images


#: PF id code of the `hlt` view: |PDG id| -> code, signed with the PDG id (0 is padding).
HLT_PID_CODES = {11: 1, 13: 2, 211: 3, 22: 4, 130: 5}
HLT_FEATURES = ("pt", "eta", "phi", "dxy", "dxysig", "pid")


def hlt(pf: Collection, max_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, max_candidates, 6) float32 candidates (HLT_FEATURES, physical units, pid as its signed code), the
    hardest first and zero-padded, and the (n, max_candidates) bool mask of real candidates."""
    pid = np.asarray(pf.extra["pid"], np.int64)
    code = np.zeros(len(pid))
    for pdg, value in HLT_PID_CODES.items():
        code[np.abs(pid) == pdg] = value
    order = np.lexsort((-pf.pt, pf.event_index))  # per event, decreasing pT
    event = pf.event_index[order]
    rank = np.arange(len(order)) - np.searchsorted(event, event)
    keep = rank < max_candidates
    columns = (pf.pt, pf.eta, pf.phi, pf.extra["dxy"], pf.extra["dxysig"], np.sign(pid) * code)
    out = np.zeros((pf.n_events, max_candidates, len(HLT_FEATURES)), np.float32)
    for k, column in enumerate(columns):
        out[event[keep], rank[keep], k] = np.asarray(column)[order][keep]
    mask = np.zeros((pf.n_events, max_candidates), bool)
    mask[event[keep], rank[keep]] = True
    return out, mask


def _padded(objects: Collection, k: int, fmt: HardwareFormat) -> np.ndarray:
    """(n, 3k): the leading k objects' (pT, eta, phi) in hardware units, zero-padded."""
    out = np.zeros((objects.n_events, k, 3))
    rank = objects.rank
    lead = rank < k
    ev, pos = objects.event_index[lead], rank[lead]
    out[ev, pos, 0] = fmt.pt(objects.pt[lead])
    out[ev, pos, 1] = fmt.eta(objects.eta[lead])
    out[ev, pos, 2] = fmt.phi(objects.phi[lead])
    return out.reshape(objects.n_events, 3 * k)


def gelato_tob(view: np.ndarray) -> np.ndarray:
    """The `gelato` view (n, 44) as L1Topo's integer TOB fields: every ET in counts of its LSB (0.1 and 0.2 GeV
    are not binary fractions, so the firmware sees counts); eta and phi are already bins."""
    counts = np.array(view, np.float64)
    for column, fmt in GELATO_ET_COLUMNS:
        counts[:, column] = np.rint(counts[:, column] / fmt.pt_lsb)
    return counts.astype(np.float32)


#: (column, format) of every ET in the `gelato` view.
GELATO_ET_COLUMNS = tuple((3 * (sum(k for _, k in GELATO_LAYOUT[:b]) + slot), L1TOPO_FORMATS[name])
                          for b, (name, k) in enumerate(GELATO_LAYOUT) for slot in range(k)) + ((42, L1TOPO_FORMATS["met"]),)
VIEWS = {"axol1tl": axol1tl, "gelato": gelato, "cicada": cicada}
#: Views computed from another view: name -> (the view it reads, the conversion).
DERIVED_VIEWS = {"gelato_tob": ("gelato", gelato_tob)}
