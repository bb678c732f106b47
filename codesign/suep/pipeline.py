"""`codesign suep train|evaluate|run`: the ConvAE trained on QCD images, exported to ONNX, and the
mistag table at a fixed signal efficiency computed from onnxruntime outputs.

A model folder holds `card.yaml` (the card it was trained with, overrides applied), `convae.h5` (Keras),
`convae.onnx` and `train.json` (losses, sample sizes, preselection efficiencies, parameter count).
An evaluation folder holds `table.md`, `results.json`, `roc_<score>.png` and `et_scatter.png`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.suep import data as D
from codesign.suep.card import SuepCard, load_card
from codesign.suep.model import dice_loss_np

KERAS_FILE, ONNX_FILE, CARD_FILE, TRAIN_FILE = "convae.h5", "convae.onnx", "card.yaml", "train.json"
#: The anomaly scores (higher = more signal-like), as in the seed's slides and backup.
SCORES = {"loss": "ConvAE loss", "inv_reco_et": "1/reconstructed $E_T$", "inv_true_et": "1/true $E_T$"}


def _sample(card: SuepCard, process: str, jobs: int, progress: bool) -> D.Sample:
    s = card.samples
    events = s["background_events"] if process == s["background"] else s["signal_events"]
    return D.load(process, int(events), int(s["seed"]), float(s["pileup"]), int(s["pool_events"]),
                  card.images, jobs, progress)


def _qcd_split(card: SuepCard, qcd: D.Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(training, validation, test) rows of the preselected QCD: a seeded random split (the file is in p̂T-slice
    order), the same in `train` and `evaluate`."""
    order = np.random.default_rng(card.training["seed"]).permutation(qcd.n)
    n_train = int(round(card.samples["train_fraction"] * qcd.n))
    n_val = int(round(card.training["validation_fraction"] * n_train))
    return order[n_val:n_train], order[:n_val], np.sort(order[n_train:])


def _selection(sample: D.Sample, used: int | None = None) -> dict[str, Any]:
    """Generated and preselected events, the events used (default: all selected), the efficiency."""
    return {"generated": sample.generated, "selected": sample.n, "used": sample.n if used is None else used,
            "efficiency": sample.selection.as_dict()}


