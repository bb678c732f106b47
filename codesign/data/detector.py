"""A fast, columnar Level-1 detector simulation: from particles to Run-3-like trigger objects.

The objects are built the way the CMS Stage-2 calorimeter trigger and the muon track finders build
them, on whole batches of bunch crossings at once (numpy on (events, eta, phi) tower grids; no
per-event Python loop).  The constants below are the calibrated defaults; docs/data.md lists them
with the zero-bias figures they were tuned to (the deployed AXOL1TL v4 slot medians and Run-3 seed
rates at pileup ~60).

* Towers: 0.087 x 0.087 (eta x phi) up to |eta| = 5, ECAL and HCAL ET kept apart and each quantised to
  the 0.5 GeV hardware LSB.  e/gamma deposit in ECAL (3%/sqrt(E) (+) 0.5%); hadrons shower partly in
  ECAL (an early-showering fraction) and the rest in HCAL (100%/sqrt(E) (+) 5%); beyond |eta| = 3 (HF)
  everything counts as hadronic.  Muons, invisible particles and charged particles that curl up in the
  field (pT < 0.75 GeV) leave nothing.
* Jets: Stage-2 sliding window.  Seeds are towers of ET >= 4 GeV that are the maximum of their 9x9
  window (ties broken by position); jet ET = the 9x9 sum minus the pileup estimate of the "chunky
  donut" (the three softest of the four 3x9 strips around the square, which together cover its area).
* e/gamma: ECAL seeds of ET >= 2 GeV, maximum of their 3x3 ECAL window, |eta| < 2.5; ET = ECAL 3x3 sum;
  kept when H/E (HCAL over ECAL in the 3x3) is below 0.25, so pi0 photons and the EM part of jets make
  fakes as in the real trigger.  Isolation is a flag (`extra["iso"]`), not a filter.
* Taus: total-ET seeds (>= 2 GeV, 3x3 maximum, |eta| < 2.5); ET = 3x3 sum; isolation flag from the 9x9
  ring (pileup-subtracted with rho).
* Muons: prompt and heavy-flavour muons plus fakes from pion and kaon decays in flight (probability
  from the decay length before the muon system), with a Gaussian 1/pT resolution and a wider tail
  component that sends soft muons to high pT; efficiency below one.
* MET (ETMHF-like): towers up to |eta| = 5 above a threshold that grows with the crossing's pileup
  density (tower-level pileup mitigation).  Its tail comes from mismeasured jets (a hadron response
  with non-compensation, resolution and occasional losses) and from anomalous single-tower HF signals,
  whose rate is tuned to the Run-3 ETMHF100 rate.
* Regions: 18 (phi) x 14 (eta, 7 per side to |eta| = 3) sums of tower ET (Layer-1 regions, CICADA).
* PF-like candidates for the HLT (only when asked for): tracks in |eta| < 2.5 (pileup tracks removed,
  as charged-hadron subtraction does) with impact parameters, and neutral deposits up to |eta| = 5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TypeVar

import numpy as np

from codesign.data.objects import Collection, Events
from codesign.data.particles import Particles

TOWER_LSB_GEV = 0.5
N_PHI_TOWERS = 72
TOWER_DETA = 0.087
N_ETA_TOWERS = 116  # 0.087 x 116 covers |eta| < 5.046
TOWER_AREA = TOWER_DETA * 2 * np.pi / N_PHI_TOWERS
_ETA_EDGES = TOWER_DETA * (np.arange(N_ETA_TOWERS + 1) - N_ETA_TOWERS / 2)
ETA_CENTRES = 0.5 * (_ETA_EDGES[1:] + _ETA_EDGES[:-1])
PHI_CENTRES = -np.pi + (np.arange(N_PHI_TOWERS) + 0.5) * 2 * np.pi / N_PHI_TOWERS
HF_MIN_ETA = 3.0

#: Layer-1 calorimeter region boundaries in eta (7 per side up to |eta| = 3) and 4 towers in phi.
REGION_ETA_EDGES = np.array(
    [-3.0, -2.172, -1.74, -1.392, -1.044, -0.695, -0.348, 0.0,
     0.348, 0.695, 1.044, 1.392, 1.74, 2.172, 3.0]
)
N_PHI_REGIONS = 18
#: first tower of each eta region, and the tower after the last region
_REGION_TOWER_STARTS = np.searchsorted(ETA_CENTRES, REGION_ETA_EDGES)

# calorimeter response
EM_RESOLUTION, HADRON_RESOLUTION = (0.03, 0.005), (1.1, 0.09)  # stochastic term (sqrt(GeV)), constant term
#: Hadrons lost partly in cracks, dead channels and leakage: the Level-1 MET tail.
HADRON_LOSS_PROBABILITY = 0.02
HADRON_H_OVER_E, HADRON_RESPONSE_EXPONENT = 0.45, 0.83  # non-compensation (Groom's parametrisation)
HADRON_EM_PROBABILITY, HADRON_EM_MAX_FRACTION = 0.6, 0.7  # early showers in ECAL
LOOPER_MAX_PT = 0.75  # GeV: 0.3 x 3.8 T x 1.29 m / 2, the barrel ECAL radius
HF_SPIKE_RATE, HF_SPIKE_MEAN_GEV = 2e-3, 40.0  # per crossing; tuned to the Run-3 ETMHF100 rate
# jets
JET_CALIBRATION_EM_FRACTION = 0.5  # EM share the calibration assumes (tuned to the zero-bias slot medians)
JET_SEED_GEV, JET_MIN_PT, JET_MAX_ETA = 4.0, 5.0, 5.0
# e/gamma
EGAMMA_SEED_GEV, EGAMMA_MIN_PT, EGAMMA_MAX_ETA, EGAMMA_MAX_HOE, EGAMMA_MAX_REL_ISO = 2.0, 2.0, 2.5, 0.25, 0.2
# taus
TAU_SEED_GEV, TAU_MIN_PT, TAU_MAX_ETA, TAU_MAX_REL_ISO = 2.0, 4.0, 2.5, 0.3
# muons
MUON_MIN_PT, MUON_MAX_ETA, MUON_EFFICIENCY = 3.0, 2.4, 0.95
MUON_CORE_RESOLUTION, MUON_TAIL_RESOLUTION, MUON_TAIL_FRACTION = 0.15, 0.6, 0.03  # sigma(1/pT) / (1/pT)
#: The muon track finders' pT scale puts a threshold at the pT where it is 90% efficient, so a muon's
#: Level-1 pT sits above its true pT.
MUON_PT_SCALE = 1.25
MUON_MASS_GEV = 0.105658
MUON_SYSTEM_DISTANCE_M = 4.0  # decays in flight before this distance give a muon in the muon system
_DECAY_IN_FLIGHT = {211: (0.13957, 7.80, 1.0), 321: (0.49368, 3.71, 0.64)}  # mass GeV, c tau m, BR(mu nu)
# MET
MET_TOWER_MIN_GEV, MET_TOWER_RHO_FACTOR = 2.0, 1.5  # tower threshold = max(min, factor x rho x tower area)
# (2 GeV puts the zero-bias MET median at ~19 GeV, the v4 offset says 18; at 1 GeV it was ~22.5)
MET_MAX_ETA = 5.0
# PF candidates
TRACKER_MAX_ETA = 2.5
PF_MIN_PT_CHARGED, PF_MIN_PT_NEUTRAL = 0.5, 1.0


@dataclass
class Deposits:
    """Calorimeter deposits, one per particle, in any order: what the towers are built from."""

    event: np.ndarray  # crossing index
    ieta: np.ndarray
    iphi: np.ndarray
    pt: np.ndarray  # true ET, GeV
    sigma: np.ndarray  # relative energy resolution
    em: np.ndarray  # bool: e/gamma (ECAL only)
    hf: np.ndarray  # bool: beyond |eta| = 3, all hadronic

    @classmethod
    def of(cls, p: Particles) -> Deposits:
        """The deposits of the particles that reach the calorimeter."""
        pid = np.abs(p.pid)
        looper = (p.charge != 0) & (p.pt < LOOPER_MAX_PT) & (np.abs(p.eta) < HF_MIN_ETA)
        ieta, iphi = tower_index(p.eta, p.phi)
        keep = (pid != 13) & ~looper & (ieta >= 0) & (ieta < N_ETA_TOWERS)
        em = (pid[keep] == 11) | (pid[keep] == 22)
        energy = p.pt[keep] * np.cosh(p.eta[keep])
        stochastic, constant = np.where(em, EM_RESOLUTION[0], HADRON_RESOLUTION[0]), np.where(em, EM_RESOLUTION[1], HADRON_RESOLUTION[1])
        sigma = np.hypot(stochastic / np.sqrt(np.maximum(energy, 1e-3)), constant)
        pt = p.pt[keep] * np.where(em, 1.0, hadron_response(energy))
        return cls(p.event_index[keep], ieta[keep], iphi[keep], pt, sigma, em, np.abs(p.eta[keep]) >= HF_MIN_ETA)


@dataclass
class MuonSources:
    """Particles that can give a Level-1 muon: muons, and pions and kaons that may decay in flight."""

    event: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    pid: np.ndarray  # absolute PDG id: 13, 211 or 321

    @classmethod
    def of(cls, p: Particles) -> MuonSources:
        pid = np.abs(p.pid)
        keep = (np.abs(p.eta) < MUON_MAX_ETA) & (p.pt > MUON_MIN_PT) & np.isin(pid, (13, *_DECAY_IN_FLIGHT))
        return cls(p.event_index[keep], p.pt[keep], p.eta[keep], p.phi[keep], pid[keep])


T = TypeVar("T", "Deposits", "MuonSources")


def concatenate(parts: list[T]) -> T:
    """Deposits or muon sources of several parts in one table (rows need no order)."""
    return type(parts[0])(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(parts[0])))


def simulate(
    particles: Particles, n_pileup: np.ndarray, rng: np.random.Generator, with_pf: bool = True,
    pf_filter: Callable[[Events], np.ndarray] | None = None, pf_rng: np.random.Generator | None = None,
) -> Events:
    """Run the detector simulation on a batch of bunch crossings given as particles."""
    return simulate_inputs(Deposits.of(particles), MuonSources.of(particles), particles if with_pf else None,
                           n_pileup, rng, pf_filter, pf_rng)


def simulate_inputs(
    deposits: Deposits, muon_sources: MuonSources, pf_particles: Particles | None, n_pileup: np.ndarray,
    rng: np.random.Generator, pf_filter: Callable[[Events], np.ndarray] | None = None,
    pf_rng: np.random.Generator | None = None,
) -> Events:
    """The trigger objects of `len(n_pileup)` crossings from their calorimeter deposits and muon sources
    (and their particles, when PF candidates are wanted: for every crossing, or with `pf_filter` only for
    the crossings it accepts given their Level-1 objects).  PF candidates draw from `pf_rng` when given,
    else from `rng` after the Level-1 objects."""
    n = len(n_pileup)
    em, had = _tower_grids(deposits, n, rng)
    _add_hf_spikes(had, rng)
    total = em + had
    rho = _rho(total)
    boxes = _BoxSums(total)
    met_pt, met_phi = _met(total, rho)
    events = Events(
        egamma=_egamma(em, had, boxes, rho),
        muon=_muons(muon_sources, n, rng),
        jet=_jets(total, boxes),
        tau=_taus(total, boxes, rho),
        pf=_no_pf(n),
        met_pt=met_pt,
        met_phi=met_phi,
        regions=_regions(total),
        n_pileup=n_pileup.astype(np.int32),
    )
    if pf_particles is None:
        return events
    if pf_filter is not None:
        pf_particles = pf_particles.select(np.repeat(pf_filter(events), pf_particles.counts))
    return replace(events, pf=_pf_candidates(pf_particles, rng if pf_rng is None else pf_rng))


def hadron_response(energy: np.ndarray) -> np.ndarray:
    """Mean calorimeter response to a hadron of `energy` GeV relative to an electron's (pi/e), in Groom's
    form ``1 - (1 - h/e) (E / 1 GeV)^(m - 1)``: soft hadrons are seen at about half their energy."""
    return np.clip(1.0 - (1.0 - HADRON_H_OVER_E) * np.maximum(energy, 0.1) ** (HADRON_RESPONSE_EXPONENT - 1.0), 0.05, 1.0)


def jet_calibration(raw_pt: np.ndarray) -> np.ndarray:
    """Stage-2-like jet energy calibration: the inverse of the mean response of a jet of `raw_pt` (an EM
    part at full response and a hadronic part whose constituents carry about a tenth of the jet each)."""
    response = JET_CALIBRATION_EM_FRACTION + (1.0 - JET_CALIBRATION_EM_FRACTION) * hadron_response(np.maximum(raw_pt, 1.0) / 10.0)
    return 1.0 / response


def tower_index(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ieta, iphi) of the tower holding each (eta, phi); ieta is -1 or N_ETA_TOWERS outside |eta| < 5."""
    ieta = np.searchsorted(_ETA_EDGES, eta) - 1
    iphi = np.minimum(((phi + np.pi) / (2 * np.pi) * N_PHI_TOWERS).astype(np.int64), N_PHI_TOWERS - 1)
    return ieta, iphi


