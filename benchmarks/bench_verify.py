"""`codesign verify` speed: Verilator build time (cold, runtime library cached, fully cached) and vectors/s.

    python benchmarks/bench_verify.py [MODEL_OR_PROJECT (default axol1tl)] [--vectors 10000] [--clock-mhz 40]

Uses a private, fresh codesign cache (numba's compiled da4ml kernels are taken from the usual place,
so the RTL generation is not charged ~80 s of numba compilation).  Targets for AXOL1TL and 10,000
vectors: <= 2 min cold, <= 10 s cached.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="axol1tl")
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--clock-mhz", type=float, default=40.0, help="for RTL written from a model")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "codesign" / "numba"))
    cache = tempfile.mkdtemp(prefix="codesign-bench-verify-")
    os.environ["CODESIGN_CACHE"] = cache
    from codesign.verify import verify

    out = Path(cache) / "out"
    rows = []
    try:
        for label in ("cold (nothing cached)", "new design, runtime cached", "cached build"):
            if label.startswith("new design"):
                for build in glob.glob(f"{cache}/verilator/*"):
                    if not Path(build).name.startswith("runtime-"):
                        shutil.rmtree(build)
            start = time.perf_counter()
            r = verify(args.target, args.vectors, project=out, clock_mhz=args.clock_mhz, progress=lambda s: None)
            rows.append((label, time.perf_counter() - start, r))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    r0 = rows[0][2]
    print(f"{r0['model']}: {r0['vectors']} vectors, latency {r0['latency_cycles_observed']} cycles, "
          f"{r0['simulator_version']}")
    print(f"{'case':28s} {'total s':>8s} {'build s':>8s} {'run s':>7s} {'sim loop s':>10s} {'vectors/s':>10s}")
    for label, total, r in rows:
        print(f"{label:28s} {total:8.1f} {r['build_s']:8.1f} {r['run_s']:7.1f} {r['sim_loop_s']:10.2f} {r['vectors_per_s']:10d}")


if __name__ == "__main__":
    main()
