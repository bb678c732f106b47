"""AXOL1TL flow benchmarks: emulator vs hls4ml C-simulation vs the RTL logic interpreter, and synth wall time.

    python benchmarks/bench_synth.py [--events 1000000] [--synth]

Targets (issue: AXOL1TL end to end): emulator >= 100x faster than the C-simulation and >= 3M events/s
on 2 cores; `codesign synth axol1tl --part xcvu9p` <= 15 s warm (issue 10; the C-simulation library cached by content).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def rate(fn, n: int, repeats: int = 3) -> float:
    """Best events/s of `repeats` runs of fn() on n events."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--csim-events", type=int, default=20_000)
    parser.add_argument("--synth", action="store_true", help="also time `codesign synth axol1tl` twice")
    args = parser.parse_args()

    from codesign.fixed.emulator import emulate_ints
    from codesign.hls import write_project
    from codesign.rtl import write_rtl
    from codesign.zoo.loading import load_model

    model = load_model("axol1tl")
    graph, chain = model.graph, model.chain
    rng = np.random.default_rng(0)
    x = graph.input_format.quantize(rng.uniform(graph.input_format.min_value, graph.input_format.max_value,
                                                (args.events, graph.input_shape[-1])))
    raw = chain.scaling.raw_format.to_float(rng.integers(-2000, 2000, (args.events, graph.input_shape[-1])))
    with tempfile.TemporaryDirectory() as tmp:
        hls = write_project(model.keras_model, graph, Path(tmp) / "hls", "xcvu9p-flga2104-2L-e", 25.0)
        rtl = write_rtl(graph, Path(tmp) / "rtl", 40.0)
        x_real = graph.input_format.to_float(x[: args.csim_events])
        rates = {
            "emulator, network (2 threads)": rate(lambda: emulate_ints(graph, x, threads=2), args.events),
            "emulator, network (1 thread)": rate(lambda: emulate_ints(graph, x, threads=1), args.events),
            "emulator, whole trigger chain": rate(lambda: chain.emulate(raw), args.events),
            "hls4ml C-simulation": rate(lambda: hls.predict(x_real), args.csim_events, repeats=1),
            "RTL logic interpreter (exact)": rate(lambda: rtl.predict_ints(x[: 10 * args.csim_events]),
                                                  10 * args.csim_events, repeats=1),
        }
    print(f"AXOL1TL ({graph.input_shape[-1]} inputs), events/s")
    for name, value in rates.items():
        print(f"  {name:32s} {value:14,.0f}")
    csim = rates["hls4ml C-simulation"]
    emu = rates["emulator, network (2 threads)"]
    print(f"emulator / C-simulation: {emu / csim:.0f}x (target >= 100x); emulator {emu / 1e6:.2f} M events/s "
          f"(target >= 3 M/s: {'met' if emu >= 3e6 else f'missed by {3e6 / emu:.1f}x'})")

    if args.synth:
        from codesign.synth import synthesize

        with tempfile.TemporaryDirectory() as tmp:
            for attempt in ("first", "second (warm)"):
                start = time.perf_counter()
                report = synthesize("axol1tl", part="xcvu9p", output=Path(tmp) / "axo", progress=lambda _: None)
                wall = time.perf_counter() - start
                print(f"codesign synth axol1tl --part xcvu9p, {attempt}: {wall:.1f} s (target <= 15 s warm); stages: "
                      + json.dumps(report["timings_s"]))


if __name__ == "__main__":
    main()
