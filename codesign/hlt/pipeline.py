"""`codesign hlt evaluate` and `run`: anomaly scores through onnxruntime + the GMM, the HLT working point
among zero-bias events that pass the Level-1 AXOL1TL working point, efficiencies, purities, plots.

Rates: a zero-bias event counts when it passes the Level-1 working point (AXOMedium by default) *and* its
score is above the threshold, so R(t) = R0 x N(score > t | L1) / N(L1), weighted, with R0 the Level-1 rate
measured on the same events; the threshold scan runs from R0 down to `rate_fraction` x R0 (the seed: 6 -> 1
kHz).  Signal efficiency = N(L1 and score > t) / N(all signal events).  Purity = efficiency / zero-bias
acceptance (R(t) / 28.61 MHz): S/B for equal numbers of signal and zero-bias crossings before the trigger,
cross-section free as in the seed.  Every figure has its 68% interval and effective event count
(`codesign.metrics.stats`) and is flagged when it rests on few zero-bias events.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.hlt.card import CARD_FILE, GMM_FILE, ONNX_FILE, TRAIN_FILE, load_card
from codesign.hlt.data import HltSample
from codesign.hlt.gmm import Gmm
from codesign.metrics.rates import BUNCH_CROSSING_RATE_HZ, rate, rate_scan
from codesign.metrics.stats import CONFIDENCE, Estimate, fraction

BATCH = 1024
JSON_FILE, MARKDOWN_FILE = "hlt_eval.json", "hlt_eval.md"


def latent(model, x: np.ndarray, progress: bool = False) -> np.ndarray:
    """The latent vectors of `x` in batches, from a Keras encoder or an `OnnxModel`."""
    call = model if not hasattr(model, "predict") else (lambda b: model(b, training=False).numpy())
    out = [call(x[i:i + BATCH]) for i in tqdm(range(0, len(x), BATCH), disable=not progress, desc="hlt scores",
                                               unit="batch")]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


class Scorer:
    """A trained model folder: the ONNX encoder (onnxruntime) and the GMM; `scorer(x)` -> -log p(z)."""

    def __init__(self, folder: Path, threads: int | None = 1) -> None:
        from codesign.onnx import OnnxModel

        folder = Path(folder)
        if not (folder / CARD_FILE).is_file():
            raise CodesignError(f"{folder} is not an HLT model folder (no {CARD_FILE}); run `codesign hlt train -o {folder}`")
        self.card = load_card(folder)
        self.onnx = OnnxModel(folder / ONNX_FILE, threads)
        self.gmm = Gmm.load(folder / GMM_FILE)
        self.folder = folder

    def latent(self, x: np.ndarray, progress: bool = False) -> np.ndarray:
        return latent(self.onnx, x, progress)

    def __call__(self, x: np.ndarray, progress: bool = False) -> np.ndarray:
        return self.gmm.score(self.latent(x, progress))


def _as_dict(e: Estimate) -> dict:
    return e.as_dict()


def _gated(scores: np.ndarray, l1_pass: np.ndarray) -> np.ndarray:
    """Scores of events that pass Level-1; -inf for the others (they never pass an HLT threshold)."""
    return np.where(l1_pass, scores, -np.inf)


def evaluate_samples(scorer: Scorer, samples: dict[str, dict[str, HltSample]], progress: bool = True) -> dict:
    """Every figure of the evaluation (JSON-ready) plus the arrays the plots need (key `_arrays`)."""
    from codesign.hlt.data import level1
    from codesign.hlt.train import split
    from codesign.metrics.rates import roc_auc

    card = scorer.card
    wp_name = card["level1"]["working_point"]
    l1_model, l1_thresholds = level1(card)
    zb = samples["zerobias"]["zerobias"]
    zb_pass = zb.l1_scores > l1_thresholds[wp_name]
    if not zb_pass.any():
        raise CodesignError(f"no zero-bias event of {zb.path} passes {l1_model.name} {wp_name}; generate more zero bias")
    zb_scores = np.full(len(zb.weights), -np.inf)
    zb_scores[zb_pass] = scorer(zb.candidates_of(zb_pass), progress)
    r0 = rate(zb_pass, zb.weights)
    scan = rate_scan(zb_scores, zb.weights)
    fraction_to = float(card["working_point"]["rate_fraction"])
    targets = {f"{wp_name}/{1 / fraction_to:.3g}": r0.value * fraction_to,
               **{f"{khz:g} kHz": khz * 1e3 for khz in card["working_point"]["report_khz"] if khz * 1e3 < r0.value}}
    _, (x_test, labels_test) = split(samples["classes"], card["training"]["test_fraction"], card["training"]["seed"])
    sm_latent = scorer.latent(x_test)
    sm_scores = scorer.gmm.score(sm_latent)

    signals, arrays = {}, {"zb_scores": zb_scores, "zb_weights": zb.weights, "signals": {}, "sm_latent": sm_latent,
                           "sm_labels": labels_test, "classes": list(samples["classes"]), "signal_latent": {}}
    for name, s in samples["signals"].items():
        s_pass = s.l1_scores > l1_thresholds[wp_name]
        z = scorer.latent(s.candidates, progress)
        scores = _gated(scorer.gmm.score(z), s_pass)
        arrays["signals"][name] = (scores, s.weights)
        arrays["signal_latent"][name] = z
        signals[name] = {"events": int(len(s.weights)), "level1_efficiency": _as_dict(fraction(s_pass, s.weights)),
                         "auc_vs_sm": roc_auc(sm_scores, scorer.gmm.score(z), None, s.weights),
                         "raw_level1": {p: {"efficiency": _as_dict(fraction(s.l1_scores > t, s.weights))}
                                        for p, t in l1_thresholds.items() if p in card["level1"]["compare"]}}
    points = []
    for label, target in targets.items():
        t = scan.threshold_for(target)
        r = scan.estimate(t)
        entry = {"name": label, "target_hz": target, "threshold": t, "rate_hz": _as_dict(r), "signals": {}}
        for name, (scores, w) in arrays["signals"].items():
            eff = fraction(scores > t, w)
            entry["signals"][name] = {"efficiency": _as_dict(eff), "purity": purity(eff, r)}
        points.append(entry)
    raw = {p: {"threshold": t, "rate_hz": _as_dict(rate(zb.l1_scores > t, zb.weights))}
           for p, t in l1_thresholds.items() if p in card["level1"]["compare"]}
    for name, s in samples["signals"].items():
        for p in raw:
            eff = fraction(s.l1_scores > l1_thresholds[p], s.weights)
            signals[name]["raw_level1"][p]["purity"] = purity(eff, rate(zb.l1_scores > l1_thresholds[p], zb.weights))
    return {
        "source": "codesign hlt evaluate: onnxruntime encoder + GMM on the card's generated samples",
        "confidence": CONFIDENCE,
        "bunch_crossing_rate_hz": BUNCH_CROSSING_RATE_HZ,
        "level1": {"model": l1_model.name, "working_point": wp_name, "rate_hz": _as_dict(r0),
                   "zerobias_events": int(len(zb.weights)), "zerobias_passing": int(zb_pass.sum()), "raw": raw},
        "sm_test": {"events": int(len(x_test))},
        "working_points": points,
        "signals": signals,
        "_arrays": arrays,
    }


def purity(eff: Estimate, zb_rate: Estimate) -> dict:
    """Signal efficiency over zero-bias acceptance (S/B for equal signal and zero-bias crossings), with the
    interval from both intervals (conservative: low/high combined)."""
    acc = [v / BUNCH_CROSSING_RATE_HZ for v in (zb_rate.value, zb_rate.low, zb_rate.high)]
    value = eff.value / acc[0] if acc[0] > 0 else float("inf")
    return {"value": value, "low": eff.low / acc[2] if acc[2] > 0 else 0.0,
            "high": eff.high / acc[1] if acc[1] > 0 else float("inf"), "flagged": bool(eff.flagged or zb_rate.flagged)}


def evaluate(model_dir: Path, output: Path, samples: dict[str, dict[str, HltSample]] | None = None,
             jobs: int = 2, progress: bool = True) -> dict:
    """Evaluate a trained folder on the card's samples (generated or cached); writes JSON, markdown, plots."""
    from codesign.hlt.data import load_all
    from codesign.hlt.plots import write_plots

    check_output(output)
    scorer = Scorer(model_dir)
    samples = samples or load_all(scorer.card, jobs=jobs, progress=progress)
    result = evaluate_samples(scorer, samples, progress)
    arrays = result.pop("_arrays")
    train_file = Path(model_dir) / TRAIN_FILE
    result["training"] = json.loads(train_file.read_text()) if train_file.is_file() else None
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        (tmp / JSON_FILE).write_text(json.dumps(result, indent=1, default=float))
        (tmp / MARKDOWN_FILE).write_text(markdown(result))
        write_plots(tmp, result, arrays, scorer.card)
    return result


