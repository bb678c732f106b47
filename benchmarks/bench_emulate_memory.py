"""Peak memory of `codesign emulate` against the input size (it streams in chunks, so it stays bounded).

    python benchmarks/bench_emulate_memory.py [--rows 2000000] [--model axol1tl]

Writes a random (rows, n_inputs) float64 .npy into a temporary folder, runs the CLI in a child process and
prints its peak resident memory next to the same figure for a run on 1% of the rows (the fixed part:
Python, TensorFlow, the model).  Nothing is kept.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def peak_rss_mb(argv: list[str]) -> tuple[float, float]:
    """(peak resident MB, seconds) of one CLI run in a fresh child process."""
    start = time.perf_counter()
    # VmHWM, not ru_maxrss: Linux carries the forking parent's peak into ru_maxrss across exec
    code = ("import re, sys; from codesign.cli import main; code = main(sys.argv[1:]); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1], file=sys.stderr); "
            "sys.exit(code)")
    # without TF_USE_LEGACY_KERAS, which importing qkeras sets in this process: it breaks .h5 loading in a child
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "TF2_BEHAVIOR")}
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if run.returncode:
        sys.exit(run.stderr)
    return int(run.stderr.strip().splitlines()[-1]) / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--model", default="axol1tl")
    args = parser.parse_args()
    from codesign.zoo.loading import load_model

    n_in = load_model(args.model).graph.input_shape[-1]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (args.rows // 100, args.rows):
            x = Path(tmp) / f"x{rows}.npy"
            out = np.lib.format.open_memmap(x, mode="w+", dtype=np.float64, shape=(rows, n_in))
            for i in range(0, rows, 100_000):
                out[i:i + 100_000] = rng.integers(0, 2000, (min(100_000, rows - i), n_in))
            del out
            mb, seconds = peak_rss_mb(["emulate", args.model, "--input", str(x), "-o", str(Path(tmp) / "y.npy")])
            print(f"{rows:>9} rows: input {x.stat().st_size / 2**20:7.0f} MB, peak RSS {mb:6.0f} MB, {seconds:5.1f} s")
            x.unlink()


if __name__ == "__main__":
    main()
