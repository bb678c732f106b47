"""Magnitude pruning of the dense kernels during training.

Hand-written because tensorflow-model-optimization 0.8 cannot wrap QKeras layers here: it checks
layers against tf_keras' classes, while QKeras builds on Keras 2.15 (`import keras`).  The schedule
is tfmot's polynomial decay: sparsity rises from 0 to `final_sparsity` over the first
`ramp_fraction` of the epochs, pruned weights stay at zero (the mask is re-applied after every
batch), and the smallest |w| of each kernel go first.  Each kernel has its own final sparsity (a card sets
one per layer with `quantization.layers.<layer>.pruning.final_sparsity`, see `codesign.zoo.vae.layer_quantizer`;
`final_sparsity` reads them for any trainer: AXOL1TL's encoder, CICADA's students).
"""

from __future__ import annotations

import keras
import numpy as np

from codesign.errors import CodesignError
from codesign.zoo.card import Card


def final_sparsity(card: Card, layers: list[str]) -> list[float]:
    """Each of `layers`' final sparsity from the card: `quantization.pruning.final_sparsity`, overridden per layer by
    `quantization.layers.<layer>.pruning.final_sparsity`, 0 where neither is set; other layer names are refused."""
    from codesign.zoo.vae import layer_quantizer

    where = f"card {card.folder / 'card.yaml'}: quantization.layers"
    unknown = set((card.data.get("quantization") or {}).get("layers") or {}) - set(layers)
    if unknown:
        raise CodesignError(f"{where} names {', '.join(sorted(unknown))}; the model's layers are {', '.join(layers)}")
    sparsity = [layer_quantizer(card, layer, "pruning").get("final_sparsity", 0.0) for layer in layers]
    bad = [(layer, s) for layer, s in zip(layers, sparsity)
           if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1]
    if bad:
        raise CodesignError(f"{where}: final_sparsity must be a number in [0, 1), got {bad[0][1]!r} for {bad[0][0]}")
    return [float(s) for s in sparsity]


class MagnitudePruning(keras.callbacks.Callback):
    """Prunes the kernel of each of `layers` to its entry of `final_sparsity` (fraction of zero weights)."""

    def __init__(self, layers: list, final_sparsity: list[float], epochs: int, ramp_fraction: float = 0.6) -> None:
        super().__init__()
        bad = [s for s in final_sparsity if not 0.0 <= s < 1.0]
        if bad or len(final_sparsity) != len(layers):
            raise ValueError(f"final_sparsity must lie in [0, 1), one per layer, got {final_sparsity}")
        self.layers = layers
        self.final_sparsity = final_sparsity
        self.ramp_epochs = max(1, int(round(epochs * ramp_fraction)))
        self.masks = [np.ones(layer.kernel.shape, dtype=bool) for layer in layers]

    def sparsity_at(self, epoch: int, final_sparsity: float) -> float:
        progress = min(1.0, (epoch + 1) / self.ramp_epochs)
        return final_sparsity * (1.0 - (1.0 - progress) ** 3)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        for i, layer in enumerate(self.layers):
            kernel = layer.kernel.numpy()
            n_zero = int(round(self.sparsity_at(epoch, self.final_sparsity[i]) * kernel.size))
            if n_zero:
                cut = np.sort(np.abs(kernel), axis=None)[n_zero - 1]
                self.masks[i] &= np.abs(kernel) > cut
            layer.kernel.assign(kernel * self.masks[i])

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        for layer, mask in zip(self.layers, self.masks):
            layer.kernel.assign(layer.kernel * mask)

    def on_train_end(self, logs=None) -> None:  # after a `WeightAveraging` earlier in the list
        self.on_train_batch_end(-1)
