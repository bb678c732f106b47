"""Loss maps, spatial/time corrections, the 99%-efficiency threshold, FDR, the eta-ring baseline,
the Table-1-like summary, quality-map plots and per-tower flag frequencies.

All maps are numpy arrays of shape (..., H, W); a batch of consecutive lumisections is (n_ls, H, W).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path

METHODS = ("Baseline", "Baseline + time", "AE", "AE + spatial", "AE + spatial + time")
WINDOW = 3


def loss_map(x: np.ndarray, reco: np.ndarray) -> np.ndarray:
    """Tower-wise squared error between input and reconstruction."""
    return (np.asarray(x, np.float32) - np.asarray(reco, np.float32)) ** 2


def spatial_correction(loss: np.ndarray, reference: np.ndarray, floor: float = 0.05) -> np.ndarray:
    """Divide by the average good-data occupancy per tower (floored, so dead towers stay finite)."""
    return loss / np.maximum(reference, floor)


def time_correction(loss: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Product of `window` consecutive maps: output[t] = loss[t] * ... * loss[t + window - 1].

    Output has n_ls - window + 1 entries; entry t belongs to the last LS of its window (t + window - 1).
    """
    n = len(loss) - window + 1
    if n < 1:
        raise ValueError(f"time correction needs at least {window} lumisections, got {len(loss)}")
    out = loss[:n].copy()
    for k in range(1, window):
        out = out * loss[k:k + n]
    return out


