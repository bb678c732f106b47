"""Dask overhead of `codesign sweep` and the throughput of one against two workers.

    python benchmarks/bench_sweep.py [--points 4] [--events 4000] [--epochs 2]

Runs the same grid (the AXOL1TL card's architecture, first-layer weight bits and sparsity varied) on synthetic
Level-1-like samples through a LocalCluster of 1 and then of 2 workers, each into a new folder.  The cluster is
started first (`sweep.run.dask_client`, the sweep's own LocalCluster) and its workers import TensorFlow and QKeras;
that start-up is timed on its own, as a sweep on a running cluster (`--scheduler`) never pays it.  The sweep then
runs on it through `--scheduler`.  Prints per run the start-up, the sweep's wall time, the sum of the points' own
times (`seconds`: training, emulation, RTL and Yosys inside the task), the Dask overhead per point,
(workers x wall - sum of point times) / points (scattering the samples, scheduling, the committed row, the table
and the plot), as a fraction of the mean point time, the same with the start-up added, and the throughput ratio
(start-up included), each with the machine's load average before and after the run (other processes on the cores
distort every figure: run it on a quiet machine).  `--events 100000 --epochs 8` gives points of the default
sweep's size (8 epochs on 100k events).
Targets (issue 14): overhead < 5% of a point; 2 workers >= 1.7x the throughput of 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metrics import synthetic_events  # noqa: E402

SIGNAL_SCALES = {"hard": 3.0, "harder": 4.0}


def synthetic_data(events: int):
    from codesign.data.views import axol1tl
    from codesign.metrics.report import Sample
    from codesign.sweep import SweepData
    from codesign.train.axol1tl import Samples

    parts = {}
    for seed, (name, n, scale) in enumerate([("background", events, 1.0), ("reference", events, 1.0),
                                             *((s, events // 4, k) for s, k in SIGNAL_SCALES.items())]):
        rng = np.random.default_rng(seed)
        ev = synthetic_events(n, rng)
        ev.met_pt *= scale
        ev.jet.pt *= scale
        parts[name] = (Sample(name, f"synthetic-{name}", ev, np.full(n, 1.0 / n)), axol1tl(ev))
    samples = Samples(parts["background"][0], parts["reference"][0], {s: parts[s][0] for s in SIGNAL_SCALES})
    return SweepData(samples, {name: raw for name, (_, raw) in parts.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4, choices=(2, 4, 8))
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    from codesign.sweep import sweep
    from codesign.sweep.run import dask_client
    from codesign.zoo import load_card
    from codesign.zoo.card import models_dir

    grid = {2: "architecture.encoder: [[32, 16], [16, 8]]",
            4: "architecture.encoder: [[32, 16], [16, 8]]\n  quantization.pruning.final_sparsity: [0.5, 0.75]",
            8: "architecture.encoder: [[32, 16], [16, 8]]\n  quantization.pruning.final_sparsity: [0.5, 0.75]\n"
               "  quantization.layers.enc0.weight: [{bits: 6, integer: 2}, {bits: 4, integer: 1}]"}[args.points]
    data = synthetic_data(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(models_dir() / "axol1tl", root / "card", ignore=shutil.ignore_patterns("*.h5", "sweep.yaml"))
        card = load_card(root / "card")
        card.data["training"]["signals"] = list(SIGNAL_SCALES)
        card.save()
        (root / "grid.yaml").write_text(f"epochs: {args.epochs}\ngrid:\n  {grid}\n")
        throughput = {}
        for workers in (1, 2):
            load = os.getloadavg()[0]
            start = time.perf_counter()
            with dask_client(workers=workers) as client:
                client.run(_import_tensorflow)
                startup = time.perf_counter() - start
                result = sweep(root / "card", root / f"out{workers}", grid=root / "grid.yaml",
                               scheduler=client.scheduler.address, data=data, progress=False)
                wall = time.perf_counter() - start - startup
            rows = [r for r in _rows(result) if r["status"] == "ok"]
            point = sum(float(r["seconds"]) for r in rows) / len(rows)
            overhead = workers * wall / len(rows) - point
            with_startup = overhead + workers * startup / len(rows)
            throughput[workers] = len(rows) / (wall + startup)
            print(f"{workers} worker(s): start-up {startup:.1f} s, then {len(rows)} points in {wall:.1f} s wall; point "
                  f"time {point:.1f} s mean; Dask overhead {overhead:.2f} s per point = {overhead / point:.1%} of a "
                  f"point (target < 5%), {with_startup / point:.1%} with the start-up shared over the points; "
                  f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
        ratio = throughput[2] / throughput[1]
        print(f"throughput 2 workers / 1 worker: {ratio:.2f}x (target >= 1.7x); {os.cpu_count()} cores, "
              f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min)")


def _import_tensorflow() -> None:
    """A worker's one-time imports (TensorFlow, QKeras), done before the sweep is timed."""
    import qkeras  # noqa: F401
    import tensorflow  # noqa: F401


def _rows(result: dict) -> list[dict]:
    from codesign.sweep.run import read_table

    return read_table(Path(result["table"]))


if __name__ == "__main__":
    main()
