"""CICADA student benchmark: `codesign synth` wall time (cold, then warm) at the CTP7's part and clock.

    python benchmarks/bench_cicada.py

Target (issue 11): `codesign synth` of the v2 student warm <= 60 s.  The student carries seeded random weights
(`codesign.zoo.cicada.student`).  The emulator's events/s: `bench_emulator.py`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from codesign.synth import synthesize
    from codesign.zoo.cicada import student

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
