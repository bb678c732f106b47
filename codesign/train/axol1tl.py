"""`codesign train axol1tl`: QAT of the VAE, input scaling, thresholds and metrics, from seeds.

Everything is derived from the card and its seeds: the samples (generated or taken from the cache),
the input scaling (from the present objects of the training zero bias, `codesign.fixed.scaling`), the
weights (trained on the weighted zero bias with its per-event weights), the working-point thresholds
(from an independent *reference* zero-bias sample, through the bit-exact trigger emulation, with rate
intervals) and the metrics: weighted AUC, efficiency and pure efficiency (events no Level-1 menu seed
fires) with intervals for every signal, the same for the architecture trained in float, and the fraction
of present objects whose scaled inputs saturate.  The card is updated in place and written with the weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.metrics.report import Sample
from codesign.zoo.card import METRICS_FILE, Card


@dataclass
class Samples:
    """The training zero bias, the independent reference zero bias (thresholds, rates) and the signals;
    each sample's `scores` holds its raw inputs (view, hardware units) until the model scores them."""

    background: Sample
    reference: Sample
    signals: dict[str, Sample]


def read_sample(name: str, path: Path, view: str) -> tuple[Sample, np.ndarray]:
    """A file's Level-1 objects and weights, and its raw view."""
    from codesign.data.rootio import L1_PARTS, read_events, read_view, read_weights

    return Sample(name, str(path), read_events(path, parts=L1_PARTS), read_weights(path)), read_view(path, view)


def load_samples(card: Card, jobs: int = 2, progress: bool = True) -> tuple[Samples, dict[str, np.ndarray]]:
    """Generate (or take from the cache) the samples the card asks for: the samples and their raw views."""
    import tempfile

    from codesign.data import GenerationRequest, generate

    training = card.data["training"]
    view = card.data["inputs"]["view"]
    pileup = training["background"]["pileup"]
    requests = {
        "background": training["background"], "reference": training["reference"],
        **{name: {"process": name, "events": training["signal_events"], "pileup": pileup,
                  "seed": training["background"]["seed"]} for name in training["signals"]},
    }
    loaded, raws = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, spec in requests.items():
            request = GenerationRequest(spec["process"], spec["events"], pileup=spec["pileup"], seed=spec["seed"], pf=False)
            path, _ = generate(request, Path(tmp) / f"{key}.root", jobs=jobs, progress=progress)
            loaded[key], raws[key] = read_sample(key, path, view)
    signals = {name: loaded[name] for name in training["signals"]}
    return Samples(loaded["background"], loaded["reference"], signals), raws


