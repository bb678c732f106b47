"""One sweep point, as a Dask task: QAT training from the point's card, the bit-exact trigger emulation on the
weighted zero bias and the signals (AUC, efficiencies at the working points), the float reference, and the
fast RTL + Yosys estimate of the whole trigger (LUT, FF, DSP, latency from the delay model).

The task runs in a private temporary folder and returns its row and the point's model files (card, weights,
metrics) as bytes, so workers need no file system shared with the client.
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from codesign.sweep.table import DIFF_COLUMN
from codesign.train.axol1tl import Samples
from codesign.zoo.card import CARD_FILE, ENCODER_FILE, METRICS_FILE, Card

#: Per-point model files returned by a task (the committed model's are not returned).
MODEL_FILES = (CARD_FILE, ENCODER_FILE, METRICS_FILE)


@dataclass
class SweepData:
    """The samples every point trains and is evaluated on, and their raw views (scattered to every worker)."""

    samples: Samples
    raws: dict[str, np.ndarray]

    def fresh(self) -> Samples:
        """Copies of the samples whose scores a point may set without touching another point's."""
        s = self.samples
        return Samples(replace(s.background), replace(s.reference), {k: replace(v) for k, v in s.signals.items()})


@dataclass(frozen=True)
class Task:
    """What a worker needs for one point: the point's card, and for the committed model its weights."""

    point: str  # the grid index, or "committed"
    key: str
    params: dict[str, Any]  # the grid's values (empty for the committed model)
    card: dict[str, Any]  # with the values applied and training.epochs the sweep's
    part: str
    clock_mhz: float
    encoder: bytes | None = None  # the committed model's weights: evaluated, not trained


def run_point(task: Task, data: SweepData) -> dict[str, Any]:
    """Train (or, for the committed model, evaluate) and estimate one point: `{"figures": ..., "files": ...}`."""
    from threadpoolctl import threadpool_limits

    from codesign.train.axol1tl import train
    from codesign.zoo.loading import load_model

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codesign-sweep-") as tmp, threadpool_limits(1):
        folder = Path(tmp) / "model"
        folder.mkdir()
        card = Card(folder, copy.deepcopy(task.card))
        card.save()
        try:
            if task.encoder is None:
                metrics = train(card, data.fresh(), data.raws)
            else:
                (folder / ENCODER_FILE).write_bytes(task.encoder)
                metrics = assess(card, data)
            trained = time.perf_counter()
            estimate = estimate_trigger(load_model(folder).chain, task.part, task.clock_mhz, Path(tmp) / "rtl")
        except Exception as err:  # the scratch folder's random name must not reach the table (same sweep, same table)
            err.args = tuple(a.replace(tmp, "POINT") if isinstance(a, str) else a for a in err.args)
            raise
        files = {} if task.encoder is not None else {name: (folder / name).read_bytes() for name in MODEL_FILES}
    done = time.perf_counter()
    figures = {**estimate, **physics(metrics), "seconds_train": round(trained - start, 2),
               "seconds_estimate": round(done - trained, 2), "seconds": round(done - start, 2)}
    return {"figures": figures, "files": files}


def assess(card: Card, data: SweepData) -> dict[str, Any]:
    """The committed model on the sweep's samples, thresholds for the card's target rates: the firmware
    figures of `codesign train`'s metrics (AUC, efficiencies, zero weights)."""
    from codesign.fixed.graph import Dense
    from codesign.metrics.menu import load_menu
    from codesign.metrics.report import Model, evaluate
    from codesign.zoo.loading import load_model

    loaded = load_model(card.folder)
    model = Model(card.name, loaded.chain, card.data["inputs"]["view"])
    samples = data.fresh()
    for sample in (samples.reference, *samples.signals.values()):
        sample.scores = model.scores(data.raws[sample.name])
    report = evaluate(load_menu(), samples.reference, list(samples.signals.values()), model,
                      target_khz=card.data["working_points"]["rate_khz"])
    points = report["model"]["working_points"]
    weights = np.concatenate([op.weight.ravel() for op in loaded.graph.ops if isinstance(op, Dense)])
    return {"zero_weight_fraction": float(np.mean(weights == 0)),
            "signals": {name: {"auc_firmware": report["signals"][name]["auc"],
                               "efficiency_firmware": {wp["name"]: wp["signals"][name]["efficiency"] for wp in points}}
                        for name in samples.signals}}


#: Estimate columns of the results table, in order (`estimate_trigger`).
ESTIMATE_COLUMNS = ("lut", "ff", "dsp", "lut_pct", "latency_cycles", "latency_ns", "slack_ns")


def physics_columns(signals: list[str], working_points: list[str]) -> list[str]:
    """Physics columns of the results table, in order (`physics`; `auc_diff_min`: `codesign.sweep.table`)."""
    return ["zero_weight_fraction", "auc_mean", "auc_min", DIFF_COLUMN, "auc_float_mean",
            *(f"auc_{s}" for s in signals),
            *(c for wp in working_points for c in (f"eff_{wp}_mean", *(f"eff_{wp}_{s}" for s in signals)))]


def physics(metrics: dict[str, Any]) -> dict[str, float]:
    """Table columns from a model's metrics: per-signal firmware AUC and efficiency at each working point,
    their means (and the minimum AUC), the float model's mean AUC when trained, the fraction of zero weights."""
    signals = metrics["signals"]
    aucs = {name: m["auc_firmware"] for name, m in signals.items()}
    row: dict[str, float] = {"zero_weight_fraction": metrics["zero_weight_fraction"],
                             "auc_mean": float(np.mean(list(aucs.values()))), "auc_min": min(aucs.values()),
                             "auc_float_mean": float(np.mean([m["auc_float"] for m in signals.values()]))
                             if all("auc_float" in m for m in signals.values()) else float("nan")}
    row.update({f"auc_{name}": value for name, value in aucs.items()})
    for wp in next(iter(signals.values()))["efficiency_firmware"]:
        effs = {name: m["efficiency_firmware"][wp]["value"] for name, m in signals.items()}
        row[f"eff_{wp}_mean"] = float(np.mean(list(effs.values())))
        row.update({f"eff_{wp}_{name}": value for name, value in effs.items()})
    return row


def estimate_trigger(chain, part: str, clock_mhz: float, workdir: Path) -> dict[str, Any]:
    """The whole trigger's da4ml RTL pipelined for `clock_mhz`, priced by Yosys' fast flow on `part`;
    latency in cycles and ns, and the worst stage slack of the delay model."""
    from codesign.estimate import get_part, synthesize
    from codesign.estimate.timing import delay_model, stage_timing
    from codesign.rtl import write_trigger_rtl

    fpga = get_part(part)
    rtl = write_trigger_rtl(chain, workdir / "rtl", clock_mhz=clock_mhz, part=fpga.full_part)
    sources = rtl.top_file.parent
    synth = synthesize(sorted(sources.glob("**/*.v")), rtl.module, fpga, workdir / "yosys", flow="fast",
                       data_files=sorted(sources.glob("**/*.mem")))
    timing = stage_timing(rtl.stage_depths, clock_mhz, delay_model(fpga.name))
    return {"lut": synth.lut, "ff": synth.ff, "dsp": synth.dsp,
            "lut_pct": fpga.utilization_pct({"lut": synth.lut})["lut"], "latency_cycles": rtl.latency_cycles,
            "latency_ns": rtl.latency_cycles * 1e3 / clock_mhz,
            "slack_ns": min(stage["slack_ns"] for stage in timing["stages"])}
