"""Soft unclustered energy pattern (SUEP) decays of a heavy scalar.

Pythia 8 has no SUEP model, so the scalar S (from gg -> S, left undecayed) is
replaced here by a thermal shower of dark mesons, following the method of the
SUEP_Generator (S. Knapen, S. Pagan Griso, M. Papucci, D. J. Robinson,
"Triggering Soft Bombs at the LHC", JHEP 08 (2017) 076, arXiv:1612.00850):

1. In the S rest frame, meson momenta are drawn from the relativistic Boltzmann
   (Maxwell-Juttner) distribution f(p) ~ p^2 exp(-sqrt(p^2 + m^2) / T) with
   isotropic directions until the summed energy reaches the scalar mass M.
   The momentum magnitude is sampled with Devroye's rejection method for
   log-concave densities, as in SUEP_Generator (Swisdak, arXiv:1305.5226).
2. Four-momentum is then conserved exactly: the mean three-momentum is
   subtracted from every meson (net momentum zero), and all momenta are scaled
   by one common factor x, found with a 1-D root solve, such that
   sum_i sqrt(m^2 + x^2 p_i^2) = M.  At least two mesons are kept, and at most
   as many as fit at rest (n m < M), so a solution always exists when M > 2m.
3. The mesons are boosted to the lab with the parent's four-momentum, and each
   decays isotropically in its rest frame to a back-to-back pair of opposite-
   charge pions or (with probability ``lepton_fraction``) muons or (with
   probability ``electron_fraction``) electrons.  With ``dark_photon_mass`` > 0
   each meson first decays isotropically to two dark photons A', and every A'
   decays to such a pair instead (the ICHEP 2022 SUEP study: A'(0.7 GeV) ->
   ee 15%, mumu 15%, pipi 70%).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.special import kve

__all__ = ["ELECTRON_MASS", "MUON_MASS", "PION_MASS", "thermal_shower"]

PION_MASS = 0.13957  # GeV, charged pion
MUON_MASS = 0.105658  # GeV
ELECTRON_MASS = 0.000511  # GeV
_PION_PID = 211  # pi+ (pi- is -211)
_MUON_PID = 13  # mu- (mu+ is -13)
_ELECTRON_PID = 11  # e- (e+ is -11)


class _Envelope(NamedTuple):
    """Devroye envelope of the log-concave density g(x) = x^2 exp(-a (sqrt(1+x^2) - 1)), x = p/m."""

    a: float  # m / T
    log_g_mode: float
    x_minus: float  # points where g = g(mode) / e
    x_plus: float
    lam_minus: float  # e-folding lengths of the exponential tails
    lam_plus: float
    q_minus: float  # probabilities of the tail pieces
    q_plus: float


def _log_g(x: np.ndarray | float, a: float) -> np.ndarray | float:
    """log g(x) for x > 0; sqrt(1+x^2) - 1 is written in a cancellation-free form."""
    return 2.0 * np.log(x) - a * x * x / (1.0 + np.sqrt(1.0 + x * x))


def _envelope(a: float) -> _Envelope:
    """Mode, e-fold points and tail slopes of g for mass/temperature ratio ``a``."""
    x_mode = np.sqrt(2.0 * (1.0 + np.sqrt(1.0 + a * a))) / a
    log_g_mode = float(_log_g(x_mode, a))

    def drop(x: float) -> float:
        return float(_log_g(x, a)) - log_g_mode + 1.0

    lo, hi = 0.5 * x_mode, 2.0 * x_mode
    while drop(lo) >= 0.0:
        lo *= 0.5
    while drop(hi) >= 0.0:
        hi *= 2.0
    x_minus = brentq(drop, lo, x_mode)
    x_plus = brentq(drop, x_mode, hi)

    def lam(x: float) -> float:  # 1 / |d log g / dx|
        return 1.0 / abs(2.0 / x - a * x / np.sqrt(1.0 + x * x))

    lam_minus, lam_plus = lam(x_minus), lam(x_plus)
    width = x_plus - x_minus
    return _Envelope(a, log_g_mode, x_minus, x_plus, lam_minus, lam_plus,
                     lam_minus / width, lam_plus / width)


def _sample_momenta(n: int, rng: np.random.Generator, env: _Envelope, mass: float) -> np.ndarray:
    """Draw ``n`` Maxwell-Juttner momentum magnitudes (GeV) by rejection from the envelope."""
    q_mid = 1.0 - env.q_minus - env.q_plus
    accepted: list[np.ndarray] = []
    n_accepted = 0
    while n_accepted < n:
        k = 2 * (n - n_accepted) + 16
        u, v = rng.random(k), rng.random(k)
        x = np.empty(k)
        e = np.zeros(k)  # exponential variate of the tail pieces
        mid = u < q_mid
        up = ~mid & (u < q_mid + env.q_plus)
        down = ~(mid | up)
        y = u[mid] / q_mid
        x[mid] = (1.0 - y) * (env.x_minus + env.lam_minus) + y * (env.x_plus - env.lam_plus)
        e[up] = -np.log((u[up] - q_mid) / env.q_plus)
        x[up] = env.x_plus - env.lam_plus * (1.0 - e[up])
        e[down] = -np.log((u[down] - q_mid - env.q_plus) / env.q_minus)
        x[down] = env.x_minus + env.lam_minus * (1.0 - e[down])
        ok = (x > 0.0) & np.isfinite(x)
        ok[ok] = np.log(v[ok]) < _log_g(x[ok], env.a) - env.log_g_mode + e[ok]
        accepted.append(x[ok])
        n_accepted += int(ok.sum())
    return mass * np.concatenate(accepted)[:n]


def _isotropic(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors uniform on the sphere, shape (n, 3)."""
    cos_t = 2.0 * rng.random(n) - 1.0
    phi = 2.0 * np.pi * rng.random(n)
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=-1)


