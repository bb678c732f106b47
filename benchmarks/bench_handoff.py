"""Hand-off bundle on real events: the bundle's own `make check` (plain C++ testbench and the CMSSW
emulator library loaded through hls4mlEmulator::ModelLoader) against codesign's emulator, bit for bit.

    python benchmarks/bench_handoff.py [MODEL (default axol1tl)] --events FILE.root [FILE.root ...]
        [--max-events 100000] [--part xcvu9p]

Each file's events (as `codesign emulate` reads them) are added to the bundle's edge-case vectors; the
bundle is then built and checked with only g++ and make, as a firmware engineer would.  Prints the number of
vectors, the mismatches reported by both programs and the time of each step.  Target: >= 100,000 real events,
0 mismatches.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="axol1tl")
    parser.add_argument("--events", type=Path, nargs="+", required=True, help="ROOT files of real events")
    parser.add_argument("--max-events", type=int, default=100_000, help="events taken over all files")
    parser.add_argument("--part", default="xcvu9p")
    args = parser.parse_args()

    from codesign.emulate import read_inputs
    from codesign.handoff.bundle import handoff
    from codesign.zoo.loading import load_model

    model = load_model(args.target)
    real = np.concatenate([read_inputs(path, model, None) for path in args.events])[: args.max_events]
    folder = Path(tempfile.mkdtemp(prefix="codesign-bench-handoff-"))
    np.save(folder / "events.npy", real.reshape(len(real), -1))
    start = time.perf_counter()
    summary = handoff(args.target, folder / "bundle", part=args.part, events=folder / "events.npy",
                      progress=lambda line: None)
    built = time.perf_counter()
    check = subprocess.run(["make", "-s", "check"], cwd=folder / "bundle", capture_output=True, text=True)
    checked = time.perf_counter()
    print(f"{args.target}: {len(real):,} real events from {', '.join(p.name for p in args.events)} "
          f"+ edge cases = {summary['vectors']:,} vectors")
    for line in (check.stdout + check.stderr).splitlines():
        if re.search(r"mismatch|vectors", line):
            print("  " + line.strip())
    print(f"make check exit {check.returncode}; bundle {built - start:.0f} s, make check {checked - built:.0f} s "
          f"(folder {folder})")


if __name__ == "__main__":
    main()
