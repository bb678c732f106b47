"""What every zoo trainer shares: samples from the card's seeds, the input scaling fit, thresholds and
metrics through the bit-exact trigger emulation with the float model beside it, and the atomic write.

The samples are generated (or taken from the cache) from the card's requests; the input scaling is fitted
on the present objects of the training zero bias (`codesign.fixed.scaling`); the working-point thresholds
come from an independent *reference* zero bias, through the bit-exact trigger emulation, with rate
intervals: `working_points.rate_khz` targets the total rate, `working_points.unique_rate_khz` the rate of
events no Level-1 menu seed fires.  Metrics: weighted AUC, efficiency and pure efficiency with intervals for
every signal, the same for the architecture trained in float (its thresholds at the card's `rate_khz` target,
or, for a unique-rate target, at the firmware working point's measured total rate), per working point the
largest share of one pileup-pool interaction, and the input saturation of present objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.fixed.trigger import InputScaling
from codesign.metrics.report import Sample
from codesign.zoo.card import METRICS_FILE, Card

if TYPE_CHECKING:
    from codesign.data import GenerationRequest


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


def sample_requests(card: Card) -> dict[str, GenerationRequest]:
    """The generation requests of the card's samples: `background`, `reference` and each signal by name."""
    from codesign.data import GenerationRequest

    training = card.data["training"]
    pileup = training["background"]["pileup"]
    specs = {
        "background": training["background"], "reference": training["reference"],
        **{name: {"process": name, "events": training["signal_events"], "pileup": pileup,
                  "seed": training["background"]["seed"]} for name in training["signals"]},
    }
    return {key: GenerationRequest(spec["process"], spec["events"], pileup=spec["pileup"], seed=spec["seed"], pf=False)
            for key, spec in specs.items()}


def load_sample(card: Card, key: str, request: GenerationRequest, folder: Path, jobs: int = 2,
                progress: bool = True) -> tuple[Sample, np.ndarray]:
    """One of the card's samples (generated, or taken from the cache) and its raw view."""
    from codesign.data import generate

    path, _ = generate(request, folder / f"{key}.root", jobs=jobs, progress=progress)
    return read_sample(key, path, card.data["inputs"]["view"])


def load_samples(card: Card, jobs: int = 2, progress: bool = True) -> tuple[Samples, dict[str, np.ndarray]]:
    """Generate (or take from the cache) the samples the card asks for: the samples and their raw views."""
    import tempfile

    loaded, raws = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, request in sample_requests(card).items():
            loaded[key], raws[key] = load_sample(card, key, request, Path(tmp), jobs, progress)
    signals = {name: loaded[name] for name in card.data["training"]["signals"]}
    return Samples(loaded["background"], loaded["reference"], signals), raws


def check_epochs(card: Card, epochs: int | None) -> int:
    """The epochs to train (the card's unless given); refused before anything is overwritten."""
    epochs = card.data["training"]["epochs"] if epochs is None else epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise CodesignError(f"training needs at least one epoch, got {epochs!r}; nothing was written")
    return epochs


def fit_scaling(card: Card, raw: np.ndarray, weights: np.ndarray, rng: np.random.Generator
                ) -> tuple[InputScaling, Callable[[np.ndarray], np.ndarray]]:
    """The card's input scaling fitted on `raw` (recorded in the card) and the function raw -> network inputs
    (float images of the firmware's scaled inputs).  The fit sees an unweighted resample that follows `weights`."""
    from codesign.fixed.scaling import DEFAULT_HEADROOM_BITS, DEFAULT_QUANTILE

    raw_format = card.format(card.data["inputs"]["raw_format"])
    net_format = card.format(card.data["inputs"]["network_format"])
    resample = rng.choice(len(raw), size=len(raw), p=weights / weights.sum())
    fit = card.data["inputs"].get("scaling_fit") or {}
    scaling = InputScaling.from_data(raw[resample], raw_format, net_format, card.features(),
                                     quantile=fit.get("quantile", DEFAULT_QUANTILE),
                                     headroom_bits=fit.get("headroom_bits", DEFAULT_HEADROOM_BITS))
    card.set_scaling(scaling)

    def network_inputs(x: np.ndarray) -> np.ndarray:
        return net_format.to_float(scaling.apply(raw_format.quantize(x), net_format))

    return scaling, network_inputs


