"""The optimiser's learning-rate schedule and the averaging of the last epochs' weights, from a card.

An anomaly score is read from the model at one instant: with a constant learning rate the background's score
tail, hence the working points and the signal AUCs, moves from epoch to epoch while the loss falls smoothly
(AXOL1TL measured: Z'->mumu AUC 0.92 at one epoch, 0.66 at the last).  Two signal-agnostic remedies, both read
from `training`:

- ``learning_rate_schedule: {kind: cosine, final_fraction: F}``: the rate falls from `learning_rate` to
  F * `learning_rate` along a cosine over each training phase (restarted for a fine-tuning phase, as SGDR);
  without the key the rate is constant, as before.
- ``average_epochs: K``: the weights written are the mean of the weights at the end of the last K epochs of the
  last phase (stochastic weight averaging, Izmailov et al. 2018), so the result does not hinge on where the
  training stops.  A pruned weight stays pruned: `MagnitudePruning` re-applies its masks when training ends.

Keras' `CosineDecay` supplies the schedule; the averaging callback is hand-written because Keras 2.15 has no
weight-averaging callback that works on QKeras layers (tfa's `SWA` wraps the optimiser and needs tf_keras).
"""

from __future__ import annotations

import math

import keras
import numpy as np

from codesign.errors import CodesignError
from codesign.zoo.card import Card

SCHEDULES = ("constant", "cosine")


def check_schedule(card: Card) -> tuple[str, float, int]:
    """(kind, final fraction, averaged epochs) from the card's `training`, refused before anything is trained."""
    training = card.data["training"]
    where = f"card {card.folder / 'card.yaml'}: training"
    spec = training.get("learning_rate_schedule", {"kind": "constant"})
    final = spec.get("final_fraction", 1.0) if isinstance(spec, dict) else None
    if (not isinstance(spec, dict) or set(spec) - {"kind", "final_fraction"} or spec.get("kind") not in SCHEDULES
            or isinstance(final, bool) or not isinstance(final, (int, float)) or not 0 < final <= 1):
        raise CodesignError(f"{where}.learning_rate_schedule must be {{kind: {' or '.join(SCHEDULES)}, final_fraction: "
                            f"F in (0, 1]}}, got {spec!r}")
    average = training.get("average_epochs", 1)
    if isinstance(average, bool) or not isinstance(average, int) or average < 1:
        raise CodesignError(f"{where}.average_epochs must be a whole number of epochs >= 1, got {average!r}")
    return spec["kind"], float(final), average


def steps_per_epoch(events: int, batch_size: int, validation_split: float = 0.0) -> int:
    """Optimiser steps in one epoch of `events`, after Keras' `validation_split` took its share off the end."""
    return max(1, math.ceil(int(events * (1.0 - validation_split)) / batch_size))


def learning_rate(card: Card, steps: int):
    """The card's learning rate over `steps` optimiser steps from `training.learning_rate`: a number, or a Keras
    schedule of the step."""
    kind, final, _ = check_schedule(card)
    rate = card.data["training"]["learning_rate"]
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, steps), alpha=final)
    return rate


def adam(card: Card, steps: int) -> keras.optimizers.Optimizer:
    """Adam with the card's `learning_rate` schedule over `steps` optimiser steps."""
    return keras.optimizers.Adam(learning_rate(card, steps))


class WeightAveraging(keras.callbacks.Callback):
    """Sets the model's weights, when training ends, to their mean over the ends of the last `last` epochs of
    `epochs`.  Put it before a `MagnitudePruning` in the callback list, so the masks apply to the mean."""

    def __init__(self, epochs: int, last: int) -> None:
        super().__init__()
        self.first = max(0, epochs - last)
        self.sums: list[np.ndarray] | None = None
        self.count = 0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch < self.first:
            return
        weights = [w.astype(np.float64) for w in self.model.get_weights()]
        self.sums = weights if self.sums is None else [s + w for s, w in zip(self.sums, weights)]
        self.count += 1

    def on_train_end(self, logs=None) -> None:
        if self.count > 1:
            self.model.set_weights([(s / self.count).astype(w.dtype)
                                    for s, w in zip(self.sums, self.model.get_weights())])
