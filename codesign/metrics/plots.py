"""The `codesign rates` plots (matplotlib + mplhep, CMS style, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codesign.metrics.rates import BUNCH_CROSSING_RATE_HZ, ThresholdScan, rate_scan

#: Points of the scanned curves: thresholds for rates log-spaced over this many values.
CURVE_POINTS = 300


def write_plots(folder: Path, result: dict[str, Any], background, signals: Sequence) -> list[Path]:
    """menu_rates.png always; with a model, rate_vs_threshold.png and (with signals) efficiency_vs_rate.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    written = []
    with plt.style.context(hep.style.CMS):
        written.append(_menu_rates(folder / "menu_rates.png", result, plt, hep))
        if "model" in result:
            scan = rate_scan(background.scores, background.weights)
            thresholds = _curve_thresholds(scan)
            written.append(_rate_vs_threshold(folder / "rate_vs_threshold.png", result, scan, thresholds, plt, hep))
            if signals:
                written.append(_efficiency_vs_rate(folder / "efficiency_vs_rate.png", result, scan, thresholds,
                                                   signals, plt, hep))
    return written


def _curve_thresholds(scan: ThresholdScan) -> np.ndarray:
    """Thresholds whose rates are log-spaced from the lowest non-zero rate to the full rate."""
    rates = scan.values(scan.candidates)
    lowest = rates[rates > 0].min(initial=BUNCH_CROSSING_RATE_HZ)
    targets = np.geomspace(lowest, BUNCH_CROSSING_RATE_HZ, CURVE_POINTS)
    return np.unique(np.append(scan.threshold_for(targets), scan.candidates[-1]))


def _label(ax, hep) -> None:
    hep.cms.label(data=False, rlabel="Level-1, 28.61 MHz", ax=ax)


def _menu_rates(path: Path, result, plt, hep) -> Path:
    seeds = result["menu"]["seeds"]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(seeds) + 3))
    y = np.arange(len(seeds))
    values = np.array([s["rate_hz"]["value"] for s in seeds]) / 1e3
    errors = np.array([[s["rate_hz"]["value"] - s["rate_hz"]["low"], s["rate_hz"]["high"] - s["rate_hz"]["value"]]
                       for s in seeds]).T / 1e3
    ax.errorbar(values, y, xerr=errors, fmt="o", label="rate [68%]")
    anchored = [(i, s["anchor_khz"]) for i, s in enumerate(seeds) if s["anchor_khz"]]
    if anchored:
        ax.plot([a for _, a in anchored], [i for i, _ in anchored], "r*", markersize=12, label="Run-3 anchor")
    ax.set_yticks(y, [s["name"] for s in seeds], fontsize=12)
    ax.set_xscale("symlog", linthresh=0.1)  # linear below 0.1 kHz, so zero rates show
    ax.set_xlim(0, 3 * max([s["rate_hz"]["high"] / 1e3 for s in seeds] + [a for _, a in anchored] + [1.0]))
    ax.set_xlabel("rate [kHz]")
    ax.legend(fontsize=12)
    _label(ax, hep)
    return _save(fig, path, plt)


def _rate_vs_threshold(path: Path, result, scan: ThresholdScan, thresholds, plt, hep) -> Path:
    value, low, high = (a / 1e3 for a in scan.intervals(thresholds))
    fig, ax = plt.subplots()
    ax.fill_between(thresholds, low, high, step="post", alpha=0.3, label="68% interval")
    ax.step(thresholds, value, where="post", label=f"{result['model']['name']} score > threshold")
    for wp in result["model"]["working_points"]:
        ax.plot(wp["threshold"], wp["rate_hz"]["value"] / 1e3, "x" if wp["flagged"] else "o", markersize=10,
                label=f"{wp['name']}{' (flagged)' if wp['flagged'] else ''}")
    ax.set_yscale("log")
    ax.set_xlabel("score threshold")
    ax.set_ylabel("rate [kHz]")
    ax.legend(fontsize=12)
    _label(ax, hep)
    return _save(fig, path, plt)


def _efficiency_vs_rate(path: Path, result, scan: ThresholdScan, thresholds, signals, plt, hep) -> Path:
    rates = scan.values(thresholds) / 1e3
    fig, ax = plt.subplots()
    for sample in signals:
        signal_scan = ThresholdScan.from_scores(sample.scores, sample.weights)
        line, = ax.plot(rates, signal_scan.values(thresholds), label=sample.name)
        for wp in result["model"]["working_points"]:
            eff = wp["signals"][sample.name]["efficiency"]
            ax.errorbar(wp["rate_hz"]["value"] / 1e3, eff["value"],
                        yerr=[[eff["value"] - eff["low"]], [eff["high"] - eff["value"]]],
                        fmt="x" if wp["flagged"] else "o", color=line.get_color())
    ax.set_xscale("log")
    ax.set_xlabel("zero-bias rate [kHz]")
    ax.set_ylabel("signal efficiency")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=11)
    _label(ax, hep)
    return _save(fig, path, plt)


def _save(fig, path: Path, plt) -> Path:
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
