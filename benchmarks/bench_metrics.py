"""Speed of the weighted metrics and the Level-1 menu on a large synthetic zero-bias-like sample.

    python benchmarks/bench_metrics.py [--events 1000000]

Prints seconds per step: thresholds for three target rates, the rate curve's intervals (300
points), the weighted AUC, and the built-in menu on the events (with isolation flags).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def synthetic_events(n: int, rng: np.random.Generator):
    from codesign.data.objects import Collection, Events
    from codesign.data.rootio import PF_EXTRA

    def collection(per_event: float, scale: float) -> Collection:
        counts = rng.poisson(per_event, n)
        event = np.repeat(np.arange(n), counts)
        k = len(event)
        return Collection.sorted_by_pt(event, n, rng.exponential(scale, k), rng.uniform(-3, 3, k),
                                       rng.uniform(-np.pi, np.pi, k), iso=rng.integers(0, 2, k).astype(np.int8))

    empty = Collection(np.zeros(n, np.int64), *(np.zeros(0),) * 3, {k: np.zeros(0) for k in PF_EXTRA})
    return Events(collection(1, 8), collection(0.3, 5), collection(8, 15), collection(1, 10), empty,
                  rng.exponential(20, n), rng.uniform(-np.pi, np.pi, n), np.zeros((n, 0, 0)), np.zeros(n, np.int32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()

    from codesign.metrics import load_menu, rate_scan, roc_auc, working_point
    from codesign.metrics.plots import _curve_thresholds

    rng = np.random.default_rng(1)
    n = args.events
    scores = np.round(rng.exponential(20, n) * 16) / 16
    weights = rng.exponential(1.0, n) / n
    signal = np.round(rng.exponential(40, n // 10) * 16) / 16

    def timed(label, fn):
        start = time.perf_counter()
        out = fn()
        print(f"{label:45s} {time.perf_counter() - start:7.2f} s")
        return out

    print(f"{n} weighted events")
    timed("working points for 1, 5, 10 kHz", lambda: [working_point(scores, k * 1e3, weights) for k in (1, 5, 10)])
    scan = rate_scan(scores, weights)
    timed("rate curve with intervals (300 points)", lambda: scan.intervals(_curve_thresholds(scan)))
    timed("weighted ROC AUC", lambda: roc_auc(scores, signal, weights))
    events = timed("building synthetic events", lambda: synthetic_events(n, rng))
    menu = load_menu()
    timed(f"built-in menu ({len(menu.seeds)} seeds)", lambda: menu.evaluate(events))


if __name__ == "__main__":
    main()