def _boost(p4: np.ndarray, frame_p4: np.ndarray, frame_mass: np.ndarray | float) -> np.ndarray:
    """Boost four-vectors (..., 4) from the rest frame of a system to the frame where it has
    four-momentum ``frame_p4`` (broadcastable, (..., 4)) and mass ``frame_mass``.

    Uses gamma = E/M and gamma*beta = p/M, so (0, 0, 0, M) maps exactly onto ``frame_p4``.
    """
    frame_mass = np.asarray(frame_mass, dtype=np.float64)[..., None]
    gamma = frame_p4[..., 3:] / frame_mass
    gb = frame_p4[..., :3] / frame_mass
    gb_dot_p = np.sum(gb * p4[..., :3], axis=-1, keepdims=True)
    energy = p4[..., 3:]
    p3 = p4[..., :3] + gb * (gb_dot_p / (gamma + 1.0) + energy)
    return np.concatenate([p3, gamma * energy + gb_dot_p], axis=-1)


def _rest_frame_shower(
    scalar_mass: float, rng: np.random.Generator, env: _Envelope, meson_mass: float, batch: int
) -> np.ndarray:
    """Meson four-momenta (n, 4) in the scalar rest frame, summing exactly to (0, 0, 0, M)."""
    p = np.empty(0)
    while True:
        p = np.concatenate([p, _sample_momenta(batch, rng, env, meson_mass)])
        cum_energy = np.cumsum(np.hypot(p, meson_mass))
        n = int(np.searchsorted(cum_energy, scalar_mass)) + 1  # first n with sum E >= M
        if n <= p.size:
            break
    n_fit = int(np.ceil(scalar_mass / meson_mass)) - 1  # largest n with n m < M (>= 2)
    n = min(max(n, 2), n_fit)
    mom = p[:n, None] * _isotropic(n, rng)
    mom -= mom.mean(axis=0)
    p_abs = np.linalg.norm(mom, axis=1)
    m2 = meson_mass * meson_mass

    def energy_excess(x: float) -> float:
        return float(np.sum(np.sqrt(m2 + (x * p_abs) ** 2))) - scalar_mass

    scale = brentq(energy_excess, 0.0, scalar_mass / p_abs.sum(), xtol=1e-14)
    mom *= scale
    energy = np.sqrt(m2 + np.sum(mom * mom, axis=1))
    return np.concatenate([mom, energy[:, None]], axis=1)


def _check_inputs(
    parent_p4: np.ndarray, meson_mass: float, temperature: float, lepton_fraction: float,
    electron_fraction: float = 0.0, dark_photon_mass: float = 0.0,
) -> np.ndarray:
    """Validate arguments; return the parent invariant masses (N,)."""
    if parent_p4.ndim != 2 or parent_p4.shape[1] != 4:
        raise ValueError(f"parent_p4 must have shape (N, 4), got {parent_p4.shape}")
    if not np.all(np.isfinite(parent_p4)):
        raise ValueError("parent_p4 contains non-finite values")
    if not (np.isfinite(temperature) and temperature > 0.0):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= lepton_fraction <= 1.0:
        raise ValueError(f"lepton_fraction must be in [0, 1], got {lepton_fraction}")
    if not 0.0 <= electron_fraction <= 1.0 - lepton_fraction:
        raise ValueError(f"electron_fraction must be in [0, 1 - lepton_fraction], got {electron_fraction}")
    used = ((PION_MASS, lepton_fraction + electron_fraction < 1.0), (MUON_MASS, lepton_fraction > 0.0),
            (ELECTRON_MASS, electron_fraction > 0.0))
    heaviest = max(mass for mass, in_use in used if in_use)
    if dark_photon_mass:
        if not (np.isfinite(dark_photon_mass) and dark_photon_mass > 2.0 * heaviest):
            raise ValueError(f"dark_photon_mass must exceed twice the daughter mass ({2.0 * heaviest:.6g} GeV),"
                             f" got {dark_photon_mass}")
        heaviest = dark_photon_mass
    if not (np.isfinite(meson_mass) and meson_mass > 2.0 * heaviest):
        raise ValueError(
            f"meson_mass must exceed twice the daughter mass ({2.0 * heaviest:.6g} GeV), got {meson_mass}"
        )
    mass2 = parent_p4[:, 3] ** 2 - np.sum(parent_p4[:, :3] ** 2, axis=1)
    bad = np.flatnonzero((parent_p4[:, 3] <= 0.0) | (mass2 <= (2.0 * meson_mass) ** 2))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"parent {i} invariant mass {np.sqrt(max(mass2[i], 0.0)):.6g} GeV must exceed "
            f"2*meson_mass = {2.0 * meson_mass:.6g} GeV (with E > 0)"
        )
    return np.sqrt(mass2)


