"""AXOL1TL: the quantization-aware VAE of the CMS Level-1 Global Trigger anomaly detector.

Encoder 57 -> 32 -> 16 -> (mu, log sigma^2), mirrored decoder.  Per event the loss is
``(1 - beta) * sum_i (x_i - x'_i)**2 + beta * KL(N(mu, sigma) || N(0, 1))``: the squared error summed over
the inputs (the Gaussian log-likelihood; a *mean* over 57 inputs weighs the reconstruction 57 times less,
and on zero bias with inputs scaled from present objects the KL term then wins: the latent collapses to
the prior and the score sum(mu**2) carries no information).  Both terms are per event, so a weighted
zero bias weights them alike.  Only the encoder's mu branch goes to firmware; log sigma^2 and the decoder
stay in training.  Quantizers follow the card (deployed v3/v4 formats by default; per-layer overrides in
`quantization.layers`, see `vae.layer_quantizer`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from codesign.kerasenv import check_one_keras
from codesign.zoo import vae
from codesign.zoo.card import Card


def build(card: Card, quantized: bool = True) -> tuple[keras.Model, keras.Model]:
    """(vae, encoder): the trainable VAE (output ``[reconstruction, KL]``, see `vae_loss`) and the firmware
    encoder (inputs -> quantized mu).

    With ``quantized=False`` the same architecture in floating point (the reference model)."""
    check_one_keras()
    inputs, mu, log_var = vae.encoder(card, quantized)
    z = keras.layers.Lambda(vae.sample, name="z")([mu, log_var])
    reconstruction = vae.decoder(card, z)
    kl = keras.layers.Lambda(vae.kl_column, name="kl")([mu, log_var])
    model = keras.Model(inputs, keras.layers.Concatenate(name="reconstruction_and_kl")([reconstruction, kl]),
                        name=f"{card.name}_vae")
    return model, keras.Model(inputs, mu, name=card.name)


def vae_loss(beta: float):
    """The per-event beta-VAE loss on the VAE's output ``[reconstruction, KL]`` for target inputs `x`."""
    def loss(x, output):
        reconstruction, kl = output[:, :-1], output[:, -1]
        return (1 - beta) * tf.reduce_sum(tf.square(x - reconstruction), axis=-1) + beta * kl
    return loss
