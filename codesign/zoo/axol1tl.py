"""AXOL1TL: the quantization-aware VAE of the CMS Level-1 Global Trigger anomaly detector.

Encoder 57 -> 32 -> 16 -> (mu, log sigma^2), mirrored decoder.  Per event the loss is
``(1 - beta) * sum_i (x_i - x'_i)**2 + beta * KL(N(mu, sigma) || N(0, 1))``: the squared error summed over
the inputs (the Gaussian log-likelihood; a *mean* over 57 inputs weighs the reconstruction 57 times less,
and on zero bias with inputs scaled from present objects the KL term then wins: the latent collapses to
the prior and the score sum(mu**2) carries no information).  Both terms are per event, so a weighted
zero bias weights them alike.  Only the encoder's mu branch goes to firmware; log sigma^2 and the decoder
stay in training.  Quantizers follow the card (deployed v3/v4 formats by default); `quantization.layers.<layer>.<kind>`
overrides the card-wide `quantization.<kind>` (weight, bias, activation) for one layer (`enc0`, `enc1`, ...,
`mu`), key by key, so bit widths can differ per layer (the HGQ idea, searched by `codesign sweep`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from codesign.errors import CodesignError
from codesign.kerasenv import check_one_keras
from codesign.zoo.card import Card


def _bits(spec: dict) -> quantized_bits:
    return quantized_bits(spec["bits"], spec["integer"], alpha=1)


def layer_quantizer(card: Card, layer: str, kind: str) -> dict:
    """The quantizer spec of `kind` for `layer`: the card-wide spec, updated by the layer's own entries."""
    q = card.data["quantization"]
    return {**q[kind], **((q.get("layers") or {}).get(layer) or {}).get(kind, {})}


def _sample(args):
    mu, log_var = args
    return mu + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mu))


def build(card: Card, quantized: bool = True) -> tuple[keras.Model, keras.Model]:
    """(vae, encoder): the trainable VAE and the firmware encoder (inputs -> quantized mu).

    With ``quantized=False`` the same architecture in floating point (the reference model)."""
    check_one_keras()
    arch, q = card.data["architecture"], card.data["quantization"]
    unknown = set(q.get("layers") or {}) - {*(f"enc{i}" for i in range(len(arch["encoder"]))), "mu"}
    if unknown:
        raise CodesignError(f"card {card.folder / 'card.yaml'}: quantization.layers names {', '.join(sorted(unknown))}; "
                            f"the encoder's layers are enc0..enc{len(arch['encoder']) - 1} and mu")
    n_in = card.data["inputs"]["size"]
    net_fmt = card.format(card.data["inputs"]["network_format"])
    inputs = keras.Input((n_in,), name="inputs")

    def dense(units: int, name: str, activation: bool):
        if not quantized:
            return keras.layers.Dense(units, activation="relu" if activation else None, name=name)
        act = layer_quantizer(card, name, "activation")
        return QDense(units, kernel_quantizer=_bits(layer_quantizer(card, name, "weight")),
                      bias_quantizer=_bits(layer_quantizer(card, name, "bias")),
                      activation=quantized_relu(act["bits"], act["integer"]) if activation else None, name=name)

    x = inputs
    if quantized:
        x = QActivation(quantized_bits(net_fmt.width, net_fmt.integer - 1, alpha=1), name="input_quant")(x)
    for i, units in enumerate(arch["encoder"]):
        x = dense(units, f"enc{i}", activation=True)(x)
    mu = dense(arch["latent"], "mu", activation=False)(x)
    if quantized:
        mu = QActivation(_bits(q["mu"]), name="mu_quant")(mu)
    log_var = keras.layers.Dense(arch["latent"], name="log_var")(x)
    y = keras.layers.Lambda(_sample, name="z")([mu, log_var])
    for i, units in enumerate(arch["decoder"]):
        y = keras.layers.Dense(units, activation="relu", name=f"dec{i}")(y)
    y = keras.layers.Dense(n_in, name="reconstruction")(y)
    kl = keras.layers.Lambda(_kl_divergence, name="kl")([mu, log_var])
    vae = keras.Model(inputs, keras.layers.Concatenate(name="reconstruction_and_kl")([y, kl]),
                      name=f"{card.name}_vae")
    encoder = keras.Model(inputs, mu, name=card.name)
    return vae, encoder


def _kl_divergence(args):
    """KL(N(mu, exp(log_var)) || N(0, 1)) per event, as a column."""
    mu, log_var = args
    return -0.5 * tf.reduce_sum(1 + log_var - tf.square(mu) - tf.exp(log_var), axis=1, keepdims=True)


def vae_loss(beta: float):
    """The per-event beta-VAE loss on the VAE's output ``[reconstruction, KL]`` for target inputs `x`."""
    def loss(x, output):
        reconstruction, kl = output[:, :-1], output[:, -1]
        return (1 - beta) * tf.reduce_sum(tf.square(x - reconstruction), axis=-1) + beta * kl
    return loss
