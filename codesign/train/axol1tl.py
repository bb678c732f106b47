"""`codesign train axol1tl`: QAT of the VAE, input scaling, thresholds and metrics, from seeds.

The weights are trained on the weighted zero bias with its per-event weights and the per-event beta-VAE loss
(`codesign.zoo.axol1tl.vae_loss`; plus magnitude pruning, per layer where the card says, and the card's
`training.finetune` epochs that prune named layers further from the trained weights), the same architecture in
float beside it; samples, scaling, thresholds (on the card's total-rate targets), metrics and the written card
come from `codesign.train.common`.
"""

from __future__ import annotations

import numpy as np

from codesign.errors import CodesignError
from codesign.train.common import Samples, check_epochs, evaluate_and_write, fit_scaling, load_samples, read_sample
from codesign.zoo.card import Card

__all__ = ["Samples", "load_samples", "read_sample", "train"]


def check_finetune(card: Card) -> dict | None:
    """The card's `training.finetune` ({epochs, sparsity: {layer: final sparsity}}), checked before any training."""
    finetune = card.data["training"].get("finetune")
    if finetune is None:
        return None
    layers = {*(f"enc{i}" for i in range(len(card.data["architecture"]["encoder"]))), "mu"}
    epochs, sparsity = finetune.get("epochs"), finetune.get("sparsity")
    if (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1 or not isinstance(sparsity, dict)
            or not set(sparsity) <= layers
            or not all(isinstance(v, (int, float)) and 0 <= v < 1 for v in sparsity.values())):
        raise CodesignError(f"card {card.folder / 'card.yaml'}: training.finetune must be {{epochs: N >= 1, sparsity: "
                            f"{{LAYER: S in [0, 1)}}}} with LAYER among {', '.join(sorted(layers))}, got {finetune!r}")
    return finetune


def train(card: Card, samples: Samples, raws: dict[str, np.ndarray], epochs: int | None = None,
          verbose: int = 0) -> dict:
    """Train the card's model, write weights, card and metrics; return the metrics.

    `raws` holds the raw inputs of every sample under the keys `background`, `reference` and the signal names."""
    import keras
    import tensorflow as tf

    from codesign.train.pruning import MagnitudePruning, final_sparsity
    from codesign.zoo import axol1tl

    training = card.data["training"]
    epochs = check_epochs(card, epochs)
    finetune = check_finetune(card)
    rng = np.random.default_rng(training["seed"])
    train_raw, train_w = raws["background"], samples.background.weights
    scaling, network_inputs = fit_scaling(card, train_raw, train_w, rng)

    order = rng.permutation(len(train_raw))  # validation_split takes the last 10%: shuffle first
    x_train, sample_weight = network_inputs(train_raw[order]), train_w[order] / train_w.mean()
    models = {}
    for quantized in (True, False):
        keras.utils.set_random_seed(training["seed"])
        tf.config.experimental.enable_op_determinism()
        vae, encoder = axol1tl.build(card, quantized=quantized)
        vae.compile(optimizer=keras.optimizers.Adam(training["learning_rate"]), loss=axol1tl.vae_loss(training["beta"]))
        dense = [layer for layer in encoder.layers if hasattr(layer, "kernel")]
        sparsity = final_sparsity(card, [layer.name for layer in dense])
        callbacks = [MagnitudePruning(dense, sparsity, epochs)] if any(sparsity) else []
        fit = dict(sample_weight=sample_weight, batch_size=training["batch_size"], shuffle=True, validation_split=0.1,
                   verbose=verbose)
        vae.fit(x_train, x_train, epochs=epochs, callbacks=callbacks, **fit)
        if finetune:  # prune the named layers further, from the trained weights
            final = [finetune["sparsity"].get(layer.name, s) for layer, s in zip(dense, sparsity)]
            vae.fit(x_train, x_train, epochs=finetune["epochs"], **fit,
                    callbacks=[MagnitudePruning(dense, final, finetune["epochs"], ramp_fraction=0.5)])
        models["qat" if quantized else "float"] = encoder

    def float_score(raw: np.ndarray) -> np.ndarray:
        mu = models["float"].predict(network_inputs(raw), batch_size=8192, verbose=0)
        return np.sum(mu.astype(np.float64) ** 2, axis=1)

    return evaluate_and_write(card, samples, raws, scaling, models["qat"], float_score)
