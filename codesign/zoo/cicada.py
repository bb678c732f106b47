"""CICADA: the CMS Calorimeter Layer-1 anomaly detector's deployed QKeras students.

Both regress the teacher autoencoder's ``log(MSE) * 32`` from the 18 x 14 region ETs (`ap_uint<10>`,
row-major: index ``14 * phi + eta``) to a 16-bit score ``ap_ufixed<16,8,AP_RND_CONV,AP_SAT>``.  The layers
and bit widths are those of the public cms-hls4ml/CICADA students (``shared/reference/l1-systems.md``),
their batch normalisation folded into the first Dense as in the deployed firmware:

* v2 (v2p1p2, the one CMSSW runs): Reshape(18, 14, 1), QConv2D(4, 2x2, stride 2, valid, no bias, 12-bit),
  ``quantized_relu(10, 6)``, Flatten, QDense(16, 8-bit), ``quantized_relu(10, 6)``, QDense(1, no bias,
  12-bit), ``quantized_relu(16, 8)``;
* v1 (v1p1p2): the same without the convolution (Dense 252 -> 16 -> 1).
"""

from __future__ import annotations

import numpy as np

#: (phi rows, eta columns) of the calorimeter regions.
REGIONS = (18, 14)
VERSIONS = ("v1", "v2")
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
