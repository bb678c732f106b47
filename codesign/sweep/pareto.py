"""The Pareto front of a sweep: points not dominated in (fewer LUTs, higher objective), as CSV and a plot.

A point is on the front when no other point has at most its LUTs and a strictly higher objective, or fewer
LUTs and at least its objective; of points with equal LUTs and objective the lowest index is kept; points whose
objective is empty (failed, or `auc_diff_min` without a committed row) are left out.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from codesign.atomic import atomic_path

FRONT_FILE, PLOT_FILE = "pareto.csv", "pareto.png"


def front_mask(lut: np.ndarray, objective: np.ndarray) -> np.ndarray:
    """True for the non-dominated points (minimise `lut`, maximise `objective`)."""
    mask = np.zeros(len(lut), dtype=bool)
    best = -np.inf
    for i in np.lexsort((np.arange(len(lut)), -objective, lut)):  # by LUTs, then best objective, then index
        if objective[i] > best:
            mask[i], best = True, objective[i]
    return mask


def write_front(rows: list[dict[str, str]], output: Path, objective: str, part: str) -> dict[str, Any]:
    """`pareto.csv` (front points by increasing LUTs) and `pareto.png` from the results table's rows."""
    points = [r for r in rows if r["status"] == "ok" and r["point"] != "committed" and r[objective] != ""]
    committed = next((r for r in rows if r["point"] == "committed" and r["status"] == "ok"), None)
    lut = np.array([float(r["lut"]) for r in points])
    value = np.array([float(r[objective]) for r in points])
    mask = front_mask(lut, value) if points else np.zeros(0, dtype=bool)
    front = sorted((r for r, on in zip(points, mask) if on), key=lambda r: (float(r["lut"]), int(r["point"])))
    header = list(rows[0]) if rows else ["point"]
    with atomic_path(output / FRONT_FILE) as tmp, tmp.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(front)
    _plot(output / PLOT_FILE, points, mask, committed, objective, part)
    return {"table": str(output / "results.csv"), "front_file": str(output / FRONT_FILE),
            "plot": str(output / PLOT_FILE), "objective": objective, "front": front, "committed": committed}


def _plot(path: Path, points: list[dict[str, str]], mask: np.ndarray, committed: dict[str, str] | None,
          objective: str, part: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    x = np.array([float(r["lut_pct"]) for r in points])
    y = np.array([float(r[objective]) for r in points])
    with plt.style.context(hep.style.CMS):
        fig, ax = plt.subplots(figsize=(10, 8))
        ax.scatter(x[~mask], y[~mask], color="0.6", label="sweep points")
        order = np.argsort(x[mask])
        ax.plot(x[mask][order], y[mask][order], "o-", color="tab:red", label="Pareto front")
        for r, xi, yi in zip((r for r, on in zip(points, mask) if on), x[mask], y[mask]):
            ax.annotate(r["point"], (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=12)
        if committed is not None:
            ax.scatter([float(committed["lut_pct"])], [float(committed[objective])], marker="*", s=400,
                       color="tab:blue", label="committed model", zorder=3)
        ax.set_xlabel(f"LUT (% of {part}, Yosys fast estimate)")
        ax.set_ylabel(f"{objective} (bit-exact emulation)")
        ax.legend(fontsize=14)
        hep.cms.label(data=False, rlabel="Level-1 sweep", ax=ax)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
