"""Vectors that find faults random vectors miss: per-input sensitivity and comparator boundaries.

* `sensitivity_counts`: one input at a time, at every power-of-two magnitude of its format and at
  both ends, both signs, the others zero: a wrong weight, shift or cast on one input path shows.
* `overrange_counts`: one input at a time just and far beyond either end of its format, where the
  input cast saturates: a cast that wraps instead shows on every input.
* `threshold_vectors`: raw trigger inputs whose score lands exactly on each working point's
  threshold and one score LSB either side, so a comparator off by one LSB (or `>` written `>=`) shows.
  Found by sweeping one feature of random events over its raw range, then every raw value between
  the two sweep points that bracket the target.
* `raw_edge_vectors`: raw trigger inputs for the whole-chain checks (uniform, extremes, saturating
  values, rounding ties, and the two kinds above); `trigger_counts`: the emulator's trigger outputs
  keyed like the trigger RTL's output groups.
"""

from __future__ import annotations

import numpy as np

from codesign.cache import cached_array
from codesign.fixed.emulator import emulate_ints
from codesign.fixed.fixed_format import FixedFormat

PER_TARGET = 24  # vectors kept per (threshold, offset)
SWEEP_POINTS = 128  # coarse points per one-feature sweep
SWEEPS_PER_ROUND = 32
ROUNDS = 40


def sensitivity_counts(fmt: FixedFormat, n_in: int) -> np.ndarray:
    """(rows, n_in) counts: each input alone at +-2**k (k = 0.. the width) and at the format's extremes."""
    magnitudes = [2**k for k in range(fmt.width - int(fmt.signed))]
    values = sorted({v for m in magnitudes for v in (m, -m) if fmt.min_int <= v <= fmt.max_int} | {fmt.min_int, fmt.max_int})
    return _one_hot([v for v in values if v != 0], n_in)


def overrange_counts(fmt: FixedFormat, n_in: int) -> np.ndarray:
    """(rows, n_in) counts beyond the format's range, each input alone 1, 2 and 2**(width-1) LSBs past either
    end, the others zero: the cast into `fmt` saturates them, so a cast that wraps (or clips elsewhere) shows."""
    past = (1, 2, 2 ** (fmt.width - 1))
    return _one_hot([fmt.max_int + d for d in past] + [fmt.min_int - d for d in past], n_in)


def _one_hot(values: list[int], n_in: int) -> np.ndarray:
    """Each input alone at each of `values`, the others zero: (n_in * len(values), n_in) counts."""
    rows = np.zeros((n_in * len(values), n_in), dtype=np.int64)
    for i in range(n_in):
        rows[i * len(values):(i + 1) * len(values), i] = values
    return rows


def chain_scores(chain, raw_counts: np.ndarray) -> np.ndarray:
    """Score counts of the trigger chain for raw input counts (the emulator, integer path)."""
    x = chain.scaling.apply(raw_counts, chain.graph.input_format).reshape(len(raw_counts), *chain.graph.input_shape)
    out = emulate_ints(chain.graph, x).reshape(len(raw_counts), -1)
    return chain.score.apply(out, chain.graph.output_format)


def threshold_vectors(chain, rng: np.random.Generator, offsets=(-1, 0, 1)) -> np.ndarray:
    """Raw input counts whose score is exactly ``threshold + offset`` for every working point and offset.

    The search (seconds) runs on its own generator seeded from `rng`, so its result can be cached per chain and
    seed and `rng` moves on the same whether the search ran or was loaded."""
    seed = int(rng.integers(2**63))
    settings = {"graph": chain.graph.to_json(), "chain": chain.to_dict(), "seed": seed, "offsets": list(offsets),
                "search": [PER_TARGET, SWEEP_POINTS, SWEEPS_PER_ROUND, ROUNDS]}
    return cached_array("threshold-vectors", settings,
                        lambda: _search_thresholds(chain, np.random.default_rng(seed), offsets))


def _search_thresholds(chain, rng: np.random.Generator, offsets) -> np.ndarray:
    """The search of `threshold_vectors`."""
    raw_fmt = chain.scaling.raw_format
    n_in = int(np.prod(chain.graph.input_shape))
    grid = np.unique(np.linspace(raw_fmt.min_int, raw_fmt.max_int, SWEEP_POINTS).round().astype(np.int64))
    targets = {t + d: [] for t in sorted(set(chain.thresholds.values())) for d in offsets}
    for _ in range(ROUNDS):
        missing = [t for t, kept in targets.items() if len(kept) < PER_TARGET]
        if not missing:
            break
        bases = np.stack([_random_event(chain, rng, n_in) for _ in range(SWEEPS_PER_ROUND)])
        features = rng.integers(n_in, size=SWEEPS_PER_ROUND)
        coarse = np.repeat(bases[:, None], len(grid), axis=1)
        coarse[np.arange(SWEEPS_PER_ROUND), :, features] = grid
        scores = chain_scores(chain, coarse.reshape(-1, n_in)).reshape(SWEEPS_PER_ROUND, len(grid))
        fine = []
        for target in missing:  # the first bracketing interval of each sweep, swept value by value
            below = scores <= target
            for sweep, k in zip(*np.nonzero(below[:, :-1] != below[:, 1:])):
                rows = np.repeat(bases[sweep][None], grid[k + 1] - grid[k] + 1, axis=0)
                rows[:, features[sweep]] = np.arange(grid[k], grid[k + 1] + 1)
                fine.append(rows)
        if fine:
            fine = np.concatenate(fine)
            fine_scores = chain_scores(chain, fine)
            for target in missing:
                kept = targets[target]
                kept.extend(np.unique(fine[fine_scores == target], axis=0)[: PER_TARGET - len(kept)])
    return np.array([v for kept in targets.values() for v in kept], dtype=np.int64).reshape(-1, n_in)


