"""`codesign train gelato`: the VAE-GAN (`codesign.zoo.gelato`) trained from seeds, the QAT encoder to firmware.

Adam for the generator (encoder + decoder) and for the discriminator, one step each per batch, on the weighted
training zero bias (weights normalised to mean 1, batches shuffled by the card's seed).  The same recipe with a
float encoder is the reference model.  Beside the float model, the metrics hold the AUC of a trivial baseline
(the scalar sum of the input ETs), so a collapsed latent space (an AUC no better than that) shows.
"""

from __future__ import annotations

import numpy as np

from codesign.train.common import Samples, check_epochs, evaluate_and_write, fit_scaling
from codesign.zoo.card import Card


def fit(card: Card, x: np.ndarray, weights: np.ndarray, epochs: int, quantized: bool, verbose: int = 0):
    """Train the card's VAE-GAN on network inputs `x` with per-event `weights`; returns the model and the last
    epoch's mean losses."""
    import keras
    import tensorflow as tf

    from codesign.zoo import gelato

    training = card.data["training"]
    keras.utils.set_random_seed(training["seed"])
    tf.config.experimental.enable_op_determinism()
    model = gelato.build(card, quantized=quantized)
    generator_vars = model.encoder.trainable_variables + model.decoder.trainable_variables
    g_opt, d_opt = (keras.optimizers.Adam(training["learning_rate"]) for _ in range(2))
    beta, adversarial = float(training["beta"]), float(training["adversarial"])
    feature_weights = tf.constant(gelato.reconstruction_weights(card))

    @tf.function
    def step(xb, wb):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            loss = gelato.losses(model, xb, wb, beta, adversarial, feature_weights)
        g_opt.apply_gradients(zip(g_tape.gradient(loss["generator"], generator_vars), generator_vars))
        d_vars = model.discriminator.trainable_variables
        d_opt.apply_gradients(zip(d_tape.gradient(loss["discriminator"], d_vars), d_vars))
        return loss

    rng = np.random.default_rng(training["seed"])
    x, weights = np.asarray(x, np.float32), np.asarray(weights / weights.mean(), np.float32)
    batch = training["batch_size"]
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        sums: dict[str, float] = {}
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            for name, value in step(x[index], weights[index]).items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(index)
        means = {name: value / len(x) for name, value in sums.items()}
        if verbose:
            print(f"{'qat' if quantized else 'float'} epoch {epoch + 1}/{epochs}: "
                  + ", ".join(f"{k} {v:.4g}" for k, v in means.items()), flush=True)
    return model, means


def sum_et(raw: np.ndarray) -> np.ndarray:
    """The trivial baseline score: the scalar sum of the ETs (GeV) of the `gelato_tob` view's objects and MET."""
    from codesign.data.views import GELATO_ET_COLUMNS

    return sum(np.asarray(raw[:, column], np.float64) * fmt.pt_lsb for column, fmt in GELATO_ET_COLUMNS)


def train(card: Card, samples: Samples, raws: dict[str, np.ndarray], epochs: int | None = None,
          verbose: int = 0) -> dict:
    """Train the card's VAE-GAN (QAT and float), write the QAT encoder, card and metrics; return the metrics."""
    from codesign.metrics.rates import roc_auc

    epochs = check_epochs(card, epochs)
    rng = np.random.default_rng(card.data["training"]["seed"])
    scaling, network_inputs = fit_scaling(card, raws["background"], samples.background.weights, rng)
    x = network_inputs(raws["background"])
    models, final = {}, {}
    for quantized in (True, False):
        key = "qat" if quantized else "float"
        models[key], final[key] = fit(card, x, samples.background.weights, epochs, quantized, verbose)

    def float_score(raw: np.ndarray) -> np.ndarray:
        mu = models["float"].firmware.predict(network_inputs(raw), batch_size=8192, verbose=0)
        return np.sum(mu.astype(np.float64) ** 2, axis=1)

    reference = samples.reference
    baseline = sum_et(raws["reference"])
    extra = {
        "final_losses": final,
        "baseline": {"score": "scalar sum of the input ETs (GeV)",
                     "auc": {name: roc_auc(baseline, sum_et(raws[name]), reference.weights, s.weights)
                             for name, s in samples.signals.items()}},
    }
    return evaluate_and_write(card, samples, raws, scaling, models["qat"].firmware, float_score, extra)
