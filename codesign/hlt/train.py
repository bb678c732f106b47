"""`codesign hlt train`: the Linformer encoder with beta * InfoNCE + CE on the SM mix, the GMM on its latent
space, and the ONNX export, written atomically into one model folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.hlt.card import CARD_FILE, GMM_FILE, ONNX_FILE, TRAIN_FILE, WEIGHTS_FILE, save_card
from codesign.hlt.data import HltSample
from codesign.hlt.gmm import Gmm


def split(samples: dict[str, HltSample], test_fraction: float, seed: int) -> tuple[tuple, tuple]:
    """((x, labels) train, (x, labels) test): every SM class cut at random, labels in card order."""
    rng = np.random.default_rng([seed, 7])
    parts: dict[str, list] = {"train": [], "test": []}
    for label, sample in enumerate(samples.values()):
        order = rng.permutation(len(sample.candidates))
        n_test = int(round(test_fraction * len(order)))
        for key, rows in (("test", order[:n_test]), ("train", order[n_test:])):
            parts[key].append((sample.candidates[rows], np.full(len(rows), label)))
    return tuple((np.concatenate([p[0] for p in parts[k]]), np.concatenate([p[1] for p in parts[k]]))
                 for k in ("train", "test"))


def fit(card: dict, x: np.ndarray, labels: np.ndarray, progress: bool = True):
    """Train the encoder; returns (encoder, trainer, per-epoch mean losses)."""
    import tensorflow as tf

    from codesign.hlt.model import augment, build_encoder, info_nce

    arch, tr = card["architecture"], card["training"]
    encoder, trainer = build_encoder(arch, card["inputs"]["max_candidates"], int(labels.max()) + 1, tr["seed"])
    optimizer = tf.keras.optimizers.Adam(tr["learning_rate"])
    beta, temperature = float(tr["beta"]), float(tr["temperature"])

    @tf.function(reduce_retracing=True)
    def step(v1, v2, y):
        with tf.GradientTape() as tape:
            _, p1, logits1 = trainer(v1, training=True)
            _, p2, logits2 = trainer(v2, training=True)
            nce = info_nce(p1, p2, temperature)
            ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(tf.concat([y, y], 0),
                                                                                tf.concat([logits1, logits2], 0)))
            loss = beta * nce + ce
        optimizer.apply_gradients(zip(tape.gradient(loss, trainer.trainable_variables), trainer.trainable_variables))
        return loss, nce, ce

    rng = np.random.default_rng([tr["seed"], 11])
    batch, history = tr["batch_size"], []
    for epoch in range(tr["epochs"]):
        order = rng.permutation(len(x))
        sums = np.zeros(3)
        batches = range(0, len(x) - batch + 1 if len(x) >= batch else 1, batch)
        for start in tqdm(batches, desc=f"hlt epoch {epoch + 1}/{tr['epochs']}", disable=not progress, unit="batch"):
            rows = order[start:start + batch]
            views = [augment(x[rows], rng, tr["augment"]) for _ in range(2)]
            sums += [float(v) for v in step(*views, tf.constant(labels[rows], tf.int32))]
        history.append(dict(zip(("loss", "info_nce", "ce"), (sums / len(batches)).tolist())))
    return encoder, trainer, history


def train(card: dict, output: Path, samples: dict[str, dict[str, HltSample]], progress: bool = True) -> dict:
    """Train, fit the GMM, export ONNX; write card, weights, ONNX, GMM and `train.json` to `output`."""
    from codesign.hlt.pipeline import latent
    from codesign.onnx import export_keras

    check_output(output)
    classes = samples["classes"]
    if list(classes) != list(card["data"]["classes"]):
        raise CodesignError(f"the SM samples {list(classes)} differ from the card's classes {list(card['data']['classes'])}")
    (x, labels), (x_test, labels_test) = split(classes, card["training"]["test_fraction"], card["training"]["seed"])
    if len(x) < 2:
        raise CodesignError(f"only {len(x)} SM training events; give more events per class in the card")
    encoder, trainer, history = fit(card, x, labels, progress)
    z = latent(encoder, x)
    gmm = Gmm.fit(z, card["gmm"]["components"], card["gmm"]["seed"])
    logits = trainer.predict(x_test, batch_size=256, verbose=0)[2]
    summary = {"events": {"train": int(len(x)), "test": int(len(x_test))}, "history": history,
               "test_accuracy": float(np.mean(np.argmax(logits, 1) == labels_test)),
               "classes": list(classes)}
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        save_card(card, tmp / CARD_FILE)
        with open(tmp / WEIGHTS_FILE, "wb") as handle:
            np.savez(handle, *trainer.get_weights())
        export_keras(encoder, tmp / ONNX_FILE)
        gmm.save(tmp / GMM_FILE)
        (tmp / TRAIN_FILE).write_text(json.dumps(summary, indent=1))
    return summary
