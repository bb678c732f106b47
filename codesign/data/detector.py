"""A fast, columnar Level-1 detector simulation: from particles to trigger objects.

What a Run-3 Level-1 trigger sees is built the way the hardware builds it (figures are the
documented defaults; see docs/data.md):

* calorimeter towers of 0.087 x 0.087 (eta x phi) up to |eta| = 5, ET quantised to the 0.5 GeV
  hardware LSB (towers below one LSB read zero), energies smeared per particle (e/gamma 3%/sqrt(E)
  (+) 0.5%, hadrons 100%/sqrt(E) (+) 5%); muons, invisible particles and charged particles that curl up
  in the field (pT < 0.75 GeV) leave no tower energy;
* jets: anti-kt R=0.4 (fastjet) on towers, pileup subtracted with rho x area (rho = median ET density of
  4x4-tower blocks in the jet's eta band), pT > 20 GeV, |eta| < 4;
* e/gamma: electrons and photons with pT > 10 GeV, |eta| < 2.5, isolated in a 7x7-tower window;
* taus: jets in |eta| < 2.5 whose 3x3-tower core holds most of a 9x9-tower window;
* muons: pT > 3 GeV, |eta| < 2.4, 10% pT resolution (Level-1 muon track finders);
* MET: from towers in |eta| < 3, as the Level-1 ETM sum;
* regions: 18 (phi) x 14 (eta, 7 per side to |eta| = 3) sums of tower ET (Layer-1 regions);
* PF-like candidates for the HLT: tracks in |eta| < 2.5 (pileup tracks removed, as charged-hadron
  subtraction does) with impact parameters, and neutral calorimeter deposits up to |eta| = 5.
"""

from __future__ import annotations

import functools
import os
import sys

import awkward as ak
import numpy as np

from codesign.data.objects import Collection, Events
from codesign.data.particles import Particles

TOWER_LSB_GEV = 0.5
N_PHI_TOWERS = 72
TOWER_DETA = 0.087
N_ETA_TOWERS = 116  # 0.087 x 116 covers |eta| < 5.046
TOWER_AREA = TOWER_DETA * 2 * np.pi / N_PHI_TOWERS
_ETA_EDGES = TOWER_DETA * (np.arange(N_ETA_TOWERS + 1) - N_ETA_TOWERS / 2)
_ETA_CENTRES = 0.5 * (_ETA_EDGES[1:] + _ETA_EDGES[:-1])
_PHI_CENTRES = -np.pi + (np.arange(N_PHI_TOWERS) + 0.5) * 2 * np.pi / N_PHI_TOWERS

#: Layer-1 calorimeter region boundaries in eta (7 per side up to |eta| = 3) and 4 towers in phi.
REGION_ETA_EDGES = np.array(
    [-3.0, -2.172, -1.74, -1.392, -1.044, -0.695, -0.348, 0.0,
     0.348, 0.695, 1.044, 1.392, 1.74, 2.172, 3.0]
)
N_PHI_REGIONS = 18
_REGION_MEMBERSHIP = (
    np.searchsorted(REGION_ETA_EDGES, _ETA_CENTRES)[None, :] - 1 == np.arange(len(REGION_ETA_EDGES) - 1)[:, None]
).astype(float)  # (14 regions, towers): which towers sum into which eta region

JET_R = 0.4
JET_MIN_PT, JET_MAX_ETA = 20.0, 4.0
EGAMMA_MIN_PT, EGAMMA_MAX_ETA, EGAMMA_MAX_REL_ISO = 10.0, 2.5, 0.25
TAU_MIN_PT, TAU_MAX_ETA, TAU_MAX_REL_ISO = 20.0, 2.5, 0.3
MUON_MIN_PT, MUON_MAX_ETA, MUON_PT_RESOLUTION = 3.0, 2.4, 0.10
MET_MAX_ETA = 3.0
TRACKER_MAX_ETA = 2.5
PF_MIN_PT_CHARGED, PF_MIN_PT_NEUTRAL = 0.5, 1.0
LOOPER_MAX_PT = 0.75  # GeV: 0.3 x 3.8 T x 1.29 m / 2, the barrel ECAL radius