def _tower_grids(d: Deposits, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n, eta, phi) ECAL and HCAL tower ET, each quantised to the hardware LSB."""
    count = len(d.pt)
    et = d.pt * np.maximum(1.0 + d.sigma * rng.standard_normal(count), 0.0)
    lost = ~d.em & (rng.random(count) < HADRON_LOSS_PROBABILITY)
    et[lost] *= rng.random(int(lost.sum()))
    early = rng.random(count)  # hadrons showering early leave a uniform fraction of their ET in ECAL
    em_fraction = early * (HADRON_EM_MAX_FRACTION / HADRON_EM_PROBABILITY)
    em_fraction[early >= HADRON_EM_PROBABILITY] = 0.0
    em_fraction[d.em] = 1.0
    em_fraction[d.hf] = 0.0
    flat = (d.event * N_ETA_TOWERS + d.ieta) * N_PHI_TOWERS + d.iphi
    size = n * N_ETA_TOWERS * N_PHI_TOWERS

    def grid(values: np.ndarray) -> np.ndarray:
        summed = np.bincount(flat, weights=values, minlength=size)
        np.floor(np.divide(summed, TOWER_LSB_GEV, out=summed), out=summed)
        return np.multiply(summed, TOWER_LSB_GEV, out=summed).reshape(n, N_ETA_TOWERS, N_PHI_TOWERS)

    em_et = et * em_fraction
    return grid(em_et), grid(et - em_et)


def _add_hf_spikes(had: np.ndarray, rng: np.random.Generator) -> None:
    """Anomalous single-tower HF signals (particles hitting the photomultiplier windows): Poisson per
    crossing, exponential in ET; the instrumental source of the Level-1 MET tail."""
    n = had.shape[0]
    count = rng.poisson(HF_SPIKE_RATE, n)
    event = np.repeat(np.arange(n), count)
    hf_rows = np.nonzero(np.abs(ETA_CENTRES) >= HF_MIN_ETA)[0]
    ieta = hf_rows[rng.integers(0, len(hf_rows), len(event))]
    iphi = rng.integers(0, N_PHI_TOWERS, len(event))
    et = np.floor(rng.exponential(HF_SPIKE_MEAN_GEV, len(event)) / TOWER_LSB_GEV) * TOWER_LSB_GEV
    np.add.at(had, (event, ieta, iphi), et)


def _rho(towers: np.ndarray) -> np.ndarray:
    """(n, eta bands) pileup ET density: median over phi of 4x4-tower blocks, per band of 4 rows."""
    n = towers.shape[0]
    blocks = towers.reshape(n, N_ETA_TOWERS // 4, 4, N_PHI_TOWERS // 4, 4).sum(axis=(2, 4))
    return np.median(blocks, axis=2) / (16 * TOWER_AREA)


def _rho_at(rho: np.ndarray, event: np.ndarray, ieta: np.ndarray) -> np.ndarray:
    """The pileup density of each tower's eta band."""
    return rho[event, np.clip(ieta, 0, N_ETA_TOWERS - 1) // 4]


class _BoxSums:
    """Sums of a tower grid over any rectangle of towers, phi wrapping around, in O(1) per rectangle."""

    _PAD = 7  # the widest reach: the jet donut's outer edge

    def __init__(self, towers: np.ndarray) -> None:
        k = self._PAD
        n, rows, cols = towers.shape
        self._sums = np.zeros((n, rows + 1, cols + 2 * k + 1))
        inner = self._sums[:, 1:, 1:]
        inner[:, :, :k], inner[:, :, k:-k], inner[:, :, -k:] = towers[:, :, -k:], towers, towers[:, :, :k]
        np.cumsum(inner, axis=1, out=inner)
        np.cumsum(inner, axis=2, out=inner)

    def rect(self, event, ieta, iphi, eta_lo: int, eta_hi: int, phi_lo: int, phi_hi: int) -> np.ndarray:
        """Sum over towers ieta+eta_lo..ieta+eta_hi, iphi+phi_lo..iphi+phi_hi (inclusive, clipped in eta)."""
        r0 = np.clip(ieta + eta_lo, 0, N_ETA_TOWERS)
        r1 = np.clip(ieta + eta_hi + 1, 0, N_ETA_TOWERS)
        c0, c1 = iphi + self._PAD + phi_lo, iphi + self._PAD + phi_hi + 1
        s = self._sums
        return s[event, r1, c1] - s[event, r0, c1] - s[event, r1, c0] + s[event, r0, c0]

    def square(self, event, ieta, iphi, half_width: int) -> np.ndarray:
        return self.rect(event, ieta, iphi, -half_width, half_width, -half_width, half_width)


def _square_at(grid: np.ndarray, event, ieta, iphi) -> np.ndarray:
    """3x3 sums of `grid` around a few towers (phi wrapping, clipped in eta), by gathering."""
    total = np.zeros(len(event))
    for de in (-1, 0, 1):
        row = ieta + de
        inside = (row >= 0) & (row < N_ETA_TOWERS)
        for dp in (-1, 0, 1):
            total += np.where(inside, grid[event, np.clip(row, 0, N_ETA_TOWERS - 1), (iphi + dp) % N_PHI_TOWERS], 0.0)
    return total


def _local_maxima(grid: np.ndarray, half_width: int, seed_gev: float, max_eta: float) -> tuple[np.ndarray, ...]:
    """(event, ieta, iphi) of towers >= `seed_gev` that are the maximum of their square window.

    Equal towers are ordered by position (a fraction of an LSB added by index), so exactly one tower
    of a plateau seeds, as the hardware's >/>= mask does.  Only the few towers above the seed threshold
    are compared with their neighbours (gathered), nearest first, and a candidate is dropped at its first
    larger neighbour, which is far cheaper than a filter over the grid."""
    rows = np.nonzero(np.abs(ETA_CENTRES) < max_eta)[0]
    ev, r, iphi = np.nonzero(grid[:, rows, :] >= seed_gev)
    ieta = rows[r]
    tie = 0.4 * TOWER_LSB_GEV / (N_ETA_TOWERS * N_PHI_TOWERS)

    def key(ev: np.ndarray, eta_index: np.ndarray, phi_index: np.ndarray) -> np.ndarray:
        inside = (eta_index >= 0) & (eta_index < N_ETA_TOWERS)
        eta_index = np.clip(eta_index, 0, N_ETA_TOWERS - 1)
        value = grid[ev, eta_index, phi_index] + (eta_index * N_PHI_TOWERS + phi_index) * tie
        return np.where(inside, value, -1.0)

    centre = key(ev, ieta, iphi)
    offsets = sorted(((de, dp) for de in range(-half_width, half_width + 1) for dp in range(-half_width, half_width + 1)
                      if de or dp), key=lambda o: max(abs(o[0]), abs(o[1])))
    for de, dp in offsets:
        keep = centre > key(ev, ieta + de, (iphi + dp) % N_PHI_TOWERS)
        ev, ieta, iphi, centre = ev[keep], ieta[keep], iphi[keep], centre[keep]
    return ev, ieta, iphi


def _jets(total: np.ndarray, boxes: _BoxSums) -> Collection:
    """Stage-2 jets: 9x9 sums around seeds, minus the chunky-donut pileup estimate."""
    ev, ieta, iphi = _local_maxima(total, 4, JET_SEED_GEV, JET_MAX_ETA)
    raw = boxes.square(ev, ieta, iphi, 4)
    strips = np.stack([
        boxes.rect(ev, ieta, iphi, 5, 7, -4, 4), boxes.rect(ev, ieta, iphi, -7, -5, -4, 4),
        boxes.rect(ev, ieta, iphi, -4, 4, 5, 7), boxes.rect(ev, ieta, iphi, -4, 4, -7, -5),
    ])
    pileup = np.sort(strips, axis=0)[:3].sum(axis=0)
    subtracted = raw - pileup
    pt = subtracted * jet_calibration(subtracted)
    keep = pt > JET_MIN_PT
    return Collection.sorted_by_pt(ev[keep], total.shape[0], pt[keep], ETA_CENTRES[ieta[keep]], PHI_CENTRES[iphi[keep]])


def _egamma(em: np.ndarray, had: np.ndarray, boxes: _BoxSums, rho: np.ndarray) -> Collection:
    """Stage-2-like e/gamma: ECAL 3x3 clusters around ECAL maxima, H/E cut, isolation flag."""
    ev, ieta, iphi = _local_maxima(em, 1, EGAMMA_SEED_GEV, EGAMMA_MAX_ETA)
    pt = _square_at(em, ev, ieta, iphi)
    hoe = _square_at(had, ev, ieta, iphi) / np.maximum(pt, TOWER_LSB_GEV)
    surround = boxes.square(ev, ieta, iphi, 3) - boxes.square(ev, ieta, iphi, 1)
    isolation = surround - _rho_at(rho, ev, ieta) * 40 * TOWER_AREA
    keep = (pt >= EGAMMA_MIN_PT) & (hoe < EGAMMA_MAX_HOE)
    iso = (isolation < EGAMMA_MAX_REL_ISO * pt).astype(np.int8)
    return Collection.sorted_by_pt(
        ev[keep], em.shape[0], pt[keep], ETA_CENTRES[ieta[keep]], PHI_CENTRES[iphi[keep]], iso=iso[keep]
    )


def _taus(total: np.ndarray, boxes: _BoxSums, rho: np.ndarray) -> Collection:
    """Stage-2-like taus: 3x3 clusters around total-ET maxima, isolation flag from the 9x9 ring."""
    ev, ieta, iphi = _local_maxima(total, 1, TAU_SEED_GEV, TAU_MAX_ETA)
    core = boxes.square(ev, ieta, iphi, 1)
    ring = boxes.square(ev, ieta, iphi, 4) - core - _rho_at(rho, ev, ieta) * 72 * TOWER_AREA
    keep = core >= TAU_MIN_PT
    iso = (ring < TAU_MAX_REL_ISO * core).astype(np.int8)
    return Collection.sorted_by_pt(
        ev[keep], total.shape[0], core[keep], ETA_CENTRES[ieta[keep]], PHI_CENTRES[iphi[keep]], iso=iso[keep]
    )


def _muons(m: MuonSources, n: int, rng: np.random.Generator) -> Collection:
    """Real muons and decay-in-flight fakes, with the track finders' 1/pT resolution and its tail."""
    count = len(m.pt)
    true_pt = np.where(m.pid == 13, m.pt, 0.0)
    for code, (mass, ctau_m, branching) in _DECAY_IN_FLIGHT.items():
        momentum = m.pt * np.cosh(m.eta)
        probability = branching * (1.0 - np.exp(-MUON_SYSTEM_DISTANCE_M * mass / (momentum * ctau_m)))
        decays = (m.pid == code) & (rng.random(count) < probability)
        momentum_fraction = rng.uniform((MUON_MASS_GEV / mass) ** 2, 1.0, count)  # two-body decay at rest, boosted
        true_pt = np.where(decays, m.pt * momentum_fraction, true_pt)
    found = (true_pt > 0) & (rng.random(count) < MUON_EFFICIENCY)
    width = np.where(rng.random(count) < MUON_TAIL_FRACTION, MUON_TAIL_RESOLUTION, MUON_CORE_RESOLUTION)
    inverse = (1.0 + width * rng.standard_normal(count)) / np.maximum(true_pt, 1e-3)
    pt = MUON_PT_SCALE / np.maximum(np.abs(inverse), 1e-3)  # a curvature of the wrong sign is still a muon
    keep = found & (pt > MUON_MIN_PT)
    return Collection.sorted_by_pt(m.event[keep], n, pt[keep], m.eta[keep], m.phi[keep])


def _met(total: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ETMHF-like missing ET: towers above a pileup-dependent threshold, up to |eta| = 5."""
    threshold = np.maximum(MET_TOWER_MIN_GEV, MET_TOWER_RHO_FACTOR * TOWER_AREA * np.repeat(rho, 4, axis=1))
    inside = (np.abs(ETA_CENTRES) < MET_MAX_ETA)[None, :, None]
    kept = np.where((total >= threshold[:, :, None]) & inside, total, 0.0).sum(axis=1)  # (n, phi)
    mex = -(kept * np.cos(PHI_CENTRES)).sum(axis=1)
    mey = -(kept * np.sin(PHI_CENTRES)).sum(axis=1)
    return np.hypot(mex, mey), np.arctan2(mey, mex)


def _regions(towers: np.ndarray) -> np.ndarray:
    """(n, 18 phi, 14 eta) region ET: towers summed over 4 in phi and the Layer-1 eta ranges."""
    n = towers.shape[0]
    inner = towers[:, _REGION_TOWER_STARTS[0] : _REGION_TOWER_STARTS[-1], :]
    by_eta = np.add.reduceat(inner, _REGION_TOWER_STARTS[:-1] - _REGION_TOWER_STARTS[0], axis=1)
    by_region = by_eta.reshape(n, -1, N_PHI_REGIONS, N_PHI_TOWERS // N_PHI_REGIONS).sum(axis=3)
    return by_region.transpose(0, 2, 1)


def _no_pf(n: int) -> Collection:
    return Collection(np.zeros(n, np.int64), *(np.zeros(0),) * 3,
                      {"dxy": np.zeros(0, np.float32), "dxysig": np.zeros(0, np.float32), "pid": np.zeros(0, np.int32)})


def _pf_candidates(p: Particles, rng: np.random.Generator) -> Collection:
    """Tracks (with impact parameters) and neutral deposits, as a particle-flow reconstruction."""
    event, n = p.event_index, p.n_events
    pid = np.abs(p.pid)
    is_em = (pid == 11) | (pid == 22)
    energy = p.pt * np.cosh(p.eta)
    sigma_e = np.hypot(np.where(is_em, 0.03, 1.0) / np.sqrt(np.maximum(energy, 1e-3)), np.where(is_em, 0.005, 0.05))
    smeared_pt = p.pt * np.maximum(1.0 + sigma_e * rng.standard_normal(len(p.pt)), 0.0)
    tracked = (p.charge != 0) & (np.abs(p.eta) < TRACKER_MAX_ETA) & ~((pid == 13) & (np.abs(p.eta) > 2.4))
    track_pt = p.pt * (1.0 + 0.01 * rng.standard_normal(len(p.pt)))
    charged = tracked & ~p.is_pileup & (track_pt > PF_MIN_PT_CHARGED)
    neutral = ~tracked & (pid != 13) & (np.abs(p.eta) < 5.0) & (smeared_pt > PF_MIN_PT_NEUTRAL)
    keep = charged | neutral
    sign = np.sign(p.charge).astype(np.int32)
    pf_id = np.select(
        [charged & (pid == 11), charged & (pid == 13), charged, neutral & is_em],
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
