"""Zero bias: the stitching and its weights, Level-1 object occupancies, and replication in the tail.

Every check compares with something independent of the code under test: brute-force minimum bias, the
deployed AXOL1TL v4 zero-bias slot medians, Run-3 seed rates, or a deliberately starved pileup pool.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from codesign.data import GenerationRequest, generate, read_events, read_view, read_weights, rootio
from codesign.cache import cache_dir
from codesign.data import detector, pileup, zerobias
from codesign.data.generator import PythiaGenerator
from codesign.data.objects import Collection
from codesign.data.particles import Particles
from codesign.data.processes import get_process
from codesign.data.pileup import PileupOverlay, PileupPool, load_pool, pool_file
from codesign.metrics.stats import fraction

CROSSING_RATE_KHZ = 28.61e3


def _leading(collection: Collection) -> np.ndarray:
    out = np.zeros(collection.n_events)
    first = collection.rank == 0
    out[collection.event_index[first]] = collection.pt[first]
    return out


@pytest.fixture(scope="module")
def zero_bias(tmp_path_factory):
    """`zero_bias(events, pileup, pool_events, seed)` -> path of a generated zero-bias sample."""
    folder = tmp_path_factory.mktemp("zerobias")
    made = {}

    def make(events: int, pileup: float, pool_events: int = 600, seed: int = 3):
        key = (events, pileup, pool_events, seed)
        if key not in made:
            request = GenerationRequest("zerobias", events, pileup=pileup, seed=seed, pool_events=pool_events, pf=False)
            made[key], _ = generate(request, folder / f"zb-{len(made)}.root", jobs=2, progress=False)
        return made[key]

    return make


def test_plan_weights_follow_the_cross_sections():
    components = zerobias.plan(10_000, pileup=60.0)
    assert sum(c.events for c in components) == 10_000
    assert sum(c.weight for c in components) == pytest.approx(1.0)
    for component, (_, _, sigma) in zip(components[1:], zerobias.QCD_SLICES):
        assert component.weight == pytest.approx(61.0 * sigma / zerobias.SIGMA_INELASTIC_MB)
    weights = np.concatenate([np.full(c.events, c.event_weight) for c in components])
    effective = weights.sum() ** 2 / (weights**2).sum()
    assert effective > 0.78 * 10_000  # Neyman allocation: 0.80 N, against 0.83 N at three times the CPU
    # a fresh Pythia event costs ~14 soft crossings: few of them, none heavier than HARD_WEIGHT_RATIO soft events
    assert 0.05 < 1 - components[0].events / 10_000 < 0.07
    assert max(c.event_weight for c in components) <= zerobias.HARD_WEIGHT_RATIO * components[0].event_weight
    assert min(c.events for c in components[1:]) >= zerobias.HARD_SHARE * 10_000 / len(zerobias.QCD_SLICES) - 1
    with pytest.raises(ValueError):
        zerobias.plan(5, pileup=60.0)


def test_sample_carries_normalised_weights_and_slice_pthat(zero_bias):
    path = zero_bias(400, 20.0)
    events = read_events(path)
    weights = read_weights(path)
    assert events.n_events == 400 and weights.sum() == pytest.approx(1.0)
    hard = events.pthat > 0
    assert hard.any() and (~hard).any()
    assert events.pthat[hard].min() >= 0.99 * zerobias.QCD_SLICES[0][0]  # massive quarks: pT-hat a hair below
    assert weights[hard].max() <= zerobias.HARD_WEIGHT_RATIO * weights[~hard].max()  # Neyman allocation
    assert weights[events.pthat > 80].max() < weights[~hard].max()  # the oversampled tail is light
    meta = rootio.read_metadata(path)
    assert meta["weighted"] and len(meta["zerobias"]["components"]) == 1 + len(zerobias.QCD_SLICES)


@pytest.mark.slow
def test_stitched_zero_bias_matches_brute_force_minimum_bias(tmp_path, zero_bias):
    """Without pileup a crossing is one inelastic interaction: the weighted stitching of the capped pool
    and the pT-hat slices must reproduce plain minimum bias, where jets of 20 GeV come from both parts."""
    brute_request = GenerationRequest("minbias", 4000, pileup=0.0, seed=5, pf=False)
    brute, _ = generate(brute_request, tmp_path / "minbias.root", jobs=2, progress=False)
    stitched = zero_bias(4000, 0.0, pool_events=4000)
    rates = []
    for path in (brute, stitched):
        events = read_events(path)
        rates.append(fraction(_leading(events.jet) > 20.0, events.weight))
    brute_rate, stitched_rate = rates
    sigma = np.hypot(brute_rate.high - brute_rate.low, stitched_rate.high - stitched_rate.low) / 2
    assert brute_rate.value > 0.005  # enough events for the comparison to mean something
    assert abs(brute_rate.value - stitched_rate.value) < 3 * sigma


def test_zero_bias_occupancies_match_run3_zero_bias(zero_bias):
    """Slot medians of present objects within +-30% of the deployed AXOL1TL v4 offsets (medians of real
    zero bias): jets 1, 4, 10 at 29, 13.5, 8 GeV; e/gamma 1 at 7 GeV; MET 18 GeV."""
    path = zero_bias(8000, 60.0)  # the sample of the seed-rate test: medians to ~2%
    x = read_view(path, "axol1tl")
    soft = read_events(path).pthat == 0
    assert np.mean(x[:, 3] > 0) > 0.9  # e/gamma fakes from pi0s and jets' EM showers
    assert np.mean(x[:, 27 + 3 * 9] > 0) > 0.03  # a 10th jet exists at pileup 60
    for column, median in ((0, 18.0), (3, 7.0), (27, 29.0), (27 + 9, 13.5), (27 + 27, 8.0)):
        present = x[soft, column][x[soft, column] > 0]
        assert 0.7 * median <= np.median(present) <= 1.3 * median, column


def test_single_jet_rate_from_a_small_weighted_sample(zero_bias):
    """SingleJet180 at pileup 60 from 8,000 weighted crossings: within a factor 3 of Run 3's ~4 kHz (it
    would be 61x off without the (mu + 1) interactions per crossing, and absent without the slices).  The slices
    put many light events in the tail; a soft crossing can pass too (an anomalous HF tower above 180 GeV, ~0.6 kHz),
    at a soft crossing's weight."""
    events = read_events(zero_bias(8000, 60.0))
    passed = _leading(events.jet) > 180.0
    rate = fraction(passed, events.weight)
    assert 4.0 / 3 < rate.value * CROSSING_RATE_KHZ < 4.0 * 3
    assert fraction(passed & (events.pthat > 0), events.weight).effective > 20