def simulate(particles: Particles, n_pileup: np.ndarray, rng: np.random.Generator) -> Events:
    """Run the detector simulation on a batch of events."""
    n = particles.n_events
    event = particles.event_index
    pid = np.abs(particles.pid)
    is_muon = pid == 13
    is_em = (pid == 11) | (pid == 22)
    smeared_pt = particles.pt * _energy_response(particles, is_em, rng)

    # charged particles below ~0.75 GeV curl up in the 3.8 T field before reaching the calorimeter
    looper = (particles.charge != 0) & (particles.pt < LOOPER_MAX_PT) & (np.abs(particles.eta) < MET_MAX_ETA)
    towers = _tower_grid(event, n, smeared_pt, particles.eta, particles.phi, ~is_muon & ~looper)
    rho = _rho(towers)
    integral = _IntegralImage(towers)

    jet = _jets(towers, rho)
    return Events(
        egamma=_egamma(event, n, smeared_pt, particles, is_em, integral, rho),
        muon=_muons(event, n, particles, is_muon, rng),
        jet=jet,
        tau=_taus(jet, integral, rho),
        pf=_pf_candidates(event, n, smeared_pt, particles, rng),
        met_pt=(met := _met(towers))[0],
        met_phi=met[1],
        regions=_regions(towers),
        n_pileup=n_pileup.astype(np.int32),
    )


