"""Statistical generator of per-lumisection ECAL tower occupancy maps, and fake-anomaly injection.

Geometry (readout towers): the barrel EB is a 36x72 (eta x phi) image whose rows 0 and 35 are
padding (34 active eta rings, 17 per half); each endcap EE+/EE- is a 22x22 (x, y) image where
only towers inside the annulus R_IN <= r <= R_OUT are real.  The expected occupancy rises with
|eta| (gently in EB, steeply in EE), is phi-uniform on average up to a fixed per-tower response,
drifts slowly from run to run (radiation-like loss, stronger at high |eta|), and scales with the
number of events in the lumisection (LS), which decays along a run.  Counts are Poisson.  A few
known-bad (dead) towers are present in all data, including certified good data.  Everything is
reproducible from (detector seed, run number, run seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REGIONS = ("EB", "EE+", "EE-")
SHAPES = {"EB": (36, 72), "EE+": (22, 22), "EE-": (22, 22)}
ANOMALIES = {
    "EB": ("missing_sm", "zero_tower", "hot_tower"),
    "EE+": ("missing_sector", "zero_tower", "hot_tower"),
    "EE-": ("missing_sector", "zero_tower", "hot_tower"),
}
EE_R_IN, EE_R_OUT = 4.0, 11.0
OCC_PER_EVENT = 0.02  # mean hits per tower per event (sets the Poisson statistics with events/LS)
EVENTS_PER_LS = 2000
HOT_FACTOR = 4.0


def geometry_mask(region: str) -> np.ndarray:
    """Boolean map of real towers (True) in the region's image."""
    if region == "EB":
        m = np.ones(SHAPES["EB"], bool)
        m[0] = m[-1] = False
        return m
    r = ee_radius()
    return (r >= EE_R_IN) & (r <= EE_R_OUT)


def ee_radius() -> np.ndarray:
    """Distance of each endcap tower centre from the beam, in tower units."""
    c = np.arange(22) - 10.5
    return np.hypot(c[:, None], c[None, :])


def ee_phi() -> np.ndarray:
    """Azimuth of each endcap tower centre in [0, 2 pi)."""
    c = np.arange(22) - 10.5
    return np.mod(np.arctan2(c[None, :], c[:, None]), 2 * np.pi)


def abs_eta(region: str) -> np.ndarray:
    """Approximate |eta| of each tower centre (EB 0-1.48, EE 1.48-3.0)."""
    if region == "EB":
        return np.repeat((np.abs(np.arange(36) - 17.5) - 0.5)[:, None] * 0.087, 72, axis=1).clip(0)
    r = ee_radius().clip(EE_R_IN, EE_R_OUT)
    return 1.48 + (3.0 - 1.48) * (EE_R_OUT - r) / (EE_R_OUT - EE_R_IN)


def _cracks(region: str) -> np.ndarray:
    """Fixed lower response at EB supermodule edges in phi (mechanical cracks), 1 elsewhere."""
    f = np.ones(SHAPES[region])
    if region == "EB":
        f[:, 0::4] *= 0.85
        f[:, 3::4] *= 0.9
    return f


@dataclass(frozen=True)
class Detector:
    """Static detector description: masks, expected relative rate, per-tower response, dead towers."""

    seed: int = 0
    n_known_bad: int = 3
    rate: dict[str, np.ndarray] = field(init=False, repr=False)
    known_bad: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 7])
        rate, bad = {}, {}
        for region in REGIONS:
            eta, m = abs_eta(region), geometry_mask(region)
            shape = 1 + 0.3 * eta**2 if region == "EB" else np.exp(1.2 * (eta - 1.48))
            r = shape * rng.lognormal(0.0, 0.12, eta.shape) * _cracks(region) * m
            rate[region] = r / r[m].mean()
            b = np.zeros_like(m)
            b.flat[rng.choice(np.flatnonzero(m), self.n_known_bad, replace=False)] = True
            bad[region] = b
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "known_bad", bad)

    def mask(self, region: str) -> np.ndarray:
        return geometry_mask(region)


@dataclass
class Run:
    """One run: raw counts per region, shape (n_ls, H, W), and events per LS, shape (n_ls,)."""

    number: int
    events: np.ndarray
    counts: dict[str, np.ndarray]


def generate_run(det: Detector, number: int, n_ls: int = 300, seed: int = 0,
                 events_per_ls: float = EVENTS_PER_LS, drift_per_run: float = 0.002) -> Run:
    """A run of `n_ls` good lumisections (known-bad towers dead), reproducible from its seeds."""
    rng = np.random.default_rng([seed, number, det.seed])
    t = np.arange(n_ls)
    events = rng.poisson(events_per_ls * rng.uniform(0.8, 1.2) * np.exp(-t / max(2.0 * n_ls, 1.0))).astype(np.float64)
    counts = {}
    for region in REGIONS:
        eta = abs_eta(region)
        drift = np.exp(-drift_per_run * number * (eta / 3.0) ** 2) * rng.normal(1.0, 0.01)
        mu = det.rate[region] * drift * ~det.known_bad[region] * OCC_PER_EVENT
        counts[region] = rng.poisson(events[:, None, None] * mu[None]).astype(np.float32)
    return Run(number, events, counts)


def normalise(counts: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Occupancy per event in units of the mean tower occupancy: counts / (events * OCC_PER_EVENT)."""
    return (counts / (np.asarray(events, np.float64)[:, None, None] * OCC_PER_EVENT)).astype(np.float32)


def _region_towers(det: Detector, region: str, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Boolean map of the towers hit by one anomaly of `kind`, at a random position."""
    m, bad = det.mask(region), det.known_bad[region]
    hit = np.zeros_like(m)
    if kind == "missing_sm":
        if region != "EB":
            raise ValueError("missing_sm is an EB anomaly")
        rows = slice(1, 18) if rng.integers(2) == 0 else slice(18, 35)
        k = rng.integers(18)
        hit[rows, 4 * k:4 * k + 4] = True
    elif kind == "missing_sector":
        if region == "EB":
            raise ValueError("missing_sector is an EE anomaly")
        k = rng.integers(9)
        phi = ee_phi()
        hit = (phi >= k * 2 * np.pi / 9) & (phi < (k + 1) * 2 * np.pi / 9)
    elif kind in ("zero_tower", "hot_tower"):
        hit.flat[rng.choice(np.flatnonzero(m & ~bad))] = True
    else:
        raise ValueError(f"unknown anomaly {kind!r}")
    return hit & m & ~bad


def inject(det: Detector, region: str, counts: np.ndarray, kind: str, seed: int, segment: int = 6,
           transient: float = 0.0, hot_factor: float = HOT_FACTOR) -> tuple[np.ndarray, np.ndarray]:
    """Inject one anomaly of `kind` per block of `segment` consecutive LS (new position per block).

    With `transient` > 0, each LS of a block is unaffected with that probability (intermittent
    faults).  Returns the modified counts and per-tower boolean labels of shape (n_ls, H, W).
    """
    rng = np.random.default_rng([seed, REGIONS.index(region), sum(map(ord, kind))])
    out, labels = counts.copy(), np.zeros(counts.shape, bool)
    for start in range(0, len(counts), segment):
        hit = _region_towers(det, region, kind, rng)
        for i in range(start, min(start + segment, len(counts))):
            if transient and rng.random() < transient:
                continue
            labels[i] = hit
            if kind == "hot_tower":
                out[i][hit] = rng.poisson(out[i][hit] * hot_factor)
            else:
                out[i][hit] = 0.0
    return out, labels