def test_reused_pool_interactions_do_not_shape_the_tail(zero_bias):
    """No pool interaction leads more than three of the crossings with a jet above 30 GeV (a share of the
    weight from one crossing is statistics, from many it is replication; 4,000 crossings draw each 15-30 GeV
    interaction of the 2,000 ~0.3 times, so three is already rare).  The same overlay with the 15-30 GeV tier
    cut to its three hardest interactions (as when one pool holds them at their natural share: the old
    design's failure) shows one interaction leading many, most of the tail."""
    events = read_events(zero_bias(4000, 5.0, pool_events=2000))
    passed = _leading(events.jet) > 30.0
    share = zerobias.tail_shares(events.weight, passed, events.lead_interaction)
    assert passed.sum() > 100 and share.pool_crossings <= 3, (passed.sum(), share)

    pool = load_pool(pool_file(3, 2000, jobs=1, progress=False))  # the sample's pool, cached
    last = pool.tier_starts[-2]  # the 15-30 GeV tier
    hardest = last + np.argsort(pool.hardness[last:])[-3:]  # cut to its three hardest interactions
    starts = pool.tier_starts
    tiers = [pool.particles.slice_events(starts[0], starts[1]), pool.particles.slice_events(starts[1], last),
             Particles.concatenate([pool.particles.slice_events(i, i + 1) for i in hardest])]
    starved = PileupPool.of(tiers, with_particles=False)
    rng = np.random.default_rng(1)
    drawn = PileupOverlay(starved, 5.0, rng).draw(1000, primary_from_pool=True)
    crossings = detector.simulate_inputs(drawn.deposits, drawn.muons, None, drawn.n_pileup, rng)
    passed = _leading(crossings.jet) > 30.0
    share = zerobias.tail_shares(np.ones(1000), passed, drawn.leading)
    assert share.pool_share > 0.3 and share.pool_crossings > 20, share