def _thresholds(card: Card, scores: np.ndarray, reference: Sample, menu_any: np.ndarray,
                lsb: float) -> dict[str, int]:
    """Thresholds (score LSBs) for the card's total (`rate_khz`) and unique (`unique_rate_khz`) rate targets."""
    from codesign.metrics.rates import working_point

    points = card.data["working_points"]
    unique_weights = np.where(menu_any, 0.0, reference.weights)
    thresholds = {}
    for key, weights in (("rate_khz", reference.weights), ("unique_rate_khz", unique_weights)):
        for name, khz in (points.get(key) or {}).items():
            thresholds[name] = int(round(working_point(scores, khz * 1e3, weights).threshold / lsb))
    if not thresholds:
        raise CodesignError(f"card {card.folder}: working_points needs rate_khz or unique_rate_khz targets")
    return dict(sorted(thresholds.items(), key=lambda item: item[1]))


def evaluate_and_write(card: Card, samples: Samples, raws: dict[str, np.ndarray], scaling: InputScaling,
                       encoder, float_score: Callable[[np.ndarray], np.ndarray], extra: dict | None = None) -> dict:
    """Thresholds and metrics of the QAT `encoder` (bit-exact trigger emulation) and of `float_score` (raw inputs ->
    float scores of the float model), written with the encoder and the card; returns the metrics."""
    from codesign.fixed.graph import Dense
    from codesign.fixed.lower import lower_keras
    from codesign.fixed.scaling import saturation_by_feature
    from codesign.fixed.trigger import TriggerChain
    from codesign.metrics.menu import Menu, load_menu
    from codesign.metrics.rates import roc_auc, working_point
    from codesign.metrics.report import Model, evaluate
    from codesign.metrics.stats import effective_count, fraction

    graph, _ = lower_keras(encoder)
    reference, signals = samples.reference, list(samples.signals.values())
    menu = load_menu()
    chain = TriggerChain(scaling, graph, card.score())
    reference.scores = Model(card.name, chain, card.data["inputs"]["view"]).scores(raws["reference"])
    menu_any = Menu.any_fired(menu.evaluate(reference.events, reference.path))
    chain.thresholds.update(_thresholds(card, reference.scores, reference, menu_any, chain.score.format.lsb))
    model = Model(card.name, chain, card.data["inputs"]["view"])
    for sample in signals:
        sample.scores = model.scores(raws[sample.name])
    report = evaluate(menu, reference, signals, model)
    points = report["model"]["working_points"]
    card.data["working_points"]["thresholds"] = dict(chain.thresholds)

    float_reference = float_score(raws["reference"])
    # the float model at the card's total-rate target, else (a unique-rate target) at the firmware's total rate
    total_khz = card.data["working_points"].get("rate_khz") or {}
    float_thresholds = {
        wp["name"]: working_point(float_reference, total_khz[wp["name"]] * 1e3 if wp["name"] in total_khz
                                  else wp["rate_hz"]["value"], reference.weights).threshold
        for wp in points}
    net_format = card.format(card.data["inputs"]["network_format"])
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
                                        "tail": pool_tail(reference, wp["threshold_lsb"] * model.lsb)}
                           for wp in points},
        "input_saturation": {name: saturation_by_feature(scaling, raws[name], net_format, card.features())
                             for name in ("reference", *samples.signals)},
        "signals": {},
        **(extra or {}),
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
    write_model(card, encoder, metrics)
    return metrics


def pool_tail(reference: Sample, threshold: float) -> dict:
    """Who makes up the reference rate above a threshold: the largest share of one reused pileup-pool
    interaction (and the crossings it leads) and of one event (`codesign.data.zerobias.tail_shares`)."""
    from codesign.data.zerobias import tail_shares

    shares = tail_shares(reference.weights, reference.scores > threshold, reference.events.lead_interaction)
    return {"pool_share": shares.pool_share, "pool_crossings": shares.pool_crossings, "event_share": shares.event_share}


def write_model(card: Card, encoder, metrics: dict) -> None:
    with atomic_path(card.encoder_path) as tmp:
        encoder.save(tmp, save_format="h5", include_optimizer=False)
    with atomic_path(card.folder / METRICS_FILE) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1, sort_keys=True))
    card.save()
