"""`codesign rates`: Level-1 menu rates, a model's working points, pure rates and signal efficiencies.

Every number is weighted by the files' per-event weights and comes with a 68% interval and the
effective number of events behind it (`codesign.metrics.stats`).  A model's *pure* rate (efficiency)
counts only the events it fires that no menu seed fires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from codesign.atomic import atomic_path, check_writable
from codesign.data.objects import Events
from codesign.errors import CodesignError
from codesign.fixed.trigger import TriggerChain
from codesign.metrics.menu import Menu, load_menu
from codesign.metrics.rates import BUNCH_CROSSING_RATE_HZ, WorkingPoint, rate, rate_scan, roc_auc, working_point
from codesign.metrics.stats import CONFIDENCE, effective_count, fraction

JSON_FILE, MARKDOWN_FILE = "rates.json", "rates.md"


@dataclass
class Sample:
    """One file's events, per-event weights and (with a model) trigger scores."""

    name: str
    path: str
    events: Events
    weights: np.ndarray
    scores: np.ndarray | None = None


@dataclass(frozen=True)
class Model:
    """A zoo model's bit-exact trigger chain and the view it reads."""

    name: str
    chain: TriggerChain
    view: str

    @property
    def lsb(self) -> float:
        return self.chain.score.format.lsb

    def scores(self, raw: np.ndarray) -> np.ndarray:
        return self.chain.emulate(raw)["score"]


def load_zoo_model(name: str) -> Model:
    """The card's trigger chain (scaling, network, score, thresholds) of a zoo model."""
    from codesign.zoo.loading import load_model

    loaded = load_model(name)
    if loaded.chain is None or loaded.card is None:
        raise CodesignError(f"--model {name}: rates need a zoo model with a card (view, scaling, score), not a .h5")
    return Model(loaded.name, loaded.chain, loaded.card.data["inputs"]["view"])


def read_sample(name: str, path: Path, mapping: dict[str, Any] | None = None, model: Model | None = None) -> Sample:
    """The Level-1 objects, weights and model scores of a ROOT file."""
    from codesign.data.rootio import L1_PARTS, read_events, read_view, read_weights

    events = read_events(path, mapping, parts=L1_PARTS)
    weights = read_weights(path, mapping)
    if weights.sum() <= 0:
        raise CodesignError(f"{path} has no events (or only zero weights)")
    scores = model.scores(read_view(path, model.view, mapping)) if model else None
    return Sample(name, str(path), events, weights, scores)


def model_working_points(model: Model, background: Sample,
                         target_khz: Sequence[float] | Mapping[str, float]) -> dict[str, WorkingPoint]:
    """Thresholds for the target rates (kHz; a mapping names them), or the card's thresholds without targets."""
    if target_khz:
        targets = target_khz if isinstance(target_khz, Mapping) else {f"{khz:g}kHz": khz for khz in target_khz}
        return {name: working_point(background.scores, khz * 1e3, background.weights) for name, khz in targets.items()}
    if not model.chain.thresholds:
        raise CodesignError(f"model {model.name} has no working-point thresholds in its card; give --target-khz")
    scan = rate_scan(background.scores, background.weights)
    return {name: WorkingPoint(t * model.lsb, scan.estimate(t * model.lsb))
            for name, t in model.chain.thresholds.items()}


def evaluate(menu: Menu, background: Sample, signals: Sequence[Sample] = (), model: Model | None = None,
             target_khz: Sequence[float] | Mapping[str, float] = ()) -> dict[str, Any]:
    """All figures of the report as a JSON-ready dict (rates in Hz)."""
    fired = menu.evaluate(background.events, background.path)
    menu_any = Menu.any_fired(fired)
    signal_menu_any = [Menu.any_fired(menu.evaluate(s.events, s.path)) for s in signals]
    w = background.weights
    seeds = []
    for seed in menu.seeds:
        r = rate(fired[seed.name], w)
        seeds.append({"name": seed.name, "description": seed.description, "rate_hz": r.as_dict(),
                      "anchor_khz": seed.anchor_khz,
                      "ratio_to_anchor": r.value / (seed.anchor_khz * 1e3) if seed.anchor_khz else None})
    result: dict[str, Any] = {
        "bunch_crossing_rate_hz": BUNCH_CROSSING_RATE_HZ,
        "confidence": CONFIDENCE,
        "zerobias": _describe(background),
        "menu": {"source": menu.source, "seeds": seeds, "total_rate_hz": rate(menu_any, w).as_dict()},
        "signals": {s.name: {**_describe(s), "menu_efficiency": fraction(any_fired, s.weights).as_dict()}
                    for s, any_fired in zip(signals, signal_menu_any)},
    }
    if model is None:
        return result
    wps = model_working_points(model, background, target_khz)
    points = []
    for name, wp in wps.items():
        entry = {"name": name, "threshold_lsb": int(round(wp.threshold / model.lsb)), **wp.as_dict(),
                 "pure_rate_hz": rate((background.scores > wp.threshold) & ~menu_any, w).as_dict(), "signals": {}}
        for s, any_fired in zip(signals, signal_menu_any):
            fires = s.scores > wp.threshold
            entry["signals"][s.name] = {
                "efficiency": fraction(fires, s.weights).as_dict(),
                "pure_efficiency": fraction(fires & ~any_fired, s.weights).as_dict(),
            }
        points.append(entry)
    for s in signals:
        result["signals"][s.name]["auc"] = roc_auc(background.scores, s.scores, w, s.weights)
    result["model"] = {"name": model.name, "score_lsb": model.lsb, "threshold_source": "target rates" if target_khz
                       else "card", "working_points": points}
    return result


