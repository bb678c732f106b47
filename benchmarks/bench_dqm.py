"""ECAL DQM: per-lumisection inference time on one core (onnxruntime) and the FDR table of a larger training.

    python benchmarks/bench_dqm.py [--runs 8] [--lumisections 200] [--epochs 15] [--model DIR] [-o DIR]

Times one LS end to end (normalise EB+EE+EE-, three ONNX inferences, loss maps, spatial and time
corrections, thresholds) with onnxruntime restricted to one thread, after warm-up, and prints
median / 95th percentile against the 50 ms target.  With --model an existing model folder is reused.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--lumisections", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--filters", default="8,16")
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--eval-runs", type=int, default=4)
    parser.add_argument("--model", type=Path, help="reuse this model folder instead of training")
    parser.add_argument("-o", "--output", type=Path, default=None, help="folder for model/ and eval/")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from codesign.dqm import data as D
    from codesign.dqm.pipeline import LumiProcessor, Models, TrainConfig, evaluate, train

    out = args.output or Path(tempfile.mkdtemp(prefix="codesign-bench-dqm-"))
    out.mkdir(parents=True, exist_ok=True)
    model = args.model
    if model is None:
        model = out / "model"
        cfg = TrainConfig(runs=args.runs, lumisections=args.lumisections, epochs=args.epochs,
                          filters=tuple(int(f) for f in args.filters.split(",")), latent=args.latent)
        t0 = time.perf_counter()
        summary = train(model, cfg)
        print(f"training ({args.runs} runs x {args.lumisections} LS, {args.epochs} epochs): "
              f"{time.perf_counter() - t0:.0f} s; thresholds {summary['thresholds']}")

    proc = LumiProcessor(Models(model, threads=1))
    run = D.generate_run(proc.models.detector, 0, 60, seed=99)
    times = []
    for ls in range(len(run.events)):
        t0 = time.perf_counter()
        proc(run.events[ls], {r: run.counts[r][ls] for r in D.REGIONS})
        times.append(time.perf_counter() - t0)
    t = np.array(times[10:]) * 1e3
    print(f"\none LS (EB+EE+EE-, inference + post-processing, 1 thread): median {np.median(t):.2f} ms, "
          f"p95 {np.percentile(t, 95):.2f} ms (target <= 50 ms)")

    t0 = time.perf_counter()
    evaluate(model, out / "eval", runs=args.eval_runs, lumisections=args.lumisections)
    print(f"evaluation: {time.perf_counter() - t0:.0f} s; outputs in {out / 'eval'}\n")
    print((out / "eval" / "fdr_table.md").read_text())


if __name__ == "__main__":
    main()
