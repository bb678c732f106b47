"""CICADA: the CMS Calorimeter Layer-1 anomaly detector's deployed QKeras students.

Both regress the teacher autoencoder's ``log(MSE) * 32`` from the 18 x 14 region ETs (`ap_uint<10>`,
row-major: index ``14 * phi + eta``) to a 16-bit score ``ap_ufixed<16,8,AP_RND_CONV,AP_SAT>``.  The layers
and bit widths are those of the public cms-hls4ml/CICADA students (``shared/reference/l1-systems.md``),
their batch normalisation folded into the first Dense as in the deployed firmware:

* v2 (v2p1p2, the one CMSSW runs): Reshape(18, 14, 1), QConv2D(4, 2x2, stride 2, valid, no bias, 12-bit),
  ``quantized_relu(10, 6)``, Flatten, QDense(16, 8-bit), ``quantized_relu(10, 6)``, QDense(1, no bias,
  12-bit), ``quantized_relu(16, 8)``;
* v1 (v1p1p2): the same without the convolution (Dense 252 -> 16 -> 1).

The teacher (`teacher`) is the float convolutional autoencoder whose reconstruction error the students
learn; `target` turns its per-event MSE into the students' regression target.
"""

from __future__ import annotations

import numpy as np

#: (phi rows, eta columns) of the calorimeter regions.
REGIONS = (18, 14)
VERSIONS = ("v1", "v2")
#: The layers with kernels (the ones pruning acts on) of each student.
KERNEL_LAYERS = {"v1": ("dense1", "dense2"), "v2": ("conv", "dense1", "dense2")}
#: The student's target: log(MSE) * TARGET_SCALE on the score's grid (2^-SCORE_FRAC) and range [0, 2^8).
TARGET_SCALE, SCORE_FRAC, SCORE_INTEGER = 32.0, 8, 8
#: Standard deviations of random weights: typical region ETs of tens of counts give unsaturated activations.
RANDOM_SCALES = {"conv": 0.05, "dense1": 0.05, "dense2": 0.5}


def student(version: str = "v2", seed: int | None = None, name: str | None = None):
    """The deployed student architecture as a QKeras model; with `seed`, random weights from that seed."""
    import keras
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

    if version not in VERSIONS:
        raise ValueError(f"unknown CICADA student {version!r}; choose one of {', '.join(VERSIONS)}")
    n_in = REGIONS[0] * REGIONS[1]
    inputs = keras.Input((n_in,), name="inputs")
    x = QActivation(quantized_bits(10, 10, keep_negative=False, alpha=1), name="inputs_q")(inputs)
    if version == "v2":
        x = keras.layers.Reshape((*REGIONS, 1), name="reshape")(x)
        x = QConv2D(4, (2, 2), strides=(2, 2), use_bias=False, kernel_quantizer=quantized_bits(12, 3, alpha=1),
                    name="conv")(x)
        x = QActivation(quantized_relu(10, 6), name="conv_relu")(x)
        x = keras.layers.Flatten(name="flatten")(x)
    x = QDense(16, kernel_quantizer=quantized_bits(8, 1, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="dense1")(x)
    x = QActivation(quantized_relu(10, 6), name="dense1_relu")(x)
    x = QDense(1, use_bias=False, kernel_quantizer=quantized_bits(12, 3, alpha=1), name="dense2")(x)
    x = QActivation(quantized_relu(16, 8), name="score")(x)
    model = keras.Model(inputs, x, name=name or f"cicada_{version}")
    if seed is not None:
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if layer.name in RANDOM_SCALES:
                layer.set_weights([rng.normal(0, RANDOM_SCALES[layer.name], w.shape) for w in layer.get_weights()])
    return model


def teacher(name: str = "cicada_teacher"):
    """The float teacher autoencoder (l1-systems.md): 252 region ETs in, their reconstruction out.

    Conv2D(20, 3x3, same)+ReLU, AvgPool 2x2, Conv2D(30, 3x3, same)+ReLU, Flatten, Dense(80)+ReLU,
    Dense(9*7*30), Reshape(9, 7, 30), ReLU, Conv2D(30, 3x3, same)+ReLU, UpSampling 2x, Conv2D(20, 3x3,
    same)+ReLU, Conv2D(1, 3x3, same, ReLU); inputs and outputs in region-ET counts."""
    import keras
    from keras import layers

    inputs = keras.Input((REGIONS[0] * REGIONS[1],), name="inputs")
    x = layers.Reshape((*REGIONS, 1))(inputs)
    x = layers.Conv2D(20, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(30, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(80, activation="relu", name="latent")(x)
    half = (REGIONS[0] // 2, REGIONS[1] // 2, 30)
    x = layers.Dense(int(np.prod(half)))(x)
    x = layers.ReLU()(layers.Reshape(half)(x))
    x = layers.Conv2D(30, 3, padding="same", activation="relu")(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.Conv2D(20, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(1, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, layers.Flatten(name="reconstruction")(x), name=name)


def target(mse: np.ndarray) -> np.ndarray:
    """The students' target from the teacher's per-event MSE: ``log(MSE) * 32``, rounded to 2^-8 and
    clipped to [0, 256) (the range of the score ``ap_ufixed<16,8>``; MSE 0 gives 0)."""
    with np.errstate(divide="ignore"):
        value = np.log(np.asarray(mse, np.float64)) * TARGET_SCALE
    lsb = 2.0**-SCORE_FRAC
    return np.clip(np.round(value / lsb) * lsb, 0.0, 2.0**SCORE_INTEGER - lsb)