def _describe(sample: Sample) -> dict[str, Any]:
    return {"file": sample.path, "events": int(len(sample.weights)),
            "effective_events": effective_count(sample.weights), "weighted": bool(np.ptp(sample.weights) > 0)}


def run(zerobias: Path, output: Path, menu: Path | None = None, model: str | None = None,
        target_khz: Sequence[float] = (), signals: dict[str, Path] | None = None,
        mapping: Path | None = None) -> dict[str, Any]:
    """Compute the report and write `output/` (rates.json, rates.md, plots) atomically; return the figures."""
    from codesign.data.rootio import load_mapping
    from codesign.metrics.plots import write_plots

    output = Path(output)
    if output.exists():
        raise CodesignError(f"output {output} already exists; choose a new -o folder or remove it")
    check_writable(output)
    if any(khz <= 0 for khz in target_khz):
        raise CodesignError(f"--target-khz values must be positive, not {list(target_khz)}")
    if target_khz and model is None:
        raise CodesignError("--target-khz sets a model's working points; give --model too")
    menu_obj = load_menu(menu)
    branch_mapping = load_mapping(mapping)
    zoo = load_zoo_model(model) if model else None
    background = read_sample("zerobias", zerobias, branch_mapping, zoo)
    samples = [read_sample(name, path, branch_mapping, zoo) for name, path in (signals or {}).items()]
    result = evaluate(menu_obj, background, samples, zoo, target_khz)
    with atomic_path(output) as tmp:
        tmp.mkdir()
        (tmp / JSON_FILE).write_text(json.dumps(result, indent=1, sort_keys=True))
        (tmp / MARKDOWN_FILE).write_text(markdown(result))
        write_plots(tmp, result, background, samples)
    return result


def interval(d: dict[str, float] | float, unit: float = 1.0, flag: bool = False) -> str:
    """``value [low, high]`` in `unit` (a flag when asked and flagged); a bare number (older metrics) as itself."""
    if not isinstance(d, dict):
        return f"{d / unit:.3g}"
    text = f"{d['value'] / unit:.3g} [{d['low'] / unit:.3g}, {d['high'] / unit:.3g}]"
    return text + (" ⚑" if flag and d["flagged"] else "")


def markdown(result: dict[str, Any]) -> str:
    """The report as Markdown tables (rates in kHz, efficiencies as fractions, 68% intervals in brackets)."""
    zb = result["zerobias"]
    lines = [
        "# Level-1 rates", "",
        f"Zero bias: `{zb['file']}`, {zb['events']} events ({zb['effective_events']:.4g} effective, "
        f"{'weighted' if zb['weighted'] else 'unweighted'}); rate = {result['bunch_crossing_rate_hz'] / 1e6:g} MHz "
        f"x weighted fraction. Brackets: {result['confidence']:.1%} interval (Clopper-Pearson on effective counts); "
        "⚑ flags an interval wider than ±30% or fewer than 10 effective events.", "",
        f"## Menu (`{result['menu']['source']}`)", "",
        "| seed | rate kHz [68%] | effective events | anchor kHz | rate / anchor |",
        "|---|---|---|---|---|",
    ]
    for seed in result["menu"]["seeds"]:
        anchor = f"{seed['anchor_khz']:g}" if seed["anchor_khz"] else "–"
        ratio = f"{seed['ratio_to_anchor']:.2f}" if seed["ratio_to_anchor"] is not None else "–"
        lines.append(f"| {seed['name']} | {interval(seed['rate_hz'], 1e3, flag=True)} | "
                     f"{seed['rate_hz']['effective']:.3g} | {anchor} | {ratio} |")
    total = result["menu"]["total_rate_hz"]
    lines.append(f"| **total (OR)** | {interval(total, 1e3, flag=True)} | {total['effective']:.3g} | | |")
    model = result.get("model")
    if model:
        lines += ["", f"## Model `{model['name']}` (thresholds from {model['threshold_source']})", "",
                  "| working point | threshold (score LSB) | rate kHz [68%] | pure rate kHz [68%] | effective events |",
                  "|---|---|---|---|---|"]
        for wp in model["working_points"]:
            lines.append(f"| {wp['name']} | {wp['threshold_lsb']} | {interval(wp['rate_hz'], 1e3, flag=True)} | "
                         f"{interval(wp['pure_rate_hz'], 1e3, flag=True)} | {wp['rate_hz']['effective']:.3g} |")
    if result["signals"]:
        lines += ["", "## Signals", "", "| signal | events (effective) | menu efficiency [68%] | AUC |",
                  "|---|---|---|---|"]
        for name, s in result["signals"].items():
            auc = f"{s['auc']:.4f}" if "auc" in s else "–"
            lines.append(f"| {name} | {s['events']} ({s['effective_events']:.4g}) | "
                         f"{interval(s['menu_efficiency'])} | {auc} |")
        if model:
            lines += ["", "| signal | working point | efficiency [68%] | pure efficiency [68%] |", "|---|---|---|---|"]
            for name in result["signals"]:
                for wp in model["working_points"]:
                    e = wp["signals"][name]
                    flag = " (working point ⚑)" if wp["flagged"] else ""
                    lines.append(f"| {name} | {wp['name']}{flag} | {interval(e['efficiency'])} | "
                                 f"{interval(e['pure_efficiency'])} |")
    return "\n".join(lines) + "\n"