def _rho(towers: np.ndarray) -> np.ndarray:
    """(n, eta bands) pileup ET density: median over phi of 4x4-tower blocks, per band of 4 rows."""
    n = towers.shape[0]
    blocks = towers.reshape(n, N_ETA_TOWERS // 4, 4, N_PHI_TOWERS // 4, 4).sum(axis=(2, 4))
    return np.median(blocks, axis=2) / (16 * TOWER_AREA)


def _rho_at(rho: np.ndarray, event: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The pileup density of each object's eta band."""
    band = np.clip(np.searchsorted(_ETA_EDGES, eta) - 1, 0, N_ETA_TOWERS - 1) // 4
    return rho[event, band]


def _energy_response(p: Particles, is_em: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative calorimeter response per particle (Gaussian, clipped at zero)."""
    energy = p.pt * np.cosh(p.eta)
    stochastic, constant = np.where(is_em, 0.03, 1.0), np.where(is_em, 0.005, 0.05)
    sigma = np.hypot(stochastic / np.sqrt(np.maximum(energy, 1e-3)), constant)
    return np.maximum(1.0 + sigma * rng.standard_normal(len(energy)), 0.0)


def _tower_grid(event, n, pt, eta, phi, deposits) -> np.ndarray:
    """(n, eta, phi) tower ET, quantised to the hardware LSB."""
    ieta = np.searchsorted(_ETA_EDGES, eta) - 1
    iphi = np.minimum(((phi + np.pi) / (2 * np.pi) * N_PHI_TOWERS).astype(np.int64), N_PHI_TOWERS - 1)
    inside = deposits & (ieta >= 0) & (ieta < N_ETA_TOWERS)
    flat = (event[inside] * N_ETA_TOWERS + ieta[inside]) * N_PHI_TOWERS + iphi[inside]
    grid = np.bincount(flat, weights=pt[inside], minlength=n * N_ETA_TOWERS * N_PHI_TOWERS)
    return (np.floor(grid / TOWER_LSB_GEV) * TOWER_LSB_GEV).reshape(n, N_ETA_TOWERS, N_PHI_TOWERS)


class _IntegralImage:
    """Sums of tower ET in square windows around any tower, with phi wrapping, in O(1) each."""

    _MAX_HALF_WIDTH = 4

    def __init__(self, towers: np.ndarray) -> None:
        k = self._MAX_HALF_WIDTH
        padded = np.concatenate([towers[:, :, -k:], towers, towers[:, :, :k]], axis=2)
        self._sums = np.zeros((padded.shape[0], padded.shape[1] + 1, padded.shape[2] + 1))
        self._sums[:, 1:, 1:] = padded.cumsum(axis=1).cumsum(axis=2)

    def window(self, event, ieta, iphi, half_width: int) -> np.ndarray:
        k = self._MAX_HALF_WIDTH
        r0 = np.clip(ieta - half_width, 0, N_ETA_TOWERS)
        r1 = np.clip(ieta + half_width + 1, 0, N_ETA_TOWERS)
        c0, c1 = iphi + k - half_width, iphi + k + half_width + 1
        s = self._sums
        return s[event, r1, c1] - s[event, r0, c1] - s[event, r1, c0] + s[event, r0, c0]


def _tower_index(eta, phi) -> tuple[np.ndarray, np.ndarray]:
    ieta = np.clip(np.searchsorted(_ETA_EDGES, eta) - 1, 0, N_ETA_TOWERS - 1)
    iphi = np.minimum(((phi + np.pi) / (2 * np.pi) * N_PHI_TOWERS).astype(np.int64), N_PHI_TOWERS - 1)
    return ieta, iphi


def _jets(towers: np.ndarray, rho: np.ndarray) -> Collection:
    """Anti-kt R=0.4 jets on the towers, rho x area pileup subtraction."""
    import fastjet

    _silence_fastjet_banner()
    n = towers.shape[0]
    ev, ieta, iphi = np.nonzero(towers)
    et, eta, phi = towers[ev, ieta, iphi], _ETA_CENTRES[ieta], _PHI_CENTRES[iphi]
    counts = np.bincount(ev, minlength=n)
    vectors = ak.unflatten(
        ak.zip(
            {"px": et * np.cos(phi), "py": et * np.sin(phi), "pz": et * np.sinh(eta), "E": et * np.cosh(eta)},
            with_name="Momentum4D",
        ),
        counts,
    )
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)
    jets = fastjet.ClusterSequence(vectors, definition).inclusive_jets(min_pt=JET_MIN_PT / 2)
    jet_counts = ak.to_numpy(ak.num(jets))
    flat = ak.flatten(jets)
    px, py, pz = (ak.to_numpy(flat[c]) for c in ("px", "py", "pz"))
    raw_pt = np.hypot(px, py)
    jet_event = np.repeat(np.arange(n), jet_counts)
    eta, phi = np.arcsinh(pz / raw_pt), np.arctan2(py, px)
    pt = raw_pt - _rho_at(rho, jet_event, eta) * np.pi * JET_R**2
    keep = (pt > JET_MIN_PT) & (np.abs(eta) < JET_MAX_ETA)
    return Collection.sorted_by_pt(jet_event[keep], n, pt[keep], eta[keep], phi[keep])


@functools.cache
def _silence_fastjet_banner() -> None:
    """FastJet prints its banner from C++ to stdout at the first clustering of a process; the
    Python bindings expose no switch for it, so run one tiny clustering with stdout closed."""
    import fastjet

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            vectors = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]], with_name="Momentum4D")
            fastjet.ClusterSequence(vectors, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)).inclusive_jets()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _egamma(event, n, smeared_pt, p: Particles, is_em, integral: _IntegralImage, rho) -> Collection:
    """Isolated electrons and photons (isolation from the towers around the candidate)."""
    cand = is_em & (smeared_pt > EGAMMA_MIN_PT) & (np.abs(p.eta) < EGAMMA_MAX_ETA)
    ev, pt, eta, phi = event[cand], smeared_pt[cand], p.eta[cand], p.phi[cand]
    ieta, iphi = _tower_index(eta, phi)
    cone = integral.window(ev, ieta, iphi, 3) - _rho_at(rho, ev, eta) * 49 * TOWER_AREA
    isolated = (cone - pt) < EGAMMA_MAX_REL_ISO * pt
    return Collection.sorted_by_pt(ev[isolated], n, pt[isolated], eta[isolated], phi[isolated])


def _taus(jet: Collection, integral: _IntegralImage, rho) -> Collection:
    """Narrow, isolated jets: 3x3-tower core ET, isolation in the 9x9 window around it."""
    ev = jet.event_index
    central = np.abs(jet.eta) < TAU_MAX_ETA
    ev, eta, phi = ev[central], jet.eta[central], jet.phi[central]
    ieta, iphi = _tower_index(eta, phi)
    rho_here = _rho_at(rho, ev, eta)
    core = integral.window(ev, ieta, iphi, 1) - rho_here * 9 * TOWER_AREA
    ring = integral.window(ev, ieta, iphi, 4) - rho_here * 81 * TOWER_AREA - core
    keep = (core > TAU_MIN_PT) & (ring < TAU_MAX_REL_ISO * core)
    return Collection.sorted_by_pt(ev[keep], jet.n_events, core[keep], eta[keep], phi[keep])


def _muons(event, n, p: Particles, is_muon, rng) -> Collection:
    pt = p.pt * np.maximum(1.0 + MUON_PT_RESOLUTION * rng.standard_normal(len(p.pt)), 0.0)
    keep = is_muon & (pt > MUON_MIN_PT) & (np.abs(p.eta) < MUON_MAX_ETA)
    return Collection.sorted_by_pt(event[keep], n, pt[keep], p.eta[keep], p.phi[keep])


def _met(towers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    central = towers[:, np.abs(_ETA_CENTRES) < MET_MAX_ETA, :].sum(axis=1)  # (n, phi)
    mex = -(central * np.cos(_PHI_CENTRES)).sum(axis=1)
    mey = -(central * np.sin(_PHI_CENTRES)).sum(axis=1)
    return np.hypot(mex, mey), np.arctan2(mey, mex)


def _regions(towers: np.ndarray) -> np.ndarray:
    """(n, 18 phi, 14 eta) region ET: towers summed over 4 in phi and the Layer-1 eta ranges."""
    n = towers.shape[0]
    by_eta = np.einsum("re,nep->nrp", _REGION_MEMBERSHIP, towers)
    by_region = by_eta.reshape(n, -1, N_PHI_REGIONS, N_PHI_TOWERS // N_PHI_REGIONS).sum(axis=3)
    return by_region.transpose(0, 2, 1)


def _pf_candidates(event, n, smeared_pt, p: Particles, rng) -> Collection:
    """Tracks (with impact parameters) and neutral deposits, as a particle-flow reconstruction."""
    pid = np.abs(p.pid)
    tracked = (p.charge != 0) & (np.abs(p.eta) < TRACKER_MAX_ETA) & ~((pid == 13) & (np.abs(p.eta) > 2.4))
    track_pt = p.pt * (1.0 + 0.01 * rng.standard_normal(len(p.pt)))
    charged = tracked & ~p.is_pileup & (track_pt > PF_MIN_PT_CHARGED)
    neutral = ~tracked & (pid != 13) & (np.abs(p.eta) < 5.0) & (smeared_pt > PF_MIN_PT_NEUTRAL)
    keep = charged | neutral
    sign = np.sign(p.charge).astype(np.int32)
    pf_id = np.select(
        [charged & (pid == 11), charged & (pid == 13), charged, neutral & ((pid == 11) | (pid == 22))],
        [-11 * sign, -13 * sign, 211 * sign, 22],
        default=130,
    )
    pt = np.where(charged, track_pt, smeared_pt)
    sigma = np.hypot(0.002, 0.003 / np.maximum(pt, 0.1))  # cm: 20 um (+) 30 um GeV / pT
    dxy = np.where(charged, p.dxy + sigma * rng.standard_normal(len(pt)), 0.0)
    return Collection.sorted_by_pt(
        event[keep], n, pt[keep], p.eta[keep], p.phi[keep],
        dxy=dxy[keep].astype(np.float32), dxysig=np.where(charged, dxy / sigma, 0.0)[keep].astype(np.float32),
        pid=pf_id[keep].astype(np.int32),
    )