def thermal_shower(
    parent_p4: np.ndarray,
    rng: np.random.Generator,
    *,
    meson_mass: float = 1.0,
    temperature: float = 1.0,
    lepton_fraction: float = 0.0,
    electron_fraction: float = 0.0,
    dark_photon_mass: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decay each scalar to a SUEP thermal shower of dark mesons, each decaying to two SM particles
    (or, with a dark photon, to two A' that decay to two SM particles each).

    Args:
        parent_p4: (N, 4) scalar four-momenta (px, py, pz, E) in GeV, one per event.
        rng: random generator (the only source of randomness).
        meson_mass: dark meson mass in GeV.
        temperature: shower temperature T in GeV.
        lepton_fraction: fraction of pairs that are mu+ mu- instead of pi+ pi-.
        electron_fraction: fraction of pairs that are e+ e-.
        dark_photon_mass: 0 (mesons decay to the pairs) or the A' mass in GeV (mesons -> A' A').

    Returns:
        counts (N,) int64 daughters per event; p4 (sum(counts), 4) float64 daughter
        four-momenta, event after event, each pair (+, -) adjacent; pid
        (sum(counts),) int32 PDG ids (211/-211, 13/-13 or 11/-11).
    """
    parent_p4 = np.asarray(parent_p4, dtype=np.float64)
    masses = _check_inputs(parent_p4, meson_mass, temperature, lepton_fraction, electron_fraction, dark_photon_mass)

    a = meson_mass / temperature
    env = _envelope(a)
    mean_energy = meson_mass * kve(1, a) / kve(2, a) + 3.0 * temperature  # Maxwell-Juttner <E>

    mesons: list[np.ndarray] = []
    for p4, mass in zip(parent_p4, masses):
        batch = int(1.2 * mass / mean_energy) + 16
        rest = _rest_frame_shower(float(mass), rng, env, meson_mass, batch)
        mesons.append(_boost(rest, p4, mass))
    per_meson = 4 if dark_photon_mass else 2
    counts = per_meson * np.array([len(m) for m in mesons], dtype=np.int64)
    meson_p4 = np.concatenate(mesons) if mesons else np.empty((0, 4))
    if dark_photon_mass:
        n = len(meson_p4)
        meson_p4 = _two_body(meson_p4, meson_mass, np.full(n, dark_photon_mass), rng).reshape(-1, 4)
        meson_mass = dark_photon_mass

    u = rng.random(len(meson_p4))
    is_muon = u < lepton_fraction
    is_electron = ~is_muon & (u < lepton_fraction + electron_fraction)
    d_mass = np.select([is_muon, is_electron], [MUON_MASS, ELECTRON_MASS], PION_MASS)
    daughters = _two_body(meson_p4, meson_mass, d_mass, rng).reshape(-1, 4)
    code = np.select([is_muon, is_electron], [_MUON_PID, _ELECTRON_PID], _PION_PID).astype(np.int32)
    pid = np.stack([code, -code], axis=1).reshape(-1)
    return counts, daughters, pid


def _two_body(parent_p4: np.ndarray, parent_mass: float, d_mass: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 2, 4): each parent (n, 4) of mass `parent_mass` decayed isotropically to two daughters of mass `d_mass`."""
    n = len(parent_p4)
    q = np.sqrt(0.25 * parent_mass**2 - d_mass**2)[:, None] * _isotropic(n, rng)
    half_e = np.full((n, 1), 0.5 * parent_mass)
    pair = np.stack([np.hstack([q, half_e]), np.hstack([-q, half_e])], axis=1)
    return _boost(pair, parent_p4[:, None, :], parent_mass)