def train(card: SuepCard, output: Path, jobs: int = 2, progress: bool = True) -> dict[str, Any]:
    """Train the ConvAE on preselected QCD images; write the model folder (Keras, ONNX, card, train.json)."""
    import keras
    import tensorflow as tf

    from codesign.onnx import export_keras
    from codesign.suep.model import build, dice_loss

    output = check_output(output, folder=True)
    t = card.training
    spec = card.images
    model = build(card.data["architecture"], spec.shape, seed=t["seed"])
    if tuple(model.output_shape[1:]) != spec.shape:
        raise CodesignError(f"card {card.path}: the architecture maps {spec.shape} images to {model.output_shape[1:]};"
                            " the strides must multiply to divisors of n_eta and n_phi and end with 3 filters")
    qcd = _sample(card, card.samples["background"], jobs, progress)
    train_rows, val_rows, _ = _qcd_split(card, qcd)
    if len(train_rows) < 1:
        raise CodesignError(f"only {qcd.n} QCD events pass the preselection; raise --background-events")
    tf.config.experimental.enable_op_determinism()
    model.compile(keras.optimizers.Adam(t["learning_rate"]), loss=dice_loss)
    started = time.perf_counter()
    history = model.fit(
        _sequence(qcd, spec, train_rows, t["batch_size"], t["seed"]), epochs=int(t["epochs"]),
        validation_data=_sequence(qcd, spec, val_rows, t["batch_size"], None) if len(val_rows) else None,
        verbose=1 if progress else 0, shuffle=False)
    summary = {
        "events": {"train": int(len(train_rows)), "validation": int(len(val_rows))},
        "selection": {qcd.name: _selection(qcd)},
        "epochs": int(t["epochs"]),
        "seconds": round(time.perf_counter() - started, 1),
        "parameters": {"total": int(model.count_params()),
                       "trainable": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))},
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
    }
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        model.save(tmp / KERAS_FILE)
        export_keras(model, tmp / ONNX_FILE)
        (tmp / CARD_FILE).write_text(card.dump())
        (tmp / TRAIN_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _sequence(sample: D.Sample, spec: D.ImageSpec, rows: np.ndarray, batch_size: int, seed: int | None):
    """A Keras Sequence of (images, images) batches built on the fly; reshuffled every epoch when seeded."""
    import keras

    class Images(keras.utils.Sequence):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(seed) if seed is not None else None
            self.rows = np.array(rows)
            self.on_epoch_end()

        def __len__(self) -> int:
            return -(-len(self.rows) // batch_size)

        def __getitem__(self, i: int):
            x = spec.images(sample.pf.take(np.sort(self.rows[i * batch_size:(i + 1) * batch_size])))
            return x, x

        def on_epoch_end(self) -> None:
            if self.rng is not None:
                self.rng.shuffle(self.rows)

    return Images()


def score(model, sample: D.Sample, spec: D.ImageSpec, batch_size: int, progress: bool = True) -> dict[str, np.ndarray]:
    """Per-event scores of a sample from a model callable on image batches (ONNX or Keras), plus the ETs (GeV)."""
    loss, reco, true = [], [], []
    bar = tqdm(total=sample.n, unit="ev", desc=f"scoring {sample.name}", disable=not progress)
    for x in sample.batches(spec, batch_size):
        y = np.asarray(model(x))
        loss.append(dice_loss_np(x, y))
        reco.append(y.reshape(len(y), -1).sum(1, dtype=np.float64) * spec.scale_gev)
        true.append(x.reshape(len(x), -1).sum(1, dtype=np.float64) * spec.scale_gev)
        bar.update(len(x))
    bar.close()
    reco_et, true_et = np.concatenate(reco), np.concatenate(true)
    return {"loss": np.concatenate(loss), "inv_reco_et": 1.0 / np.maximum(reco_et, 1e-6),
            "inv_true_et": 1.0 / np.maximum(true_et, 1e-6), "reco_et": reco_et, "true_et": true_et}


def mistag_table(background: dict[str, np.ndarray], weights: np.ndarray, signals: dict[str, dict[str, np.ndarray]],
                 efficiency: float) -> dict[str, dict[str, Any]]:
    """Per signal and score: the threshold giving at most `efficiency` of the signal and the weighted
    background fraction above it, with its 68% Clopper-Pearson interval (metrics.stats)."""
    from codesign.metrics.rates import ThresholdScan

    table: dict[str, dict[str, Any]] = {}
    for name, sig in signals.items():
        table[name] = {}
        for key in SCORES:
            threshold = ThresholdScan.from_scores(sig[key]).threshold_for(efficiency)
            mistag = ThresholdScan.from_scores(background[key], weights).estimate(threshold)
            table[name][key] = {"threshold": float(threshold), "signal_efficiency": float(np.mean(sig[key] > threshold)),
                                "mistag": mistag.as_dict()}
    return table


def evaluate(model_dir: Path, output: Path, jobs: int = 2, threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Score the card's test QCD and SUEP samples with onnxruntime; write the table and the plots."""
    from codesign.onnx import OnnxModel

    model_dir = Path(model_dir)
    if not (model_dir / CARD_FILE).is_file():
        raise CodesignError(f"{model_dir} is not a SUEP model folder (no {CARD_FILE}); run `codesign suep train -o {model_dir}`")
    output = check_output(output, folder=True, inputs=(model_dir,))
    card = load_card(model_dir / CARD_FILE)
    onnx = OnnxModel(model_dir / ONNX_FILE, threads=threads)
    spec, batch = card.images, int(card.data["evaluation"]["batch_size"])
    efficiency = float(card.data["evaluation"]["signal_efficiency"])
    qcd = _sample(card, card.samples["background"], jobs, progress)
    _, _, test_rows = _qcd_split(card, qcd)
    selection = {qcd.name: _selection(qcd, len(test_rows))}
    qcd = D.Sample(qcd.name, qcd.pf.take(test_rows), qcd.weights[test_rows], qcd.selection, qcd.generated)
    signals = {p: _sample(card, p, jobs, progress) for p in card.samples["signals"]}
    selection.update({s.name: _selection(s) for s in signals.values()})
    bkg_scores = score(onnx, qcd, spec, batch, progress)
    sig_scores = {p: score(onnx, s, spec, batch, progress) for p, s in signals.items()}
    result = {
        "signal_efficiency": efficiency,
        "selection": selection,
        "table": mistag_table(bkg_scores, qcd.weights, sig_scores, efficiency),
        "auc": {p: {k: _auc(bkg_scores[k], qcd.weights, s[k]) for k in SCORES} for p, s in sig_scores.items()},
    }
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "results.json").write_text(json.dumps(result, indent=1) + "\n")
        (tmp / "table.md").write_text(table_markdown(result))
        from codesign.suep.plots import write_plots

        write_plots(tmp, bkg_scores, qcd.weights, sig_scores)
    return result


def _auc(background: np.ndarray, weights: np.ndarray, signal: np.ndarray) -> float:
    from codesign.metrics.rates import roc_auc

    return float(roc_auc(background, signal, background_weights=weights))


def _pct(e: dict[str, float]) -> str:
    return f"{100 * e['value']:.2f}% [{100 * e['low']:.2f}, {100 * e['high']:.2f}]"


def table_markdown(result: dict[str, Any]) -> str:
    """The mistag table (the seed's layout plus 1/true ET and intervals) and the preselection efficiencies."""
    eff = result["signal_efficiency"]
    lines = [f"Background (QCD) mistag rate at {100 * eff:.0f}% signal efficiency, 68% Clopper-Pearson intervals",
             "on effective counts:", "",
             "| signal | signal eff. | " + " | ".join(SCORES.values()) + " |", "|---|---|" + "---|" * len(SCORES)]
    for name, row in result["table"].items():
        achieved = ", ".join(f"{100 * row[k]['signal_efficiency']:.1f}" for k in SCORES)
        lines.append(f"| {name} | {achieved}% | " + " | ".join(_pct(row[k]["mistag"]) for k in SCORES) + " |")
    lines += ["", "ROC AUC: " + "; ".join(f"{p}: " + ", ".join(f"{k} {v:.3f}" for k, v in a.items())
                                          for p, a in result["auc"].items()),
              "", "Preselection HT > 500 GeV (Level-1 jets, pT > 30 GeV, |eta| < 2.5), weighted efficiency with 68% interval:", "",
              "| process | generated | selected | in the table | efficiency |", "|---|---|---|---|---|"]
    for name, sel in result["selection"].items():
        lines.append(f"| {name} | {sel['generated']} | {sel['selected']} | {sel['used']} | {_pct(sel['efficiency'])} |")
    return "\n".join(lines) + "\n"


def run(card: SuepCard, output: Path, jobs: int = 2, threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Train and evaluate into one folder: `model/` and `evaluation/`."""
    output = check_output(output, folder=True)
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        train(card, tmp / "model", jobs, progress)
        return evaluate(tmp / "model", tmp / "evaluation", jobs, threads, progress)
