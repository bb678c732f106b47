"""The `codesign hlt evaluate` plots (matplotlib + mplhep, CMS style, PNG): rate vs threshold, efficiency and
purity vs rate against the raw Level-1 working points, and a t-SNE of the latent space by process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.metrics.rates import ThresholdScan, rate_scan

CURVE_POINTS = 120
TSNE_EVENTS = 300  # per process


def write_plots(folder: Path, result: dict, arrays: dict, card: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    scan = rate_scan(arrays["zb_scores"], arrays["zb_weights"])
    r0 = result["level1"]["rate_hz"]["value"]
    thresholds = _thresholds(scan, r0, float(card["working_point"]["rate_fraction"]))
    with plt.style.context(hep.style.CMS):
        return [_rate_vs_threshold(folder / "rate_vs_threshold.png", result, scan, thresholds, plt, hep),
                *(_vs_rate(folder / f"{kind}_vs_rate.png", kind, result, arrays, scan, thresholds, plt, hep)
                  for kind in ("efficiency", "purity")),
                _tsne(folder / "latent_tsne.png", arrays, card, plt, hep)]


def _thresholds(scan: ThresholdScan, r0: float, fraction_to: float) -> np.ndarray:
    """Thresholds whose rates are log-spaced from a tenth of the working-point rate up to R0."""
    targets = np.geomspace(max(r0 * fraction_to / 10, 1e-3), r0, CURVE_POINTS)
    return np.unique(scan.threshold_for(targets))


def _label(ax, hep, text: str) -> None:
    hep.cms.label(data=False, rlabel=text, ax=ax, fontsize=16)


def _rate_vs_threshold(path: Path, result: dict, scan: ThresholdScan, thresholds, plt, hep) -> Path:
    fig, ax = plt.subplots(figsize=(10, 8))
    value, low, high = (a / 1e3 for a in scan.intervals(thresholds))
    ax.plot(thresholds, value, label="HLT rate after Level-1")
    ax.fill_between(thresholds, low, high, alpha=0.3, label="68% interval")
    for wp in result["working_points"]:
        ax.axvline(wp["threshold"], ls="--", color="gray")
        ax.text(wp["threshold"], ax.get_ylim()[1] * 0.9, f" {wp['name']}", rotation=90, va="top", fontsize=12)
    ax.set_xlabel("anomaly score $-\\log p(z)$ threshold")
    ax.set_ylabel("rate [kHz]")
    ax.set_yscale("log")
    ax.legend(fontsize=14)
    _label(ax, hep, f"after {result['level1']['model']} {result['level1']['working_point']}")
    return _save(fig, path, plt)


def _vs_rate(path: Path, kind: str, result: dict, arrays: dict, scan: ThresholdScan, thresholds, plt, hep) -> Path:
    from codesign.hlt.pipeline import purity
    from codesign.metrics.stats import fraction

    fig, ax = plt.subplots(figsize=(10, 8))
    rates = [scan.estimate(t) for t in thresholds]
    x = np.array([r.value for r in rates]) / 1e3
    for k, (name, (scores, weights)) in enumerate(arrays["signals"].items()):
        color = f"C{k}"
        effs = [fraction(scores > t, weights) for t in thresholds]
        if kind == "efficiency":
            y = np.array([[e.value, e.low, e.high] for e in effs])
        else:
            y = np.array([[p["value"], p["low"], p["high"]] for p in (purity(e, r) for e, r in zip(effs, rates))])
        ax.plot(x, y[:, 0], color=color, label=f"{name}: HLT score")
        ax.fill_between(x, y[:, 1], y[:, 2], color=color, alpha=0.2)
        for marker, (p, raw) in zip("osD^", result["level1"]["raw"].items()):
            point = result["signals"][name]["raw_level1"][p][kind]
            r = raw["rate_hz"]
            ax.errorbar([r["value"] / 1e3], [point["value"]], xerr=[[(r["value"] - r["low"]) / 1e3], [(r["high"] - r["value"]) / 1e3]],
                        yerr=[[point["value"] - point["low"]], [point["high"] - point["value"]]], fmt=marker, color=color,
                        mfc="none", label=f"{name}: raw {result['level1']['model']} {p}")
    ax.set_xscale("log")
    ax.set_yscale("log" if kind == "purity" else "linear")
    ax.set_xlabel("rate [kHz]")
    ax.set_ylabel("signal efficiency" if kind == "efficiency" else "purity S/B (equal crossings)")
    ax.legend(fontsize=10, ncol=2)
    _label(ax, hep, f"HLT after {result['level1']['model']} {result['level1']['working_point']}")
    return _save(fig, path, plt)


def _tsne(path: Path, arrays: dict, card: dict, plt, hep) -> Path:
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(card["training"]["seed"])
    groups = {name: arrays["sm_latent"][arrays["sm_labels"] == k] for k, name in enumerate(arrays["classes"])}
    groups.update(arrays["signal_latent"])
    picked = {name: z[rng.permutation(len(z))[:TSNE_EVENTS]] for name, z in groups.items() if len(z)}
    z = np.concatenate(list(picked.values()))
    xy = TSNE(2, perplexity=min(30.0, max(2.0, (len(z) - 1) / 3)), random_state=card["training"]["seed"],
              init="pca").fit_transform(z)
    fig, ax = plt.subplots(figsize=(10, 9))
    start = 0
    for k, (name, part) in enumerate(picked.items()):
        ax.scatter(*xy[start:start + len(part)].T, s=6, label=name, color=f"C{k}",
                   marker="o" if name in arrays["classes"] else "^")
        start += len(part)
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.legend(fontsize=12, markerscale=3)
    _label(ax, hep, "latent space (SM test, signals)")
    return _save(fig, path, plt)


def _save(fig, path: Path, plt) -> Path:
    fig.savefig(path, dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path

