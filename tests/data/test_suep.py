"""Tests for the SUEP thermal-shower decay (codesign.data.suep)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import cumulative_trapezoid
from scipy.special import kve

from codesign.data.suep import (
    MUON_MASS,
    PION_MASS,
    _envelope,
    _sample_momenta,
    thermal_shower,
)


def _at_rest(mass: float, n: int) -> np.ndarray:
    return np.tile([0.0, 0.0, 0.0, mass], (n, 1))


def _boosted(mass: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Parents of given mass with pT of hundreds of GeV and large longitudinal momenta."""
    pt = rng.uniform(200.0, 800.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    pz = rng.uniform(-3000.0, 3000.0, n)
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    return np.stack([px, py, pz, np.sqrt(mass**2 + pt**2 + pz**2)], axis=1)


def _mass(p4: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(p4[..., 3] ** 2 - np.sum(p4[..., :3] ** 2, axis=-1), 0.0))


def _event_sums(counts: np.ndarray, p4: np.ndarray) -> np.ndarray:
    return np.add.reduceat(p4, np.r_[0, np.cumsum(counts)[:-1]], axis=0)


def _mean_energy(m: float, t: float) -> float:
    a = m / t
    return m * kve(1, a) / kve(2, a) + 3.0 * t


@pytest.mark.parametrize("mass", [125.0, 1000.0])
@pytest.mark.parametrize("boosted", [False, True])
def test_four_momentum_conserved_per_event(mass: float, boosted: bool) -> None:
    rng = np.random.default_rng(7)
    parents = _boosted(mass, 10, rng) if boosted else _at_rest(mass, 10)
    counts, p4, pid = thermal_shower(parents, rng)
    assert counts.dtype == np.int64 and p4.dtype == np.float64 and pid.dtype == np.int32
    assert counts.shape == (10,) and p4.shape == (counts.sum(), 4) and pid.shape == (counts.sum(),)
    assert np.all(counts >= 4) and np.all(counts % 2 == 0)
    diff = np.abs(_event_sums(counts, p4) - parents).max(axis=1)
    assert np.all(diff <= 1e-9 * parents[:, 3])


@pytest.mark.parametrize("lepton_fraction", [0.0, 0.3, 1.0])
def test_pairs_reconstruct_meson_and_daughter_masses(lepton_fraction: float) -> None:
    rng = np.random.default_rng(3)
    meson_mass = 2.0
    counts, p4, pid = thermal_shower(
        _boosted(400.0, 5, rng), rng, meson_mass=meson_mass, lepton_fraction=lepton_fraction
    )
    pairs = p4.reshape(-1, 2, 4)
    np.testing.assert_allclose(_mass(pairs.sum(axis=1)), meson_mass, atol=1e-6)
    expected = np.where(np.abs(pid) == 13, MUON_MASS, PION_MASS)
    np.testing.assert_allclose(_mass(p4), expected, atol=1e-6)
    pid_pairs = pid.reshape(-1, 2)
    assert np.all(pid_pairs[:, 0] == -pid_pairs[:, 1]) and np.all(pid_pairs[:, 0] > 0)


def test_lepton_fraction_selects_species() -> None:
    parents = _at_rest(125.0, 4)
    _, _, pid = thermal_shower(parents, np.random.default_rng(0), lepton_fraction=0.0)
    assert set(np.unique(pid)) == {211, -211}
    _, _, pid = thermal_shower(parents, np.random.default_rng(0), lepton_fraction=1.0)
    assert set(np.unique(pid)) == {13, -13}
    _, _, pid = thermal_shower(_at_rest(1000.0, 4), np.random.default_rng(0), lepton_fraction=0.5)
    muon_share = np.mean(np.abs(pid) == 13)
    assert 0.4 < muon_share < 0.6


def test_multiplicity_scales_with_mass_and_temperature() -> None:
    rng = np.random.default_rng(11)

    def mean_mesons(mass: float, t: float, n: int = 40) -> float:
        counts, _, _ = thermal_shower(_at_rest(mass, n), rng, temperature=t)
        return float(np.mean(counts)) / 2.0

    n125, n1000 = mean_mesons(125.0, 1.0), mean_mesons(1000.0, 1.0, 10)
    n_cold, n_hot = mean_mesons(125.0, 0.5), mean_mesons(125.0, 2.0)
    assert 20.0 < n125 < 60.0  # O(tens) for M=125, m=T=1
    assert n1000 > 6.0 * n125
    assert n_cold > n125 > n_hot
    # mean multiplicity ~ M / <E>, with <E> the Maxwell-Juttner mean energy
    for mass, t, n_mean in [(125.0, 1.0, n125), (1000.0, 1.0, n1000),
                            (125.0, 0.5, n_cold), (125.0, 2.0, n_hot)]:
        assert n_mean == pytest.approx(mass / _mean_energy(1.0, t), rel=0.1)


def test_isotropic_in_rest_frame() -> None:
    counts, p4, _ = thermal_shower(_at_rest(1000.0, 20), np.random.default_rng(5))
    p3 = p4[:, :3]
    cos_t = p3[:, 2] / np.linalg.norm(p3, axis=1)
    assert abs(cos_t.mean()) < 0.05
    assert np.var(cos_t) == pytest.approx(1.0 / 3.0, rel=0.1)
    sphericity = []
    for ev in np.split(p3, np.cumsum(counts)[:-1]):
        tensor = ev.T @ ev / np.sum(ev * ev)
        eig = np.sort(np.linalg.eigvalsh(tensor))
        sphericity.append(1.5 * (eig[0] + eig[1]))
    assert np.mean(sphericity) > 0.85


@pytest.mark.parametrize(("m", "t"), [(1.0, 1.0), (0.3, 5.0), (10.0, 1.0), (1.0, 0.05)])
def test_momentum_sampler_follows_maxwell_juttner(m: float, t: float) -> None:
    p = _sample_momenta(20000, np.random.default_rng(2), _envelope(m / t), m)
    assert p.shape == (20000,) and np.all(p > 0.0)
    assert np.mean(np.hypot(p, m)) == pytest.approx(_mean_energy(m, t), rel=0.02)
    grid = np.linspace(0.0, 60.0 * max(t, np.sqrt(m * t)), 20001)
    density = grid**2 * np.exp(-(np.hypot(grid, m) - m) / t)
    cdf = cumulative_trapezoid(density, grid, initial=0.0)
    cdf /= cdf[-1]
    assert stats.kstest(p, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3


def test_near_threshold_gives_two_back_to_back_mesons() -> None:
    counts, p4, _ = thermal_shower(_at_rest(2.5, 20), np.random.default_rng(1), temperature=5.0)
    assert np.all(counts == 4)
    mesons = p4.reshape(-1, 2, 4).sum(axis=1).reshape(-1, 2, 4)
    np.testing.assert_allclose(mesons.sum(axis=1), _at_rest(2.5, 20), atol=1e-9)


def test_deterministic_given_seed() -> None:
    parents = _at_rest(125.0, 3)
    a = thermal_shower(parents, np.random.default_rng(42), lepton_fraction=0.5)
    b = thermal_shower(parents, np.random.default_rng(42), lepton_fraction=0.5)
    c = thermal_shower(parents, np.random.default_rng(43), lepton_fraction=0.5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert a[1].shape != c[1].shape or not np.array_equal(a[1], c[1])


def test_empty_input() -> None:
    counts, p4, pid = thermal_shower(np.empty((0, 4)), np.random.default_rng(0))
    assert counts.shape == (0,) and p4.shape == (0, 4) and pid.shape == (0,)


@pytest.mark.parametrize(
    ("parents", "kwargs", "match"),
    [
        (np.zeros((3, 3)), {}, "shape"),
        (np.zeros(4), {}, "shape"),
        (np.array([[0.0, 0.0, np.nan, 125.0]]), {}, "non-finite"),
        (np.array([[0.0, 0.0, 0.0, 125.0]]), {"meson_mass": 0.2}, "meson_mass"),
        (np.array([[0.0, 0.0, 0.0, 125.0]]), {"meson_mass": 0.2, "lepton_fraction": 0.5}, "meson_mass"),
        (np.array([[0.0, 0.0, 0.0, 125.0]]), {"temperature": 0.0}, "temperature"),
        (np.array([[0.0, 0.0, 0.0, 125.0]]), {"temperature": -1.0}, "temperature"),
        (np.array([[0.0, 0.0, 0.0, 125.0]]), {"lepton_fraction": -0.1}, "lepton_fraction"),
        (np.array([[0.0, 0.0, 0.0, 125.0]]), {"lepton_fraction": 1.5}, "lepton_fraction"),
        (np.array([[0.0, 0.0, 0.0, 125.0], [0.0, 0.0, 0.0, 1.5]]), {}, "parent 1 invariant mass"),
        (np.array([[100.0, 0.0, 0.0, 50.0]]), {}, "invariant mass"),
        (np.array([[0.0, 0.0, 0.0, -125.0]]), {}, "invariant mass"),
    ],
)
def test_invalid_inputs_raise(parents: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        thermal_shower(parents, np.random.default_rng(0), **kwargs)


def test_muon_only_allows_lighter_mesons() -> None:
    counts, p4, pid = thermal_shower(
        _at_rest(10.0, 2), np.random.default_rng(0), meson_mass=0.25, lepton_fraction=1.0
    )
    assert set(np.unique(pid)) == {13, -13}
    np.testing.assert_allclose(_event_sums(counts, p4), _at_rest(10.0, 2), atol=1e-9)


def test_dark_photon_chain_reconstructs_both_masses_and_the_branching_fractions() -> None:
    from codesign.data.processes import SUEP_ICHEP
    from codesign.data.suep import ELECTRON_MASS

    rng = np.random.default_rng(11)
    parents = _boosted(1000.0, 8, rng)
    counts, p4, pid = thermal_shower(parents, rng, **SUEP_ICHEP)
    assert np.all(counts % 4 == 0)
    diff = np.abs(_event_sums(counts, p4) - parents).max(axis=1)
    assert np.all(diff <= 1e-9 * parents[:, 3])
    pairs = p4.reshape(-1, 2, 4)
    np.testing.assert_allclose(_mass(pairs.sum(axis=1)), SUEP_ICHEP["dark_photon_mass"], atol=1e-6)
    np.testing.assert_allclose(_mass(p4.reshape(-1, 4, 4).sum(axis=1)), SUEP_ICHEP["meson_mass"], atol=1e-6)
    expected = np.select([np.abs(pid) == 13, np.abs(pid) == 11], [MUON_MASS, ELECTRON_MASS], PION_MASS)
    np.testing.assert_allclose(_mass(p4), expected, atol=1e-6)
    code = np.abs(pid[::2])
    n = len(code)  # several thousand A' decays: fractions within 4 sigma of 15/15/70%
    for c, share in ((11, 0.15), (13, 0.15), (211, 0.70)):
        assert abs(np.mean(code == c) - share) < 4 * np.sqrt(share * (1 - share) / n)


def test_dark_photon_inputs_are_checked() -> None:
    one = np.array([[0.0, 0.0, 0.0, 125.0]])
    with pytest.raises(ValueError, match="dark_photon_mass"):
        thermal_shower(one, np.random.default_rng(0), meson_mass=2.0, dark_photon_mass=0.2)
    with pytest.raises(ValueError, match="meson_mass"):
        thermal_shower(one, np.random.default_rng(0), meson_mass=1.0, dark_photon_mass=0.7)
    with pytest.raises(ValueError, match="electron_fraction"):
        thermal_shower(one, np.random.default_rng(0), lepton_fraction=0.6, electron_fraction=0.5)
