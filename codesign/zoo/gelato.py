"""GELATO (ATLAS L1Topo ADVAE): a VAE-GAN whose quantization-aware encoder alone goes to firmware.

Encoder 44 -> hidden -> (mu, log sigma^2) as AXOL1TL (`codesign.zoo.vae`), float decoder, and a float
discriminator that tells the inputs from their reconstructions.  The generator (encoder + decoder) minimises
``reconstruction + beta KL + adversarial * BCE(D(reconstruction), real)`` per event, the discriminator
``BCE(D(x), real) + BCE(D(reconstruction), fake)``; the reconstruction error is summed over the inputs (not
averaged) so the KL term does not collapse the latent space at the card's beta.  Score in firmware:
``(sum_i mu_i^2) >> shift`` on the integer counts of mu (`score.shift`).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from codesign.zoo import vae
from codesign.zoo.card import Card


@dataclass
class VAEGAN:
    """The trainable parts: encoder (inputs -> mu, log sigma^2), decoder, discriminator (inputs -> logit),
    and `firmware`, the encoder's mu branch (the model lowered to the fixed-point graph)."""

    encoder: keras.Model
    decoder: keras.Model
    discriminator: keras.Model
    firmware: keras.Model


def build(card: Card, quantized: bool = True) -> VAEGAN:
    """The card's VAE-GAN; with ``quantized=False`` the encoder in float (the reference model)."""
    inputs, mu, log_var = vae.encoder(card, quantized)
    encoder = keras.Model(inputs, [mu, log_var], name=f"{card.name}_encoder")
    z = keras.Input((card.data["architecture"]["latent"],), name="z")
    decoder = keras.Model(z, vae.decoder(card, z), name=f"{card.name}_decoder")
    x = seen = keras.Input((card.data["inputs"]["size"],), name="seen")
    for i, units in enumerate(card.data["architecture"]["discriminator"]):
        x = keras.layers.Dense(units, name=f"disc{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"disc{i}_act")(x)
    discriminator = keras.Model(seen, keras.layers.Dense(1, name="real_logit")(x), name=f"{card.name}_discriminator")
    return VAEGAN(encoder, decoder, discriminator, keras.Model(inputs, mu, name=card.name))


def reconstruction_weights(card: Card) -> np.ndarray:
    """Per-input weights of the reconstruction error from the card's `training.reconstruction_weights` (by the
    feature name's suffix: pt, eta, phi; default 1): angles carry little of an anomaly, and without weights
    the latent space spends itself on them."""
    table = card.data["training"].get("reconstruction_weights") or {}
    return np.array([float(table.get(f.name.rsplit("_", 1)[-1], 1.0)) for f in card.features()], np.float32)


def losses(model: VAEGAN, x, weights, beta: float, adversarial: float, feature_weights) -> dict:
    """Weighted means over the batch: generator and discriminator losses and their parts."""
    bce = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
    mu, log_var = model.encoder(x, training=True)
    reconstruction = model.decoder(vae.sample((mu, log_var)), training=True)
    real, fake = model.discriminator(x, training=True), model.discriminator(reconstruction, training=True)
    parts = {
        "reconstruction": tf.reduce_sum(feature_weights * tf.square(x - reconstruction), axis=1),
        "kl": vae.kl_divergence(mu, log_var),
        "adversarial": bce(tf.ones_like(fake), fake),
        "discriminator": bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake),
    }
    mean = {name: tf.reduce_sum(weights * value) / tf.reduce_sum(weights) for name, value in parts.items()}
    mean["generator"] = mean["reconstruction"] + beta * mean["kl"] + adversarial * mean["adversarial"]
    return mean
