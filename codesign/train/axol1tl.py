"""`codesign train axol1tl`: QAT of the VAE, input scaling, thresholds and metrics, from seeds.

The weights are trained on the weighted zero bias with its per-event weights and the per-event beta-VAE loss
(`codesign.zoo.axol1tl.vae_loss`; plus magnitude pruning, per layer where the card says, and the card's
`training.finetune` epochs that prune named layers further from the trained weights; the learning-rate schedule
and the averaging of the last epochs' weights of `codesign.train.schedule`), the same architecture in float
beside it; samples, scaling, thresholds (on the card's total-rate targets), metrics and the written card come
from `codesign.train.common`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from codesign.errors import CodesignError
from codesign.fixed.trigger import InputScaling
from codesign.train.common import Samples, check_epochs, evaluate_and_write, fit_scaling, load_samples, read_sample
from codesign.train.schedule import check_schedule
from codesign.zoo.card import Card

__all__ = ["Samples", "load_samples", "read_sample", "train"]

VALIDATION_SPLIT = 0.1  # Keras takes the last 10% of the (shuffled) training zero bias


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


def check_training(card: Card, epochs: int | None = None) -> int:
    """The epochs to train, once the card's training entries (epochs, fine-tuning, schedule) are checked: the CLI
    calls it before any sample is generated."""
    epochs = check_epochs(card, epochs)
    check_finetune(card)
    check_schedule(card)
    return epochs


def training_inputs(card: Card, raw: np.ndarray, weights: np.ndarray
                    ) -> tuple[InputScaling, Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
    """(scaling, raw -> network inputs, shuffled network inputs, their weights normalised to mean 1) of the
    training zero bias `raw` with `weights`; the scaling is fitted and recorded in the card, from the card's seed."""
    rng = np.random.default_rng(card.data["training"]["seed"])
    scaling, network_inputs = fit_scaling(card, raw, weights, rng)
    order = rng.permutation(len(raw))  # validation_split takes the last events: shuffle first
    return scaling, network_inputs, network_inputs(raw[order]), weights[order] / weights.mean()


def fit_encoder(card: Card, x_train: np.ndarray, sample_weight: np.ndarray, epochs: int, quantized: bool = True,
                verbose: int = 0, watch: list | None = None):
    """The card's VAE (QAT, or the same architecture in float) trained on network inputs `x_train`: `epochs`, then
    the card's fine-tuning; returns the encoder.  `watch` callbacks see every epoch of both phases."""
    import keras
    import tensorflow as tf

    from codesign.train.pruning import MagnitudePruning, final_sparsity
    from codesign.train.schedule import WeightAveraging, adam, steps_per_epoch
    from codesign.zoo import axol1tl

    training, finetune = card.data["training"], check_finetune(card)
    _, _, average = check_schedule(card)
    keras.utils.set_random_seed(training["seed"])
    tf.config.experimental.enable_op_determinism()
    vae, encoder = axol1tl.build(card, quantized=quantized)
    dense = [layer for layer in encoder.layers if hasattr(layer, "kernel")]
    sparsity = final_sparsity(card, [layer.name for layer in dense])
    steps = steps_per_epoch(len(x_train), training["batch_size"], VALIDATION_SPLIT)
    phases = [(epochs, None)] + ([(finetune["epochs"], finetune)] if finetune else [])
    for i, (phase_epochs, phase) in enumerate(phases):
        # a fresh optimiser per phase: the schedule restarts for the fine-tuning (SGDR)
        vae.compile(optimizer=adam(card, steps * phase_epochs), loss=axol1tl.vae_loss(training["beta"]),
                    weighted_metrics=[])  # the loss is weighted; [] tells Keras no metric needs the weights
        callbacks = [WeightAveraging(phase_epochs, average)] if i == len(phases) - 1 else []
        if phase:  # prune the named layers further, from the trained weights
            final = [phase["sparsity"].get(layer.name, s) for layer, s in zip(dense, sparsity)]
            callbacks.append(MagnitudePruning(dense, final, phase_epochs, ramp_fraction=0.5))
        elif any(sparsity):
            callbacks.append(MagnitudePruning(dense, sparsity, phase_epochs))
        vae.fit(x_train, x_train, epochs=phase_epochs, callbacks=callbacks + (watch or []), sample_weight=sample_weight,
                batch_size=training["batch_size"], shuffle=True, validation_split=VALIDATION_SPLIT, verbose=verbose)
    return encoder


def train(card: Card, samples: Samples, raws: dict[str, np.ndarray], epochs: int | None = None,
          verbose: int = 0) -> dict:
    """Train the card's model, write weights, card and metrics; return the metrics.

    `raws` holds the raw inputs of every sample under the keys `background`, `reference` and the signal names."""
    epochs = check_training(card, epochs)
    scaling, network_inputs, x_train, sample_weight = training_inputs(card, raws["background"], samples.background.weights)
    models = {kind: fit_encoder(card, x_train, sample_weight, epochs, quantized=kind == "qat", verbose=verbose)
              for kind in ("qat", "float")}

    def float_score(raw: np.ndarray) -> np.ndarray:
        mu = models["float"].predict(network_inputs(raw), batch_size=8192, verbose=0)
        return np.sum(mu.astype(np.float64) ** 2, axis=1)

    return evaluate_and_write(card, samples, raws, scaling, models["qat"], float_score)