def eta_ring_baseline(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cut-based EB loss: |occupancy - mean occupancy of the tower's eta ring| (rows = eta)."""
    valid = mask.sum(axis=-1, keepdims=True).clip(1)
    ring = (x * mask).sum(axis=-1, keepdims=True) / valid
    return np.abs(x - ring) * mask


def threshold_at_efficiency(scores: np.ndarray, labels: np.ndarray, efficiency: float = 0.99) -> float:
    """Score threshold above which `efficiency` of the anomalous towers (labels True) lie."""
    s = np.asarray(scores)[np.asarray(labels, bool)]
    if s.size == 0:
        raise ValueError("no anomalous towers to set a threshold on")
    return float(np.quantile(s, 1.0 - efficiency, method="lower"))


def fdr(scores: np.ndarray, labels: np.ndarray, threshold: float, valid: np.ndarray | None = None) -> float:
    """False discovery rate: good towers flagged / all towers flagged (score >= threshold)."""
    flagged = np.asarray(scores) >= threshold
    if valid is not None:
        flagged &= np.broadcast_to(valid, flagged.shape)
    n = int(flagged.sum())
    return float((flagged & ~np.asarray(labels, bool)).sum() / n) if n else 0.0


def method_scores(x: np.ndarray, reco: np.ndarray | None, reference: np.ndarray, mask: np.ndarray,
                  window: int = WINDOW) -> dict[str, np.ndarray]:
    """Scores of every method for consecutive maps x (n_ls, H, W), aligned on LS window-1 .. n_ls-1."""
    n0 = window - 1
    out: dict[str, np.ndarray] = {}
    base = eta_ring_baseline(x, mask)
    out["Baseline"], out["Baseline + time"] = base[n0:], time_correction(base, window)
    if reco is not None:
        loss = loss_map(x, reco) * mask
        spat = spatial_correction(loss, reference) * mask
        out["AE"], out["AE + spatial"] = loss[n0:], spat[n0:]
        out["AE + spatial + time"] = time_correction(spat, window)
    return out


def format_table(table: dict[str, dict[str, float | None]], columns: list[str],
                 flagged: dict[str, dict[str, int]] | None = None) -> str:
    """Markdown table of FDR (%) with methods as rows and 'region anomaly' as columns.

    With `flagged` (towers flagged per cell), a zero FDR is shown as the resolution '< 100/flagged'.
    """
    def cell(m: str, c: str) -> str:
        v = table[m].get(c)
        if v is None:
            return "–"
        n = (flagged or {}).get(m, {}).get(c)
        if v == 0 and n:
            return f"0 (< {100 / n:.2g})"
        return "< 0.01" if v < 0.01 else f"{v:.3g}"

    lines = ["| Method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for method in METHODS:
        lines.append(f"| {method} | " + " | ".join(cell(method, c) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_table(table: dict[str, dict[str, float | None]], columns: list[str], folder: Path,
                extra: dict | None = None, flagged: dict[str, dict[str, int]] | None = None) -> tuple[Path, Path]:
    """Write fdr_table.md and fdr_table.json (atomically) into `folder`."""
    folder = Path(folder)
    md, js = folder / "fdr_table.md", folder / "fdr_table.json"
    with atomic_path(md) as tmp:
        tmp.write_text("FDR (%) at the 99% anomaly-detection threshold\n\n" + format_table(table, columns, flagged))
    with atomic_path(js) as tmp:
        tmp.write_text(json.dumps({"unit": "percent", "columns": columns, "fdr": table, "flagged": flagged or {},
                                   **(extra or {})}, indent=1))
    return md, js


class FlagCounter:
    """How often each tower was flagged, accumulated over lumisections and runs."""

    def __init__(self, shapes: dict[str, tuple[int, int]]) -> None:
        self.counts = {r: np.zeros(s, np.int64) for r, s in shapes.items()}
        self.n_ls = 0

    def update(self, flags: dict[str, np.ndarray]) -> None:
        for r, f in flags.items():
            self.counts[r] += np.asarray(f, bool)
        self.n_ls += 1

    def frequency(self) -> dict[str, np.ndarray]:
        return {r: c / max(self.n_ls, 1) for r, c in self.counts.items()}

    def save(self, path: Path) -> None:
        """Accumulate into an existing .npz (if any) and write it back atomically."""
        path = Path(path)
        counts, n = {r: c.copy() for r, c in self.counts.items()}, self.n_ls
        if path.is_file():
            with np.load(path) as old:
                n += int(old["n_ls"])
                for r in counts:
                    counts[r] += old[r]
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, n_ls=n, **counts)


def plot_quality(flags: np.ndarray, mask: np.ndarray, known_bad: np.ndarray, region: str, path: Path,
                 title: str = "") -> Path:
    """Quality map like the ECAL DQM (Figure 2): green good, red flagged, brown known issue, white no tower."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep
    from matplotlib.colors import ListedColormap

    q = np.where(mask, 1, 0)
    q = np.where(known_bad & mask, 3, q)
    q = np.where(flags & mask, 2, q)
    cmap = ListedColormap(["white", "tab:green", "tab:red", "saddlebrown"])
    fig, ax = plt.subplots(figsize=(8, 4.5) if region == "EB" else (5, 4.5))
    ax.imshow(q, cmap=cmap, vmin=0, vmax=3, origin="lower", aspect="auto", interpolation="nearest")
    ax.set_xlabel("iphi (tower)" if region == "EB" else "ix (tower)")
    ax.set_ylabel("ieta (tower)" if region == "EB" else "iy (tower)")
    hep.label.exp_text("codesign", "Simulation", ax=ax, fontsize=11)
    ax.set_title(f"{region} {title}".strip(), loc="right", fontsize=9, pad=16)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_maps(maps: dict[str, np.ndarray], mask: np.ndarray, region: str, path: Path) -> Path:
    """Side-by-side maps (input, reconstruction, loss, corrected loss...) like the paper's Figure 3."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(4.2 * len(maps), 3.2 if region == "EB" else 3.6))
    for ax, (name, m) in zip(np.atleast_1d(axes), maps.items()):
        im = ax.imshow(np.ma.masked_where(~mask, m), origin="lower", aspect="auto", cmap="viridis")
        ax.set_title(f"{region}: {name}", fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path
