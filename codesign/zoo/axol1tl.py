"""AXOL1TL: the quantization-aware VAE of the CMS Level-1 Global Trigger anomaly detector.

Encoder 57 -> 32 -> 16 -> (mu, log sigma^2), mirrored decoder, loss = reconstruction + beta KL.
Only the encoder's mu branch goes to firmware; log sigma^2 and the decoder stay in training.
Quantizers follow the card (deployed v3/v4 formats by default).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from codesign.zoo import vae
from codesign.zoo.card import Card


def build(card: Card, quantized: bool = True) -> tuple[keras.Model, keras.Model]:
    """(vae, encoder): the trainable VAE and the firmware encoder (inputs -> quantized mu).

    With ``quantized=False`` the same architecture in floating point (the reference model)."""
    inputs, mu, log_var = vae.encoder(card, quantized)
    z = keras.layers.Lambda(vae.sample, name="z")([mu, log_var])
    model = keras.Model(inputs, vae.decoder(card, z), name=f"{card.name}_vae")
    model.add_loss(card.data["training"]["beta"] * tf.reduce_mean(vae.kl_divergence(mu, log_var)))
    return model, keras.Model(inputs, mu, name=card.name)