def test_pool_tiers_are_drawn_with_their_shares():
    """Each tier is drawn with its minimum-bias share and uniformly inside; a pool needs every tier."""
    fractions = zerobias.tier_fractions()
    assert fractions.sum() == pytest.approx(1.0) and 0.9 < fractions[0] < 0.97 and len(fractions) == 3
    particles = Particles(counts=np.ones(70, np.int64), pt=np.ones(70), eta=np.zeros(70), phi=np.zeros(70),
                          mass=np.zeros(70), pid=np.full(70, 211, np.int32), charge=np.ones(70, np.int8),
                          dxy=np.zeros(70), is_pileup=np.zeros(70, bool))
    pool = PileupPool.of([particles.slice_events(0, 50), particles.slice_events(50, 57), particles.slice_events(57, 70)])
    assert pool.n_interactions == 70 and pool.particles.n_events == 70
    drawn = pool.sample(400_000, np.random.default_rng(4))
    tier = np.searchsorted(pool.tier_starts, drawn, side="right") - 1
    shares = np.bincount(tier, minlength=3) / len(drawn)
    assert np.all(np.abs(shares - fractions) < 5 * np.sqrt(fractions / len(drawn))), (shares, fractions)
    inside = np.bincount(drawn[tier == 1] - 50, minlength=7)
    assert inside.min() > 0.8 * inside.mean()  # uniform inside a tier
    with pytest.raises(ValueError, match="tiers"):
        PileupPool.of([particles])


def test_pool_tiers_classify_by_the_hardest_scatter():
    """Pythia's p̂T of a diffractive event is the diffractive scattering's (below ~2 GeV) while its system's own
    multiparton interactions go higher: the hardest scatter is that, and Pythia's p̂T for every other event.
    A pool tier keeps exactly the interactions whose hardest scatter is in its window."""
    process, seed = get_process("minbias"), np.random.SeedSequence([3, 0, 0, 0xB1A5])
    pythia_seed = int(seed.generate_state(1)[0]) % 900_000_000 + 1  # the seed of `_pool_chunk`'s first chunk
    generated = PythiaGenerator(process, pythia_seed, cache_dir("pythia")).generate(pileup.POOL_CHUNK_EVENTS)
    scatter, pthat = generated.scatter_pt, generated.pthat
    harder = scatter > pthat
    assert np.all(scatter >= pthat) and 20 < harder.sum() < 500  # a share of the ~28% diffractive events
    assert pthat[harder].max() < 2.5 and scatter[harder].max() > 4.0
    kept = pileup._pool_chunk((3, 0, 0, process, 0.0, 3.0, cache_dir("pythia")))
    assert kept.n_events == np.count_nonzero(scatter < 3.0) < np.count_nonzero(pthat < 3.0)
    np.testing.assert_array_equal(kept.counts, generated.particles.counts[scatter < 3.0])