def train(card: Card, samples: Samples, raws: dict[str, np.ndarray], epochs: int | None = None,
          verbose: int = 0) -> dict:
    """Train the card's model, write weights, card and metrics; return the metrics.

    `raws` holds the raw inputs of every sample under the keys `background`, `reference` and the signal names."""
    import keras
    import tensorflow as tf

    from codesign.fixed.graph import Dense
    from codesign.fixed.lower import lower_keras
    from codesign.fixed.scaling import DEFAULT_HEADROOM_BITS, DEFAULT_QUANTILE, saturation_by_feature
    from codesign.fixed.trigger import InputScaling, TriggerChain
    from codesign.metrics.menu import load_menu
    from codesign.metrics.rates import roc_auc, working_point
    from codesign.metrics.report import Model, evaluate
    from codesign.metrics.stats import effective_count, fraction
    from codesign.train.pruning import MagnitudePruning
    from codesign.zoo import axol1tl

    training = card.data["training"]
    epochs = training["epochs"] if epochs is None else epochs
    if not isinstance(epochs, int) or epochs < 1:  # before anything is overwritten
        raise CodesignError(f"training needs at least one epoch, got {epochs!r}; nothing was written")
    raw_format = card.format(card.data["inputs"]["raw_format"])
    net_format = card.format(card.data["inputs"]["network_format"])
    rng = np.random.default_rng(training["seed"])
    train_raw, train_w = raws["background"], samples.background.weights
    # the scaling is fitted on an unweighted resample that follows the zero bias' weights
    resample = rng.choice(len(train_raw), size=len(train_raw), p=train_w / train_w.sum())

    features = card.features()
    fit = card.data["inputs"].get("scaling_fit") or {}
    scaling = InputScaling.from_data(train_raw[resample], raw_format, net_format, features,
                                     quantile=fit.get("quantile", DEFAULT_QUANTILE),
                                     headroom_bits=fit.get("headroom_bits", DEFAULT_HEADROOM_BITS))
    card.set_scaling(scaling)

    def network_inputs(raw: np.ndarray) -> np.ndarray:
        return net_format.to_float(scaling.apply(raw_format.quantize(raw), net_format))

    order = rng.permutation(len(train_raw))  # validation_split takes the last 10%: shuffle first
    x_train, sample_weight = network_inputs(train_raw[order]), train_w[order] / train_w.mean()
    models = {}
    for quantized in (True, False):
        keras.utils.set_random_seed(training["seed"])
        tf.config.experimental.enable_op_determinism()
        vae, encoder = axol1tl.build(card, quantized=quantized)
        vae.compile(optimizer=keras.optimizers.Adam(training["learning_rate"]), loss=axol1tl.vae_loss(training["beta"]))
        sparsity = card.data["quantization"]["pruning"]["final_sparsity"]
        dense = [layer for layer in encoder.layers if hasattr(layer, "kernel")]
        callbacks = [MagnitudePruning(dense, sparsity, epochs)] if sparsity > 0 else []
        vae.fit(x_train, x_train, sample_weight=sample_weight, epochs=epochs, batch_size=training["batch_size"],
                shuffle=True, validation_split=0.1, verbose=verbose, callbacks=callbacks)
        models["qat" if quantized else "float"] = encoder

    graph, _ = lower_keras(models["qat"])
    chain = TriggerChain(scaling, graph, card.score())
    model = Model(card.name, chain, card.data["inputs"]["view"])

    def float_score(raw: np.ndarray) -> np.ndarray:
        mu = models["float"].predict(network_inputs(raw), batch_size=8192, verbose=0)
        return np.sum(mu.astype(np.float64) ** 2, axis=1)

    reference, signals = samples.reference, list(samples.signals.values())
    for sample in (reference, *signals):
        sample.scores = model.scores(raws[sample.name])
    targets = card.data["working_points"]["rate_khz"]
    report = evaluate(load_menu(), reference, signals, model, target_khz=targets)
    points = report["model"]["working_points"]
    card.data["working_points"]["thresholds"] = {wp["name"]: wp["threshold_lsb"] for wp in points}

    float_reference = float_score(raws["reference"])
    float_thresholds = {name: working_point(float_reference, khz * 1e3, reference.weights).threshold
                        for name, khz in targets.items()}
    metrics = {
        "source": "codesign train: thresholds, rates and efficiencies on the reference zero bias and signal samples"
                  " of the card, through the bit-exact trigger emulation (firmware) or the float model",
        "bunch_crossing_rate_hz": report["bunch_crossing_rate_hz"],
        "confidence": report["confidence"],
        "zero_weight_fraction": float(np.mean(np.concatenate(
            [op.weight.ravel() for op in graph.ops if isinstance(op, Dense)]) == 0)),  # after quantization
        "background": {key: {"events": len(s.weights), "effective_events": effective_count(s.weights)}
                       for key, s in (("training", samples.background), ("reference", reference))},
        "score_lsb": model.lsb,
        "menu": report["menu"],
        "working_points": {wp["name"]: {**{k: wp[k] for k in ("threshold_lsb", "rate_hz", "pure_rate_hz", "flagged")},
                                        "tail": _tail(reference, wp["threshold_lsb"] * model.lsb)}
                           for wp in points},
        "input_saturation": {name: saturation_by_feature(scaling, raws[name], net_format, features)
                             for name in ("reference", *samples.signals)},
        "signals": {},
    }
    for sample in signals:
        fl = float_score(raws[sample.name])
        metrics["signals"][sample.name] = {
            "events": len(sample.weights),
            "auc_firmware": report["signals"][sample.name]["auc"],
            "auc_float": roc_auc(float_reference, fl, reference.weights, sample.weights),
            "menu_efficiency": report["signals"][sample.name]["menu_efficiency"],
            "efficiency_firmware": {wp["name"]: wp["signals"][sample.name]["efficiency"] for wp in points},
            "pure_efficiency_firmware": {wp["name"]: wp["signals"][sample.name]["pure_efficiency"] for wp in points},
            "efficiency_float": {name: fraction(fl > t, sample.weights).as_dict() for name, t in float_thresholds.items()},
        }
    _write(card, models["qat"], metrics)
    return metrics


def _tail(reference: Sample, threshold: float) -> dict:
    """Who makes up the reference rate above a threshold: the largest share of one reused pileup-pool
    interaction (and the crossings it leads) and of one event (`codesign.data.zerobias.tail_shares`)."""
    from codesign.data.zerobias import tail_shares

    shares = tail_shares(reference.weights, reference.scores > threshold, reference.events.lead_interaction)
    return {"pool_share": shares.pool_share, "pool_crossings": shares.pool_crossings, "event_share": shares.event_share}


def _write(card: Card, encoder, metrics: dict) -> None:
    with atomic_path(card.encoder_path) as tmp:
        encoder.save(tmp, save_format="h5", include_optimizer=False)
    with atomic_path(card.folder / METRICS_FILE) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1, sort_keys=True))
    card.save()
