"""`codesign train axol1tl`: QAT of the VAE, input scaling, thresholds and metrics, from seeds.

Everything is derived from the card and its seeds: the samples (generated or taken from the
cache), the input scaling (from the training half of the zero-bias-like background), the weights,
the working-point thresholds (from the held-out background half, through the bit-exact trigger
emulation) and the metrics.  The card is updated in place and written with the weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.zoo.card import METRICS_FILE, Card


@dataclass
class Samples:
    """Raw AXOL1TL inputs (hardware units) of the background and of each signal."""

    background: np.ndarray
    signals: dict[str, np.ndarray]


def load_samples(card: Card, jobs: int = 2, progress: bool = True) -> Samples:
    """Generate (or take from the cache) the samples the card asks for."""
    import tempfile

    from codesign.data import GenerationRequest, generate, read_view

    training = card.data["training"]
    view = card.data["inputs"]["view"]
    bkg = training["background"]
    with tempfile.TemporaryDirectory() as tmp:
        def sample(process: str, events: int, pileup: float, seed: int) -> np.ndarray:
            request = GenerationRequest(process, events, pileup=pileup, seed=seed)
            path, _ = generate(request, Path(tmp) / f"{process}.root", jobs=jobs, progress=progress)
            return read_view(path, view)

        background = sample(bkg["process"], bkg["events"], bkg["pileup"], bkg["seed"])
        signals = {
            name: sample(name, training["signal_events"], bkg["pileup"], bkg["seed"])
            for name in training["signals"]
        }
    return Samples(background, signals)


def train(card: Card, samples: Samples, epochs: int | None = None, verbose: int = 0) -> dict:
    """Train the card's model on `samples`, write weights, card and metrics; return the metrics."""
    import keras
    import tensorflow as tf

    from codesign.fixed.graph import Dense
    from codesign.fixed.lower import lower_keras
    from codesign.fixed.trigger import InputScaling, TriggerChain
    from codesign.metrics import BUNCH_CROSSING_RATE_HZ, efficiency, roc_auc, threshold_for_rate
    from codesign.train.pruning import MagnitudePruning
    from codesign.zoo import axol1tl

    training = card.data["training"]
    epochs = training["epochs"] if epochs is None else epochs
    if not isinstance(epochs, int) or epochs < 1:  # before anything is overwritten
        raise CodesignError(f"training needs at least one epoch, got {epochs!r}")
    raw_format = card.format(card.data["inputs"]["raw_format"])
    net_format = card.format(card.data["inputs"]["network_format"])

    rng = np.random.default_rng(training["seed"])
    order = rng.permutation(len(samples.background))
    half = len(order) // 2
    train_raw, test_raw = samples.background[order[:half]], samples.background[order[half:]]

    scaling = InputScaling.from_data(train_raw, raw_format, target_range=net_format.max_value / 2)
    card.data["inputs"]["scaling"] = {"offsets": scaling.offsets.tolist(), "shifts": scaling.shifts.tolist()}

    def network_inputs(raw: np.ndarray) -> np.ndarray:
        return net_format.to_float(scaling.apply(raw_format.quantize(raw), net_format))

    x_train = network_inputs(train_raw)
    models = {}
    for quantized in (True, False):
        keras.utils.set_random_seed(training["seed"])
        tf.config.experimental.enable_op_determinism()
        vae, encoder = axol1tl.build(card, quantized=quantized)
        vae.compile(optimizer=keras.optimizers.Adam(training["learning_rate"]), loss="mse")
        sparsity = card.data["quantization"]["pruning"]["final_sparsity"]
        dense = [layer for layer in encoder.layers if hasattr(layer, "kernel")]
        callbacks = [MagnitudePruning(dense, sparsity, epochs)] if sparsity > 0 else []
        vae.fit(x_train, x_train, epochs=epochs, batch_size=training["batch_size"], shuffle=True,
                validation_split=0.1, verbose=verbose, callbacks=callbacks)
        models["qat" if quantized else "float"] = encoder

    graph, _ = lower_keras(models["qat"])
    chain = TriggerChain(scaling, graph, card.score())

    def firmware_score(raw: np.ndarray) -> np.ndarray:
        return chain.emulate(raw)["score"]

    def float_score(raw: np.ndarray) -> np.ndarray:
        mu = models["float"].predict(network_inputs(raw), batch_size=8192, verbose=0)
        return np.sum(mu.astype(np.float64) ** 2, axis=1)

    lsb = chain.score.format.lsb
    bkg_fw, bkg_float = firmware_score(test_raw), float_score(test_raw)
    rates = card.data["working_points"]["rate_khz"]
    thresholds = {wp: int(round(threshold_for_rate(bkg_fw, khz * 1e3) / lsb)) for wp, khz in rates.items()}
    float_thresholds = {wp: threshold_for_rate(bkg_float, khz * 1e3) for wp, khz in rates.items()}
    card.data["working_points"]["thresholds"] = thresholds

    metrics = {
        "bunch_crossing_rate_hz": BUNCH_CROSSING_RATE_HZ,
        "zero_weight_fraction": float(np.mean(np.concatenate(
            [op.weight.ravel() for op in graph.ops if isinstance(op, Dense)]) == 0)),  # after quantization
        "background_test_events": len(test_raw),
        "score_lsb": lsb,
        "thresholds_score_lsb": thresholds,
        "signals": {},
    }
    for name, raw in samples.signals.items():
        fw, fl = firmware_score(raw), float_score(raw)
        metrics["signals"][name] = {
            "auc_firmware": roc_auc(bkg_fw, fw),
            "auc_float": roc_auc(bkg_float, fl),
            "efficiency_firmware": {wp: efficiency(fw, t * lsb) for wp, t in thresholds.items()},
            "efficiency_float": {wp: efficiency(fl, float_thresholds[wp]) for wp in rates},
        }
    _write(card, models["qat"], metrics)
    return metrics


def _write(card: Card, encoder, metrics: dict) -> None:
    with atomic_path(card.encoder_path) as tmp:
        encoder.save(tmp, save_format="h5", include_optimizer=False)
    with atomic_path(card.folder / METRICS_FILE) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1, sort_keys=True))
    card.save()
