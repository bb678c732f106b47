"""Sweep files, card overrides, point keys, the Pareto front, event subsets and per-layer quantizers."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data.views import axol1tl
from codesign.errors import CodesignError
from codesign.sweep import front_mask, load_grid
from codesign.sweep.grid import apply
from codesign.sweep.run import subsample
from codesign.zoo import load_card
from tests.sweep.conftest import synthetic_events, synthetic_sample, tiny_card

GRID = """
epochs: 2
events: {background: 500}
grid:
  architecture.encoder: [[8], [4]]
  quantization.layers.enc0.weight: [{bits: 3, integer: 1}, {bits: 6, integer: 2}]
  quantization.pruning.final_sparsity: [0.5]
"""


def _grid(tmp_path, text: str):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return load_grid(path)


def test_points_are_every_combination_keyed_by_card_and_values(tmp_path):
    card = load_card(tiny_card(tmp_path / "card"))
    points = _grid(tmp_path, GRID).points(card)
    assert [p.params["architecture.encoder"] for p in points] == [[8], [8], [4], [4]]
    assert len({p.key for p in points}) == 4
    assert _grid(tmp_path, GRID).points(card) == points  # deterministic
    assert _grid(tmp_path, GRID.replace("epochs: 2", "epochs: 3")).points(card)[0].key != points[0].key
    card.data["training"]["beta"] = 0.5
    card.save()
    assert _grid(tmp_path, GRID).points(load_card(card.folder))[0].key != points[0].key  # the card's hash


def test_apply_sets_entries_and_creates_layer_overrides(tmp_path):
    card = load_card(tiny_card(tmp_path / "card"))
    data = apply(card.data, {"quantization.layers.mu.bias": {"bits": 8, "integer": 4},
                             "architecture.latent": 4}, "here")
    assert data["quantization"]["layers"] == {"mu": {"bias": {"bits": 8, "integer": 4}}}
    assert data["architecture"]["latent"] == 4 and card.data["architecture"]["latent"] == 2  # a copy
    with pytest.raises(CodesignError, match="no entry architecture.latnet"):
        apply(card.data, {"architecture.latnet": 4}, "here")


@pytest.mark.parametrize("text, message", [
    ("epochs: 2\n", "needs a `grid:` mapping"),
    ("grid: {architecture.latent: 4}\n", "non-empty list"),
    ("grid: {reuse_factor: [1, 2]}\n", "cannot be swept: the sweep estimates the fully parallel"),
    ("grid: {inputs.size: [3]}\n", "not a sweepable card entry"),
    ("grid: {architecture.latent: [4]}\nepochs: 0\n", "epochs must be a positive integer"),
    ("grid: {architecture.latent: [4]}\nevents: {zerobias: 5}\n", "events must map"),
    ("grid: {architecture.latent: [4]}\nworkers: 3\n", "unknown entries workers"),
    ("grid: [\n", "not valid YAML"),
])
def test_bad_sweep_files_are_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(CodesignError, match=message) as err:
        _grid(tmp_path, text)
    assert "\n" not in str(err.value)


def test_front_is_the_non_dominated_set():
    rng = np.random.default_rng(0)
    lut, value = rng.integers(0, 20, 200).astype(float), rng.integers(0, 20, 200) / 20
    mask = front_mask(lut, value)
    dominated = [np.any((lut <= lut[i]) & (value >= value[i]) & ((lut < lut[i]) | (value > value[i])))
                 for i in range(len(lut))]
    assert not np.any(mask & np.array(dominated))
    # every non-dominated (LUT, objective) pair is on the front exactly once
    pairs = {(lut[i], value[i]) for i in range(len(lut)) if not dominated[i]}
    assert sorted(zip(lut[mask], value[mask])) == sorted(pairs)


def test_subsample_keeps_events_views_and_total_weight():
    sample, raw = synthetic_sample("reference", 500, seed=4)
    small, small_raw = subsample(sample, raw, 120, np.random.default_rng(1))
    assert len(small.weights) == 120 and small.events.n_events == 120
    assert np.isclose(small.weights.sum(), sample.weights.sum())
    assert np.array_equal(axol1tl(small.events), small_raw)  # the events and their view stay together
    assert subsample(sample, raw, None, np.random.default_rng(1))[0] is sample


def test_event_subset_equals_the_view_rows():
    events = synthetic_events(300, np.random.default_rng(2), 1.0)
    rows = np.array([0, 5, 6, 100, 299])
    assert np.array_equal(axol1tl(events.take(rows)), axol1tl(events)[rows])


def test_per_layer_weight_bits_reach_the_graph(tmp_path):
    from codesign.fixed.graph import Dense
    from codesign.fixed.lower import lower_keras
    from codesign.zoo import axol1tl as builder

    card = load_card(tiny_card(tmp_path / "card"))
    card.data = apply(card.data, {"quantization.layers.enc0.weight": {"bits": 3, "integer": 1}}, "test")
    _, encoder = builder.build(card)
    rng = np.random.default_rng(0)
    for layer in encoder.layers:
        if hasattr(layer, "kernel"):
            layer.kernel.assign(rng.normal(0, 2, layer.kernel.shape))
    dense = [op for op in lower_keras(encoder)[0].ops if isinstance(op, Dense)]
    # enc0: 3 bits, 1 integer bit (counts of 1/2 in -4..3, all used by N(0, 2) weights); mu: the card's 6 bits
    assert (dense[0].weight_format.width, dense[0].weight_format.lsb) == (3, 0.5)
    assert np.unique(dense[0].weight).tolist() == [-4, -3, -2, -1, 0, 1, 2, 3]
    assert dense[1].weight_format.width == 6 and len(np.unique(dense[1].weight)) > 8
    card.data["quantization"]["layers"] = {"enc7": {}}
    with pytest.raises(CodesignError, match="quantization.layers names enc7"):
        builder.build(card)
