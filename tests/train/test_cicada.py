"""CICADA training (issue 11): the target transform, the synthetic outliers, the card, a smoke train on
tiny hand-made events (no event generation)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from codesign.data import views
from codesign.data.objects import Collection, Events
from codesign.errors import CodesignError
from codesign.metrics.report import Sample
from codesign.train.axol1tl import Samples
from codesign.train.cicada import ET_MAX, OUTLIER_KINDS, TEACHER_FILE, epochs_per_round, outliers, train
from codesign.zoo import load_card
from codesign.zoo.card import models_dir
from codesign.zoo.cicada import REGIONS, target
from codesign.zoo.loading import load_model


def test_target_is_log_mse_times_32_on_the_score_grid_and_range():
    mse = np.array([0.0, 0.5, 1.0, np.e, 2.0, np.exp(8.0), 1e30])
    y = target(mse)
    np.testing.assert_array_equal(y[[0, 1, 2]], 0.0)  # log <= 0 clipped to 0 (MSE 0 too, no NaN)
    assert y[3] == 32.0 and y[5] == y[6] == 256 - 2**-8  # the largest ap_ufixed<16,8>
    assert y[4] == np.round(np.log(2.0) * 32 * 256) / 256 and y[4] * 256 == int(y[4] * 256)
    rng = np.random.default_rng(0)
    y = target(rng.exponential(50.0, 10_000))
    assert np.all((y >= 0) & (y < 256)) and np.array_equal(y * 256, np.round(y * 256))


def test_outliers_kinds_and_ranges():
    background = np.random.default_rng(0).integers(0, 8, (50, 252))
    x, kind = outliers(background, 400, np.random.default_rng(1), min_et=64)
    assert x.shape == (400, 252) and x.min() >= 0 and x.max() <= ET_MAX
    assert np.array_equal(np.bincount(kind), np.full(len(OUTLIER_KINDS), 100))
    assert np.all((x >= 64).sum(axis=1)[kind == 0] >= 1)  # one hot region
    assert np.all((x >= 32).sum(axis=1)[kind == 1] >= 4)  # a 2x2 cluster
    assert np.all((x > 8).sum(axis=1)[kind == 2] >= 1)  # regions above the background's range
    assert np.all((x == ET_MAX).sum(axis=1)[kind == 3] >= 1)  # saturated regions
    assert np.all((x == ET_MAX).sum(axis=1)[kind == 3] <= 3)
    again, _ = outliers(background, 400, np.random.default_rng(1), min_et=64)
    assert np.array_equal(x, again)
    with pytest.raises(CodesignError, match="shape"):
        outliers(background[:, :10], 4, np.random.default_rng(1))


def test_card_loads_with_identity_scaling_and_output_score():
    card = load_card("cicada")
    scaling = card.scaling()
    assert scaling.offsets.shape == (252,) and not scaling.offsets.any() and not scaling.shifts.any()
    assert card.score().kind == "output" and card.score().format.hls() == "ap_ufixed<16,8,AP_RND_CONV,AP_SAT>"


def _events(regions_gev: np.ndarray) -> Events:
    n = len(regions_gev)
    empty = Collection.sorted_by_pt(np.zeros(0, int), n, np.zeros(0), np.zeros(0), np.zeros(0), iso=np.zeros(0, bool))
    pf = Collection.sorted_by_pt(np.zeros(0, int), n, np.zeros(0), np.zeros(0), np.zeros(0),
                                 dxy=np.zeros(0), dxysig=np.zeros(0), pid=np.zeros(0, np.int32))
    return Events(empty, empty, empty, empty, pf, np.zeros(n), np.zeros(n), regions_gev, np.zeros(n, np.int32))


def _sample(name: str, regions_gev: np.ndarray, rng) -> tuple[Sample, np.ndarray]:
    events = _events(regions_gev)
    return Sample(name, name, events, rng.uniform(0.5, 1.5, len(regions_gev))), views.cicada(events)


@pytest.fixture(scope="module")
def tiny() -> tuple[Samples, dict]:
    """Hand-made events: soft exponential region ETs (zero bias); the signal has one hot 2x2 cluster."""
    rng = np.random.default_rng(3)
    soft = lambda n: rng.exponential(2.0, (n, *REGIONS))  # noqa: E731
    signal = soft(300)
    signal[:, 4:6, 6:8] += rng.uniform(40, 200, (300, 1, 1))
    parts = {"background": soft(700), "reference": soft(800), "hot": signal}
    loaded = {key: _sample(key, regions, rng) for key, regions in parts.items()}
    samples = Samples(loaded["background"][0], loaded["reference"][0], {"hot": loaded["hot"][0]})
    return samples, {key: raw for key, (_, raw) in loaded.items()}


#: dense1's final sparsity in the tiny trainings.
SPARSITY = 0.7


def _tiny_card(folder):
    shutil.copytree(models_dir() / "cicada", folder, ignore=shutil.ignore_patterns("*.h5", "*.json", "*.md"))
    card = load_card(folder)
    card.data["training"].update(teacher={"events": 300, "epochs": 2, "reference_events": 500},
                                 student={"events": 300, "epochs": 3}, rounds=2, batch_size=64, signals=["hot"])
    card.data["quantization"] = {"layers": {"dense1": {"pruning": {"final_sparsity": SPARSITY}}}}
    card.data["working_points"]["thresholds"] = None
    card.save()
    return load_card(folder)


def test_smoke_train_writes_a_loadable_deterministic_model(tmp_path, tiny):
    graphs = []
    for run in ("a", "b"):
        metrics = train(_tiny_card(tmp_path / run), *tiny)
        graphs.append(load_model(tmp_path / run).graph.to_json())
        assert (tmp_path / run / TEACHER_FILE).is_file()
    assert graphs[0] == graphs[1]
    # dense1 is pruned (one schedule over both rounds' epochs); the rest only where weights quantize to zero
    zeros = metrics["training"]["zero_weight_fraction"]
    assert set(zeros) == {"conv", "dense1", "dense2"} and zeros["conv"] < 0.5
    assert zeros["dense1"] * 4032 >= round(SPARSITY * 4032)
    dense1 = next(op for op in load_model(tmp_path / "a").graph.ops if op.name == "dense1")
    assert np.mean(dense1.weight == 0) == zeros["dense1"]
    card = load_card(tmp_path / "a")
    thresholds = card.thresholds()
    assert set(thresholds) == {"Loose", "Medium", "Tight"}
    assert thresholds["Tight"] >= thresholds["Medium"] >= thresholds["Loose"]
    on_disk = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics)) and on_disk["training"]["outliers"] == 60
    hot = on_disk["signals"]["hot"]
    assert 0.0 <= hot["auc_firmware"] <= 1.0 and hot["auc_teacher"] > 0.9  # the hot cluster is far from the soft events
    assert -1.0 <= hot["agreement"]["correlation"] <= 1.0


def test_pruning_of_a_layer_the_student_lacks_is_refused(tmp_path, tiny):
    card = _tiny_card(tmp_path / "p")
    card.data["quantization"] = {"layers": {"conv": {"pruning": {"final_sparsity": 0.5}}}}
    card.data["architecture"]["student"] = "v1"  # the dense student has no conv
    with pytest.raises(CodesignError, match="quantization.layers names conv; the model's layers are dense1, dense2"):
        train(card, *tiny)
    card.data["quantization"] = {"pruning": {"final_sparsity": 1.0}}
    with pytest.raises(CodesignError, match=r"final_sparsity must be a number in \[0, 1\), got 1.0 for dense1"):
        train(card, *tiny)
    assert not (tmp_path / "p" / "encoder.h5").exists()


def test_epochs_shared_over_alternating_rounds():
    assert epochs_per_round(50, 5) == [10] * 5 and epochs_per_round(5, 5) == [1] * 5  # the deployed recipe's 1:10
    assert epochs_per_round(7, 3) == [2, 2, 3] and epochs_per_round(4, 1) == [4]


def test_rounds_beyond_the_epochs_are_refused(tmp_path, tiny):
    card = _tiny_card(tmp_path / "r")
    card.data["training"]["rounds"] = 3  # the teacher has 2 epochs
    with pytest.raises(CodesignError, match="training.rounds must be an integer from 1 to"):
        train(card, *tiny)
    assert not (tmp_path / "r" / "encoder.h5").exists()


def test_training_refuses_more_events_than_the_zero_bias_has(tmp_path, tiny):
    card = _tiny_card(tmp_path / "c")
    card.data["training"]["student"]["events"] = 10_000
    with pytest.raises(CodesignError, match="lower them"):
        train(card, *tiny)
    assert not (tmp_path / "c" / "encoder.h5").exists()


def test_cli_refuses_a_family_without_training(tmp_path, capsys):
    from codesign.cli import main

    card = _tiny_card(tmp_path / "x")
    card.data["family"] = "nope"
    card.save()
    assert main(["train", str(tmp_path / "x")]) != 0
    assert "family 'nope' is not implemented (known: vae, vae_gan, cicada)" in capsys.readouterr().err
