"""Training from a card: deterministic, pruned as asked, thresholds ordered by rate, card updated."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.fixed.graph import Dense
from codesign.train.axol1tl import train
from codesign.zoo import load_card
from codesign.zoo.card import models_dir
from codesign.zoo.loading import load_model


@pytest.fixture(scope="module")
def samples(training_samples):
    return training_samples("axol1tl")


def _tiny_card(folder, sparsity: float):
    shutil.copytree(models_dir() / "axol1tl", folder, ignore=shutil.ignore_patterns("*.h5", "metrics.json"))
    card = load_card(folder)
    card.data["architecture"] = {"encoder": [8], "latent": 3, "decoder": [8]}
    card.data["quantization"]["pruning"]["final_sparsity"] = sparsity
    card.data["quantization"].pop("layers", None)  # one sparsity and quantizer for every layer, no finetune
    card.data["training"].pop("finetune", None)
    card.data["training"].update(epochs=3, batch_size=64)
    card.data["inputs"]["scaling"] = {"offsets": None, "shifts": None}
    card.data["working_points"]["thresholds"] = None
    card.save()
    return load_card(folder)


def test_training_is_deterministic_and_complete(tmp_path, samples):
    graphs = []
    for run in ("a", "b"):
        card = _tiny_card(tmp_path / run, sparsity=0.5)
        metrics = train(card, *samples)
        graphs.append(load_model(tmp_path / run).graph.to_json())
    assert graphs[0] == graphs[1]
    card = load_card(tmp_path / "a")
    assert len(card.data["inputs"]["scaling"]["offsets"]) == 57
    thresholds = card.thresholds()
    assert thresholds["Tight"] >= thresholds["Medium"] >= thresholds["Loose"]
    assert 0.45 <= metrics["zero_weight_fraction"] <= 0.7
    on_disk = json.loads((tmp_path / "a" / "metrics.json").read_text())
    signal = on_disk["signals"]["zprime_ll"]
    assert set(signal) == {"events", "auc_firmware", "auc_float", "menu_efficiency", "efficiency_firmware",
                           "pure_efficiency_firmware", "efficiency_float"}
    # even 3 epochs separate Z' from zero bias, in firmware and in float (a latent collapsed to the prior does not)
    assert signal["auc_firmware"] > 0.6 and signal["auc_float"] > 0.6
    for wp, efficiency in signal["efficiency_firmware"].items():
        assert efficiency["low"] <= efficiency["value"] <= efficiency["high"]
        assert signal["pure_efficiency_firmware"][wp]["value"] <= efficiency["value"]
    for wp in on_disk["working_points"].values():  # 300 reference events cannot pin a kHz rate
        assert wp["flagged"] and wp["pure_rate_hz"]["value"] <= wp["rate_hz"]["value"]
    # scaling from present objects: no present angle saturates, in the background or the signal
    assert set(on_disk["input_saturation"]) == {"reference", "zprime_ll"}
    assert [name for sample in on_disk["input_saturation"].values() for name in sample
            if name.endswith(("_eta", "_phi"))] == []
    assert card.scaling().offsets[2] == 72  # MET phi centred on its 144 bins, not on zeros


def test_unpruned_training_keeps_weights(tmp_path, samples):
    metrics = train(_tiny_card(tmp_path / "dense", sparsity=0.0), *samples)
    assert metrics["zero_weight_fraction"] < 0.4  # only weights that quantize to zero (6 bits)
    assert np.isfinite(metrics["signals"]["zprime_ll"]["auc_float"])


def test_per_layer_sparsity_overrides_the_card_wide_one(tmp_path, samples):
    """`quantization.layers.enc0.pruning.final_sparsity` prunes the first layer alone; the others keep the
    card-wide sparsity (here none: only weights that quantize to zero)."""
    card = _tiny_card(tmp_path / "enc0", sparsity=0.0)
    card.data["quantization"]["layers"] = {"enc0": {"pruning": {"final_sparsity": 0.75}}}
    card.save()
    train(load_card(tmp_path / "enc0"), *samples)
    zeros = {op.name: float(np.mean(op.weight == 0)) for op in load_model(tmp_path / "enc0").graph.ops
             if isinstance(op, Dense)}
    assert zeros["enc0"] >= 0.75 and zeros["mu"] < 0.4, zeros


def test_finetune_prunes_the_named_layers_further(tmp_path, samples):
    """`training.finetune` trains more epochs after the main ones, pruning enc0 to its new sparsity; mu keeps
    the card-wide one.  A finetune naming no encoder layer is refused before anything is written."""
    card = _tiny_card(tmp_path / "ft", sparsity=0.5)
    card.data["training"]["finetune"] = {"epochs": 2, "sparsity": {"enc0": 0.9}}
    card.save()
    train(load_card(tmp_path / "ft"), *samples)
    zeros = {op.name: float(np.mean(op.weight == 0)) for op in load_model(tmp_path / "ft").graph.ops
             if isinstance(op, Dense)}
    assert zeros["enc0"] >= round(0.9 * 57 * 8) / (57 * 8) and 0.5 <= zeros["mu"] < 0.7, zeros  # whole weights
    bad = _tiny_card(tmp_path / "bad", sparsity=0.5)
    bad.data["training"]["finetune"] = {"epochs": 2, "sparsity": {"enc5": 0.9}}
    with pytest.raises(CodesignError, match="training.finetune must be"):
        train(bad, *samples)
    assert not (tmp_path / "bad" / "encoder.h5").exists()


def test_cosine_schedule_falls_to_its_final_fraction(tmp_path):
    """`learning_rate_schedule: cosine` takes Adam from the card's rate to `final_fraction` of it over the steps,
    half-way at the middle; without the key the rate is the card's, constant."""
    from codesign.train.schedule import learning_rate

    card = _tiny_card(tmp_path / "cos", sparsity=0.0)
    card.data["training"].update(learning_rate=1e-3, learning_rate_schedule={"kind": "cosine", "final_fraction": 0.01})
    rate = learning_rate(card, steps=100)
    at = [float(rate(step)) for step in (0, 50, 100, 400)]
    np.testing.assert_allclose(at, [1e-3, (1e-3 + 1e-5) / 2, 1e-5, 1e-5], rtol=1e-5)
    card.data["training"].pop("learning_rate_schedule")
    assert learning_rate(card, steps=100) == pytest.approx(1e-3)