def _fmt(e: dict, unit: float = 1.0, digits: int = 3) -> str:
    flag = " (!)" if e.get("flagged") else ""
    return (f"{e['value'] / unit:.{digits}g} [{e['low'] / unit:.{digits}g}, {e['high'] / unit:.{digits}g}]{flag}")


def markdown(result: dict) -> str:
    """The evaluation table: working points, per-signal efficiency and purity, raw Level-1 points."""
    l1 = result["level1"]
    lines = [
        f"# HLT anomaly detection after {l1['model']} {l1['working_point']}",
        "",
        f"Level-1 rate R0 ({l1['model']} {l1['working_point']}, this zero bias): {_fmt(l1['rate_hz'], 1e3)} kHz from "
        f"{l1['zerobias_passing']} passing of {l1['zerobias_events']} zero-bias events "
        f"(effective {l1['rate_hz']['effective']:.1f}). Intervals: {result['confidence']:.0%} Clopper-Pearson on "
        "effective counts; (!) = flagged: interval beyond +-30% or under 10 effective events.",
        "",
        "| working point | threshold | rate (kHz) | eff. ZB events | signal | efficiency | purity S/B |",
        "|---|---|---|---|---|---|---|",
    ]
    for wp in result["working_points"]:
        for name, s in wp["signals"].items():
            lines.append(f"| HLT {wp['name']} | {wp['threshold']:.3f} | {_fmt(wp['rate_hz'], 1e3)} | "
                         f"{wp['rate_hz']['effective']:.1f} | {name} | {_fmt(s['efficiency'])} | {_fmt(s['purity'])} |")
    for p, raw in l1["raw"].items():
        for name, s in result["signals"].items():
            lines.append(f"| raw {l1['model']} {p} | {raw['threshold']:.3f} | {_fmt(raw['rate_hz'], 1e3)} | "
                         f"{raw['rate_hz']['effective']:.1f} | {name} | {_fmt(s['raw_level1'][p]['efficiency'])} | "
                         f"{_fmt(s['raw_level1'][p]['purity'])} |")
    lines += ["", "| signal | events | Level-1 efficiency | AUC score vs SM test |", "|---|---|---|---|"]
    for name, s in result["signals"].items():
        lines.append(f"| {name} | {s['events']} | {_fmt(s['level1_efficiency'])} | {s['auc_vs_sm']:.3f} |")
    if result.get("training"):
        t = result["training"]
        lines += ["", f"SM classifier accuracy on the held-out SM events: {t['test_accuracy']:.3f} "
                      f"({t['events']['test']} events, classes {', '.join(t['classes'])})."]
    return "\n".join(lines) + "\n"