def test_local_maxima_equal_a_maximum_filter():
    """The gathered local-maximum search equals scipy's maximum filter on the same tie-broken grid."""
    rng = np.random.default_rng(1)
    grid = np.floor(rng.exponential(2.0, (4, detector.N_ETA_TOWERS, detector.N_PHI_TOWERS)) * 2) / 2
    order = np.arange(grid[0].size).reshape(grid.shape[1:])
    key = grid + order * (0.4 * detector.TOWER_LSB_GEV / order.size)
    for half_width, seed in ((4, 4.0), (1, 2.0)):
        peak = ndimage.maximum_filter(key, size=(1, 2 * half_width + 1, 2 * half_width + 1),
                                      mode=("constant", "constant", "wrap"), cval=-1.0)
        expected = np.nonzero((key == peak) & (grid >= seed))
        found = detector._local_maxima(grid, half_width, seed, max_eta=10.0)
        assert len(expected[0]) > 50
        for a, b in zip(found, expected):
            np.testing.assert_array_equal(a, b)


def test_box_sums_equal_direct_sums_with_phi_wrapping():
    """The in-place summed-area table gives the direct sum over any rectangle, phi wrapping, eta clipped."""
    rng = np.random.default_rng(2)
    grid = np.floor(rng.exponential(1.0, (3, detector.N_ETA_TOWERS, detector.N_PHI_TOWERS)) * 2) / 2
    boxes = detector._BoxSums(grid)
    ev = rng.integers(0, 3, 200)
    ieta, iphi = rng.integers(0, detector.N_ETA_TOWERS, 200), rng.integers(0, detector.N_PHI_TOWERS, 200)
    for eta_lo, eta_hi, phi_lo, phi_hi in ((-4, 4, -4, 4), (5, 7, -4, 4), (-4, 4, -7, -5), (-1, 1, -1, 1)):
        expected = np.array([
            grid[e, max(r + eta_lo, 0):max(r + eta_hi + 1, 0)][:, np.arange(c + phi_lo, c + phi_hi + 1) % detector.N_PHI_TOWERS].sum()
            for e, r, c in zip(ev, ieta, iphi)])
        np.testing.assert_allclose(boxes.rect(ev, ieta, iphi, eta_lo, eta_hi, phi_lo, phi_hi), expected, atol=1e-9)


def test_sliced_parts_weight_each_slice_by_its_cross_section():
    from codesign.data.processes import QCD_HT_SLICES

    parts = zerobias.sliced_parts(QCD_HT_SLICES, 1001)
    assert [n for _, n, _ in parts] == [251, 250, 250, 250]
    assert sum(n * w for _, n, w in parts) == pytest.approx(1.0)
    total = sum(s for _, _, s in QCD_HT_SLICES)
    for (process, n, w), (lo, hi, sigma) in zip(parts, QCD_HT_SLICES):
        assert n * w == pytest.approx(sigma / total)
        assert f"PhaseSpace:pTHatMin = {lo:g}" in process.settings and f"PhaseSpace:pTHatMax = {hi:g}" in process.settings


def test_a_pool_without_particles_gives_the_same_level1_inputs():
    """Level-1-only samples load the pool without its particles (a third of the memory): the deposits and muon
    sources every draw gathers are the same, and asking it for particles is an error, not an empty PF.  The tiers
    have their sizes (the 15-30 GeV one 2.5 times the others)."""
    paths = pool_file(3, 2000, jobs=1, progress=False)
    full = load_pool(paths)
    assert tuple(np.diff(full.tier_starts)) == zerobias.pool_tier_sizes(2000) == (2000, 2000, 5000)
    assert full.particles.pt.dtype == np.float32  # kept in single precision, after the deposits
    lean = load_pool(paths, with_particles=False)
    assert lean.particles is None and lean.n_interactions == full.n_interactions
    a = PileupOverlay(full, 20.0, np.random.default_rng(5)).draw(300, primary_from_pool=True)
    b = PileupOverlay(lean, 20.0, np.random.default_rng(5)).draw(300, primary_from_pool=True)
    for name in ("deposits", "muons"):
        for column, values in vars(getattr(a, name)).items():
            np.testing.assert_array_equal(getattr(getattr(b, name), column), values, err_msg=f"{name}.{column}")
    np.testing.assert_array_equal(a.leading, b.leading)
    with pytest.raises(ValueError, match="without particles"):
        PileupOverlay(lean, 20.0, np.random.default_rng(5)).draw(3, with_particles=True)