def test_weight_averaging_writes_the_mean_of_the_last_epochs():
    """`WeightAveraging(epochs, last)` leaves the mean of the weights at the ends of the last `last` epochs."""
    import keras

    from codesign.train.schedule import WeightAveraging

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    x = np.random.default_rng(0).normal(size=(256, 4))
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    model.fit(x, x.sum(axis=1), epochs=5, batch_size=32, verbose=0, callbacks=[record, WeightAveraging(5, 3)])
    for i, weight in enumerate(model.get_weights()):
        expected = np.mean([s[i].astype(np.float64) for s in seen[2:]], axis=0).astype(np.float32)
        np.testing.assert_array_equal(weight, expected)
        assert not np.array_equal(weight, seen[-1][i])  # the last epoch's weights were replaced


@pytest.mark.parametrize("training", [{"learning_rate_schedule": {"kind": "step"}},
                                      {"learning_rate_schedule": {"kind": "cosine", "final_fraction": 0}},
                                      {"learning_rate_schedule": {"kind": "cosine", "final": 0.1}},
                                      {"average_epochs": 0}, {"average_epochs": 2.5}])
def test_bad_schedule_is_refused_before_anything_is_written(tmp_path, samples, training):
    card = _tiny_card(tmp_path / "bad", sparsity=0.5)
    card.data["training"].update(training)
    with pytest.raises(CodesignError, match=r"training\.(learning_rate_schedule|average_epochs) must be"):
        train(card, *samples)
    assert not (tmp_path / "bad" / "encoder.h5").exists()


def test_train_verb_refuses_a_bad_schedule_before_generating_samples(tmp_path, monkeypatch, capsys):
    """`codesign train FOLDER` checks the card's training entries before any sample is generated or read."""
    from codesign import cli
    from codesign.train import common

    def no_samples(*args, **kwargs):
        raise AssertionError("samples were loaded before the card was checked")

    monkeypatch.setattr(common, "load_samples", no_samples)
    card = _tiny_card(tmp_path / "bad", sparsity=0.5)
    card.data["training"]["learning_rate_schedule"] = {"kind": "cosine", "final_fraction": float("nan")}
    card.save()
    assert cli.main(["train", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert "training.learning_rate_schedule must be" in err and err.count("\n") == 0
    assert not (tmp_path / "bad" / "encoder.h5").exists()


@pytest.mark.parametrize("model", ["axol1tl", "gelato", "cicada", "cicada_v1"])
def test_train_verb_checks_every_committed_card_then_loads_samples(model, monkeypatch, capsys):
    """The committed cards pass their family's check (CICADA's epochs are the student's: `training.epochs` is not
    a key of its card) and the verb goes on to the samples."""
    from codesign import cli
    from codesign.train import common

    def samples_reached(*args, **kwargs):
        raise CodesignError("samples reached")

    monkeypatch.setattr(common, "load_samples", samples_reached)
    assert cli.main(["train", model]) == 2
    assert capsys.readouterr().err.strip().endswith("samples reached")


def test_train_verb_refuses_bad_cicada_rounds_before_generating_samples(tmp_path, monkeypatch, capsys):
    import shutil

    import yaml

    from codesign import cli
    from codesign.train import common
    from codesign.zoo.card import models_dir

    def no_samples(*args, **kwargs):
        raise AssertionError("samples were loaded before the card was checked")

    monkeypatch.setattr(common, "load_samples", no_samples)
    shutil.copytree(models_dir() / "cicada", tmp_path / "cic", ignore=shutil.ignore_patterns("*.h5"))
    data = yaml.safe_load((tmp_path / "cic" / "card.yaml").read_text())
    data["training"]["rounds"] = 0
    (tmp_path / "cic" / "card.yaml").write_text(yaml.safe_dump(data))
    assert cli.main(["train", str(tmp_path / "cic")]) == 2
    err = capsys.readouterr().err.strip()
    assert "training.rounds must be an integer" in err and err.count("\n") == 0