def raw_edge_vectors(chain, n: int, rng: np.random.Generator) -> np.ndarray:
    """Raw hardware inputs: uniform over the raw range, zeros, extremes, per-feature sensitivity vectors
    around the offsets, scores exactly on each comparator threshold and one LSB either side, and per
    feature values around its offset whose shifted image spans twice the network input range (through
    saturation, with random bits below the right shift's LSB), every other one landing exactly on a
    rounding tie of the cast where the shift allows one.  Clipped to the raw range."""
    scaling, net_fmt = chain.scaling, chain.graph.input_format
    raw_fmt, shifts = scaling.raw_format, scaling.shifts
    n_in = chain.graph.input_shape[-1]
    counts = [rng.integers(raw_fmt.min_int, raw_fmt.max_int, (n // 2, n_in), endpoint=True)]
    counts += [np.zeros((1, n_in)), np.full((1, n_in), raw_fmt.max_int), np.full((1, n_in), raw_fmt.min_int)]
    counts += [scaling.offsets * 2**raw_fmt.frac + sensitivity_counts(raw_fmt, n_in), threshold_vectors(chain, rng)]
    drop = max(raw_fmt.frac - net_fmt.frac, 0)  # bits the cast removes after the shift
    span = 2 ** (net_fmt.width + drop)  # the network input range, in raw counts after the shift
    rows = n - n // 2
    if drop > 0:  # half the rows on half-LSB ties of the cast, each half stratified on its own
        plain, ties = _stratified(rng, rows - rows // 2, -span, span, n_in), _stratified(rng, rows // 2, -span, span, n_in)
        shifted = np.concatenate([plain, ties // 2**drop * 2**drop + 2 ** (drop - 1)])
    else:
        shifted = _stratified(rng, rows, -span, span, n_in)
    right, left = np.maximum(shifts, 0), np.maximum(-shifts, 0)
    below = rng.integers(0, 2**right, shifted.shape)  # bits the right shift drops (floor)
    difference = np.where(shifts >= 0, shifted * 2.0**right + below, np.floor(shifted * 2.0**-left))
    counts.append(scaling.offsets * 2.0**raw_fmt.frac + difference)
    return raw_fmt.to_float(np.clip(np.concatenate(counts), raw_fmt.min_int, raw_fmt.max_int))


def _stratified(rng: np.random.Generator, rows: int, low: int, high: int, n_in: int) -> np.ndarray:
    """(rows, n_in) integers in [low, high): per column a random order of `rows` equal strata of the range, each
    drawn at a random point inside it.  Unlike independent uniform draws, every stratum is hit: with at least as
    many rows as values, every value (independent draws left ~1 in 130 values of a narrow saturating window out)."""
    edges = low + np.arange(rows + 1) * (high - low) // max(rows, 1)
    width = np.maximum(edges[1:] - edges[:-1], 1)[:, None]
    draws = edges[:-1, None] + (rng.random((rows, n_in)) * width).astype(np.int64)
    return rng.permuted(draws, axis=0)


def trigger_counts(chain, raw_counts: np.ndarray) -> dict[str, np.ndarray]:
    """The emulator's trigger outputs keyed like the trigger RTL's output groups (network, score, wp_<name>)."""
    counts = chain.emulate_counts(raw_counts)
    n = len(raw_counts)
    return {"network": counts["network"].reshape(n, -1), "score": np.asarray(counts["score"]).reshape(n, 1),
            **{f"wp_{name}": counts[name].reshape(n, 1) for name in chain.thresholds}}


def _random_event(chain, rng: np.random.Generator, n_in: int) -> np.ndarray:
    """Raw counts near the offsets (where the network's inputs are small), at a random magnitude."""
    raw_fmt = chain.scaling.raw_format
    spread = 2.0 ** rng.integers(0, raw_fmt.width - 1) * 2.0 ** chain.scaling.shifts
    centre = chain.scaling.offsets * 2.0**raw_fmt.frac
    counts = np.round(centre + rng.uniform(-1, 1, n_in) * spread)
    return np.clip(counts, raw_fmt.min_int, raw_fmt.max_int).astype(np.int64)
