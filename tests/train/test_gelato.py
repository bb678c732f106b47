"""GELATO's VAE-GAN from a card: deterministic, the latent not collapsed, unique-rate thresholds, the shifted
integer score of the written model equal to the emulated trigger's."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from codesign.train.gelato import fit, train
from codesign.zoo import load_card
from codesign.zoo.card import models_dir
from codesign.zoo.loading import load_model


@pytest.fixture(scope="module")
def samples(training_samples):
    return training_samples("gelato_tob")


def _tiny_card(folder):
    shutil.copytree(models_dir() / "gelato", folder, ignore=shutil.ignore_patterns("*.h5", "metrics.json"))
    card = load_card(folder)
    card.data["architecture"].update(encoder=[8], latent=3, decoder=[8], discriminator=[8])
    card.data["training"].update(epochs=3, batch_size=64)
    card.data["inputs"]["scaling"] = {"offsets": None, "shifts": None}
    card.data["working_points"]["thresholds"] = None
    card.save()
    return load_card(folder)


@pytest.mark.slow
def test_vae_gan_training(tmp_path, samples):
    train(_tiny_card(tmp_path / "a"), *samples)
    card = load_card(tmp_path / "a")
    # the same seed gives the same weights (the whole `train` adds only seeded or deterministic steps)
    x = _network_inputs(load_model(tmp_path / "a"), samples[1]["background"])
    runs = [fit(card, x, samples[0].background.weights, 1, quantized=True)[0].firmware.get_weights() for _ in "ab"]
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    assert set(card.thresholds()) == {"Loose", "Tight"} and card.thresholds()["Tight"] >= card.thresholds()["Loose"]
    on_disk = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert set(on_disk["final_losses"]["qat"]) == {"reconstruction", "kl", "adversarial", "discriminator", "generator"}
    assert on_disk["final_losses"]["qat"]["kl"] > 0.1  # the latent carries information
    assert 0.0 <= on_disk["baseline"]["auc"]["zprime_ll"] <= 1.0
    signal = on_disk["signals"]["zprime_ll"]
    assert signal["auc_firmware"] > 0.6 and np.isfinite(signal["auc_float"])
    # the working points are set on the unique rate: no more than the total
    for wp in on_disk["working_points"].values():
        assert wp["pure_rate_hz"]["value"] <= wp["rate_hz"]["value"]
    # the firmware score is (sum of the integer counts of mu squared) >> 8, computed here from Keras' mu
    loaded = load_model(tmp_path / "a")
    raw = samples[1]["zprime_ll"]
    mu = loaded.keras_model.predict(_network_inputs(loaded, raw), verbose=0)
    counts = np.round(mu.astype(np.float64) * 2.0**loaded.graph.output_format.frac).astype(np.int64)
    want = np.minimum((counts**2).sum(axis=1) >> 8, 2**card.score().format.width - 1)
    got = loaded.chain.emulate_counts(loaded.chain.scaling.raw_format.quantize(raw))["score"]
    np.testing.assert_array_equal(got, want)


def _network_inputs(loaded, raw: np.ndarray) -> np.ndarray:
    scaling, fmt = loaded.chain.scaling, loaded.graph.input_format
    return fmt.to_float(scaling.apply(scaling.raw_format.quantize(raw), fmt))
