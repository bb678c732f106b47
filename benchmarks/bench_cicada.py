"""CICADA student benchmarks: emulator events/s of the deployed v2 (conv) and v1 (dense) architectures, and
`codesign synth` wall time (cold, then warm) at the CTP7's part and clock.

    python benchmarks/bench_cicada.py [--events 1000000] [--synth]

Targets (issue 11): emulator >= 1M events/s on 2 cores for the v2 student; `codesign synth` of the v2 student
warm <= 60 s.  The students carry seeded random weights (`codesign.zoo.cicada.student`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def best_seconds(fn, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--synth", action="store_true", help="also time `codesign synth` of the v2 student twice")
    args = parser.parse_args()

    from codesign.fixed import emulate_ints, lower_keras
    from codesign.zoo.cicada import student

    rng = np.random.default_rng(0)
    shape = (args.events, 252)  # region ETs as ap_uint<10> counts: mostly quiet regions, some hot ones
    x = np.where(rng.random(shape) < 0.8, rng.integers(0, 8, shape), rng.integers(0, 1024, shape)).astype(np.float64)
    for version in ("v2", "v1"):
        graph, _ = lower_keras(student(version, seed=1))
        seconds = best_seconds(lambda: emulate_ints(graph, x))
        print(f"emulator {version}: {args.events / seconds / 1e6:.2f} M events/s ({args.events} events, "
              f"{seconds:.3f} s; target v2 >= 1 M/s)")
    if args.synth:
        from codesign.synth import synthesize

        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp) / "cicada_v2.h5"
            student("v2", seed=1).save(model)
            for run in ("cold", "warm"):
                start = time.perf_counter()
                report = synthesize(str(model), part="xc7vx690t", clock_mhz=160.0, output=Path(tmp) / run,
                                    progress=lambda line: None)
                print(f"synth v2 ({run}): {time.perf_counter() - start:.1f} s; {report['latency_cycles']} cycles = "
                      f"{report['latency_ns']:g} ns, II {report['ii']}, LUT {report['resources']['lut']['value']} "
                      f"({report['utilization_pct']['lut']:.2f}%), DSP {report['resources']['dsp']['value']} "
                      "(target warm <= 60 s)")


if __name__ == "__main__":
    main()
