"""The SUEP ConvAE of the ICHEP 2022 study (Chhibra et al.): builder, 1/Dice loss, per-event scores.

Every stage is Conv2D (or Conv2DTranspose) -> BatchNormalization -> activation; the activation is a PReLU
with one slope per element (Keras' default, no shared axes: most of the 3.57 M parameters), the last one a
ReLU.  Kernels, strides and filters come from the card (`architecture`), padding is `same`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The loss' epsilon: keeps an empty input and an empty reconstruction at loss 0 instead of 0/0.
DICE_EPSILON = 1e-6


def build(arch: dict[str, Any], shape: tuple[int, int, int], seed: int = 0):
    """The ConvAE for images of `shape` (eta, phi, channels) from a card's `architecture`:
    `encoder`/`decoder`: lists of [filters, kernel, [stride_eta, stride_phi]]; the decoder's last entry
    gives the output channels (must equal the input's); `bn_momentum` (default Keras' 0.99) sets how fast
    the BatchNorm inference statistics follow training (a short CPU training needs a lower one)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    stages = [(layers.Conv2D, s) for s in arch["encoder"]] + [(layers.Conv2DTranspose, s) for s in arch["decoder"]]
    inputs = keras.Input(shape)
    x = inputs
    for k, (layer, (filters, kernel, strides)) in enumerate(stages):
        x = layer(filters, kernel, strides=tuple(strides), padding="same", name=f"{layer.__name__.lower()}_{k}")(x)
        x = layers.BatchNormalization(momentum=arch.get("bn_momentum", 0.99), name=f"bn_{k}")(x)
        last = k == len(stages) - 1
        x = layers.ReLU(name="relu")(x) if last else layers.PReLU(name=f"prelu_{k}")(x)
    return keras.Model(inputs, x, name="suep_convae")


def dice_loss(x, y):
    """Per-image 1/Dice - 1 = (Σx² + Σy² + ε) / (2 Σxy + ε) - 1 (TensorFlow; x input, y reconstruction)."""
    import tensorflow as tf

    axes = tuple(range(1, len(x.shape)))
    num = tf.reduce_sum(tf.square(x), axes) + tf.reduce_sum(tf.square(y), axes) + DICE_EPSILON
    return num / (2.0 * tf.reduce_sum(x * y, axes) + DICE_EPSILON) - 1.0


def dice_loss_np(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`dice_loss` in float64 numpy, per image: the anomaly score computed from ONNX outputs."""
    x = x.reshape(len(x), -1).astype(np.float64)
    y = y.reshape(len(y), -1).astype(np.float64)
    num = (x * x).sum(1) + (y * y).sum(1) + DICE_EPSILON
    return num / (2.0 * (x * y).sum(1) + DICE_EPSILON) - 1.0