def working_point_threshold(evaluation: Path) -> float:
    """The first (primary) HLT working point's threshold of an evaluation folder."""
    path = Path(evaluation) / JSON_FILE
    try:
        return float(json.loads(path.read_text())["working_points"][0]["threshold"])
    except (OSError, ValueError, KeyError, IndexError):
        raise CodesignError(f"no working point in {path}; run `codesign hlt evaluate MODEL_DIR -o {evaluation}`") from None


def run(model_dir: Path, events: Path, output: Path, threshold: float, threads: int = 1, progress: bool = True) -> dict:
    """Score a ROOT file's events; write the accepted (score > threshold) events' indices and scores
    (`accepted.csv`) and `summary.json`, atomically."""
    from codesign.hlt.data import read_sample

    check_output(output)
    scorer = Scorer(model_dir, threads)
    sample = read_sample(Path(events).name, Path(events), scorer.card["inputs"]["max_candidates"])
    scores = scorer(sample.candidates, progress)  # events without PF candidates are never accepted
    accepted = scores > threshold
    events_accepted, scores = sample.held[accepted], scores[accepted]
    summary = {"file": str(events), "events": int(len(sample.weights)), "scored": int(len(sample.candidates)),
               "accepted": int(len(events_accepted)), "threshold": threshold}
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        with open(tmp / "accepted.csv", "w") as handle:
            handle.write("event,score\n")
            handle.writelines(f"{i},{score:.6g}\n" for i, score in zip(events_accepted, scores))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary

