"""The quantization-aware VAE encoder shared by the zoo's VAEs (AXOL1TL, GELATO).

Inputs -> optional input quantizer -> QDense + quantized ReLU per hidden layer -> (mu, log sigma^2); the
firmware keeps mu (QDense with its own quantizer), log sigma^2 is a float Dense used in training only.
Quantizers follow the card's `quantization` section: `quantization.layers.<layer>.<kind>` overrides the
card-wide `quantization.<kind>` (weight, bias, activation; pruning, the trainer's final sparsity) for one
layer (`enc0`, `enc1`, ..., `mu`), key by key, so bit widths and sparsity can differ per layer (the HGQ idea,
searched by `codesign sweep`); ``quantized=False`` builds the same layers in float.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from codesign.errors import CodesignError
from codesign.zoo.card import Card


def bits(spec: dict) -> quantized_bits:
    return quantized_bits(spec["bits"], spec["integer"], alpha=1)


def layer_quantizer(card: Card, layer: str, kind: str) -> dict:
    """The quantizer spec of `kind` for `layer`: the card-wide spec, updated by the layer's own entries (empty
    where the card has neither)."""
    q = card.data.get("quantization") or {}
    return {**(q.get(kind) or {}), **((q.get("layers") or {}).get(layer) or {}).get(kind, {})}


def sample(args):
    """The reparametrisation trick: z = mu + sigma * eps."""
    mu, log_var = args
    return mu + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mu))


def kl_divergence(mu, log_var, keepdims: bool = False):
    """Per-event KL divergence of N(mu, sigma^2) from N(0, 1), summed over the latent dimensions (a column
    with `keepdims`)."""
    return -0.5 * tf.reduce_sum(1 + log_var - tf.square(mu) - tf.exp(log_var), axis=1, keepdims=keepdims)


def kl_column(args):
    """`kl_divergence` of ``(mu, log_var)`` as a column (a Keras Lambda's function)."""
    mu, log_var = args
    return kl_divergence(mu, log_var, keepdims=True)


def encoder(card: Card, quantized: bool = True):
    """(inputs, mu, log_var) tensors of the card's encoder (`architecture.encoder` hidden sizes, `latent`)."""
    arch, q = card.data["architecture"], card.data["quantization"]
    unknown = set(q.get("layers") or {}) - {*(f"enc{i}" for i in range(len(arch["encoder"]))), "mu"}
    if unknown:
        raise CodesignError(f"card {card.folder / 'card.yaml'}: quantization.layers names {', '.join(sorted(unknown))}; "
                            f"the encoder's layers are enc0..enc{len(arch['encoder']) - 1} and mu")
    net_fmt = card.format(card.data["inputs"]["network_format"])
    inputs = keras.Input((card.data["inputs"]["size"],), name="inputs")

    def dense(units: int, name: str, activation: bool):
        if not quantized:
            return keras.layers.Dense(units, activation="relu" if activation else None, name=name)
        act = layer_quantizer(card, name, "activation")
        return QDense(units, kernel_quantizer=bits(layer_quantizer(card, name, "weight")),
                      bias_quantizer=bits(layer_quantizer(card, name, "bias")),
                      activation=quantized_relu(act["bits"], act["integer"]) if activation else None, name=name)

    x = inputs
    if quantized:
        x = QActivation(quantized_bits(net_fmt.width, net_fmt.integer - 1, alpha=1), name="input_quant")(x)
    for i, units in enumerate(arch["encoder"]):
        x = dense(units, f"enc{i}", activation=True)(x)
    mu = dense(arch["latent"], "mu", activation=False)(x)
    if quantized:
        mu = QActivation(bits(q["mu"]), name="mu_quant")(mu)
    log_var = keras.layers.Dense(arch["latent"], name="log_var")(x)
    return inputs, mu, log_var


def decoder(card: Card, z, name: str = "reconstruction"):
    """The float decoder (`architecture.decoder` hidden sizes, ReLU) from latent `z` to the inputs' size."""
    y = z
    for i, units in enumerate(card.data["architecture"]["decoder"]):
        y = keras.layers.Dense(units, activation="relu", name=f"dec{i}")(y)
    return keras.layers.Dense(card.data["inputs"]["size"], name=name)(y)
