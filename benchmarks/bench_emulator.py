"""Emulator events/s of the committed zoo networks (CICADA v2 and v1 students, AXOL1TL), on 1 and 2 threads.

    python benchmarks/bench_emulator.py [--events 1000000] [--models cicada cicada_v1 axol1tl]

Target (issue 11): >= 1M events/s on 2 cores for the v2 student (`models/cicada`).  Inputs are counts of each
network's input format: CICADA's region ETs mostly quiet (0-7 counts) with 20% hot regions (0-1023); AXOL1TL's
uniform over its input range.  Each figure is the best of 3 runs (wall time), with the 1-minute load average
(the machine may be shared); the path is printed beside it: `fused` (the numba kernels, `fixed/fused.py`) or the
number type of the numpy steps (`count_dtype` of the graph's widest value).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def best_seconds(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def inputs(graph, events: int, rng: np.random.Generator) -> np.ndarray:
    fmt, shape = graph.input_format, (events, *graph.input_shape)
    if graph.name.startswith("cicada"):
        return np.where(rng.random(shape) < 0.8, rng.integers(0, 8, shape), rng.integers(0, 1024, shape)).astype(float)
    return rng.integers(fmt.min_int, fmt.max_int, shape, endpoint=True).astype(float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--models", nargs="+", default=["cicada", "cicada_v1", "axol1tl"])
    args = parser.parse_args()

    from codesign.fixed import emulate_ints
    from codesign.fixed.emulator import _fused_stages
    from codesign.fixed.fixed_format import count_dtype
    from codesign.zoo.loading import load_model

    rng = np.random.default_rng(0)
    for name in args.models:
        graph = load_model(name).graph
        x = inputs(graph, args.events, rng)
        path = "fused" if _fused_stages(graph) else np.dtype(count_dtype(graph.max_width)).name
        emulate_ints(graph, x[:100])  # numba's compilation (or the load of its cached code) is not timed
        for threads in (1, 2):
            seconds = best_seconds(lambda: emulate_ints(graph, x, threads=threads))
            print(f"emulator {name} ({path}, {threads} thread{'s' * (threads > 1)}): "
                  f"{args.events / seconds / 1e6:.2f} M events/s ({args.events} events, {seconds:.3f} s; "
                  f"load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
