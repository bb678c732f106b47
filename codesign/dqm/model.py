"""Residual convolutional autoencoders for EB, EE+ and EE- occupancy maps (Keras 2).

Encoder: 3x3 conv -> ResBlock -> 2x2 max-pool, repeated per filter stage, then a global
max-pool latent vector.  Decoder: dense back to the smallest grid, then per stage 2x upsampling
-> 3x3 conv -> ResBlock, and a final 3x3 conv to one channel.  A ResBlock is two 3x3 convs with
an intermediate ReLU and an identity skip.  EE images (22x22) are zero-padded to 24x24 and the
output cropped back.  The output is multiplied by the geometry mask, so towers outside the
detector cost nothing in the MSE.
"""

from __future__ import annotations

import numpy as np

from codesign.dqm.data import SHAPES, geometry_mask


def _keras():
    import keras

    return keras


def _res_block(x, filters: int):
    keras = _keras()
    y = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(filters, 3, padding="same")(y)
    return keras.layers.ReLU()(keras.layers.Add()([x, y]))


def build_autoencoder(region: str, filters: tuple[int, ...] = (16, 32), latent: int = 32, seed: int = 0):
    """An uncompiled Keras autoencoder for `region` ('EB', 'EE+', 'EE-'): (N, H, W, 1) -> same."""
    import tensorflow as tf

    keras = _keras()
    keras.backend.clear_session()  # layer names restart (conv2d, conv2d_1, ...) whatever was built before
    keras.utils.set_random_seed(seed)  # Python, numpy and TensorFlow: weights and the fit's shuffling
    tf.config.experimental.enable_op_determinism()
    h, w = SHAPES[region]
    pad = 1 if region != "EB" else 0
    inp = keras.Input((h, w, 1), name="occupancy")
    x = keras.layers.ZeroPadding2D(pad)(inp) if pad else inp
    for f in filters:
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = _res_block(x, f)
        x = keras.layers.MaxPooling2D(2)(x)
    gh, gw = x.shape[1], x.shape[2]
    z = keras.layers.GlobalMaxPooling2D(name="latent")(x)
    z = keras.layers.Dense(latent, activation="relu")(z)
    y = keras.layers.Dense(gh * gw * filters[-1], activation="relu")(z)
    y = keras.layers.Reshape((gh, gw, filters[-1]))(y)
    for f in reversed(filters):
        y = keras.layers.UpSampling2D(2)(y)
        y = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(y)
        y = _res_block(y, f)
    y = keras.layers.Conv2D(1, 3, padding="same")(y)
    if pad:
        y = keras.layers.Cropping2D(pad)(y)
    mask = tf.constant(geometry_mask(region)[None, :, :, None].astype(np.float32))
    out = keras.layers.Multiply(name="masked")([y, _Const(mask)(y)])
    return keras.Model(inp, out, name=f"ae_{region.replace('+', 'p').replace('-', 'm')}")


def _Const(value):
    """A layer returning a constant broadcastable to its input (the geometry mask)."""
    keras = _keras()

    class Const(keras.layers.Layer):
        def call(self, x):  # noqa: D102
            import tensorflow as tf

            return tf.ones_like(x) * value

    return Const()


def train_autoencoder(model, x: np.ndarray, epochs: int = 20, batch_size: int = 64, lr: float = 2e-3,
                      validation_split: float = 0.1, verbose: int = 0) -> dict[str, list[float]]:
    """Fit `model` to reproduce good maps `x` (N, H, W) with MSE; returns the Keras history."""
    keras = _keras()
    model.compile(keras.optimizers.Adam(lr), loss="mse")
    x4 = x[..., None].astype(np.float32)
    hist = model.fit(x4, x4, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                     shuffle=True, verbose=verbose)
    return {k: [float(v) for v in vs] for k, vs in hist.history.items()}
