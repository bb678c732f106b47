"""SUEP evaluation plots (matplotlib + mplhep, CMS style): ROC curves on a log mistag axis per score, and
true vs reconstructed total ET."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.metrics.rates import ThresholdScan


def write_plots(folder: Path, background: dict[str, np.ndarray], weights: np.ndarray,
                signals: dict[str, dict[str, np.ndarray]]) -> list[Path]:
    """`roc_<score>.png` for every score and `et_scatter.png`; returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep as hep

    from codesign.suep.pipeline import SCORES

    written = []
    with plt.style.context(hep.style.CMS):
        for key, label in SCORES.items():
            fig, ax = plt.subplots(figsize=(9, 8))
            scan = ThresholdScan.from_scores(background[key], weights)
            for name, sig in signals.items():
                sig_scan = ThresholdScan.from_scores(sig[key])
                thresholds = np.unique(np.concatenate([sig_scan.candidates, scan.candidates]))
                ax.plot(sig_scan.values(thresholds), scan.values(thresholds), label=name)
            ax.set_yscale("log")
            ax.set_xlabel("signal efficiency")
            ax.set_ylabel("QCD mistag rate")
            ax.legend(loc="lower right", title=label)
            hep.cms.label(data=False, rlabel="HLT, $\\langle PU\\rangle = 50$", ax=ax)
            written.append(_save(fig, folder / f"roc_{key}.png", plt))
        fig, ax = plt.subplots(figsize=(9, 8))
        for name, s in {"QCD": background, **signals}.items():
            ax.scatter(s["true_et"], s["reco_et"], s=4, alpha=0.5, label=name)
        top = max(float(np.max(s["true_et"], initial=1.0)) for s in (background, *signals.values()))
        ax.plot([0, top], [0, top], "k--", lw=1, label="reco = true")
        ax.set_xlabel("true $E_T$ (sum of input pixels) [GeV]")
        ax.set_ylabel("reconstructed $E_T$ [GeV]")
        ax.legend(loc="upper left", markerscale=3)
        hep.cms.label(data=False, rlabel="HLT, $\\langle PU\\rangle = 50$", ax=ax)
        written.append(_save(fig, folder / "et_scatter.png", plt))
    return written


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
