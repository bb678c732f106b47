"""`codesign handoff MODEL -o BUNDLE`, `codesign handoff --check BUNDLE` and `codesign export MODEL --format qonnx -o
FILE` (wired by `codesign.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign import options
from codesign.errors import CodesignError
from codesign.handoff.bundle import DEFAULT_VECTORS


def add_parser(subparsers) -> None:
    """Add the `handoff` and `export` verbs to the `codesign` command's subparsers."""
    p = subparsers.add_parser(
        "handoff", help="a bundle for firmware engineers: HLS project, RTL, vectors, testbench, CMSSW emulator",
        description="Run synth and package its project for someone without codesign: the HLS project with the "
                    "trigger wrapper, the da4ml RTL with a Vivado out-of-context script, test vectors with a plain "
                    "C++ testbench (`make check`, g++ only), the CMSSW emulator library, INTERFACE.md and a "
                    "manifest of versions and checksums; also BUNDLE.tar.gz. --check BUNDLE re-verifies the "
                    "checksums and reruns the vectors.",
        epilog=options.examples("codesign handoff axol1tl --part xcvu9p -o axol1tl_bundle",
                                "codesign handoff --check axol1tl_bundle"),
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="zoo model name (e.g. axol1tl), model folder, or QKeras .h5 file")
    p.add_argument("-o", "--output", type=Path, help="new bundle folder (BUNDLE.tar.gz is written beside it)")
    p.add_argument("--check", type=Path, metavar="BUNDLE", help="verify a bundle's checksums and rerun its vectors")
    p.add_argument("--part", default="xcvu9p", help="FPGA part (default %(default)s)")
    p.add_argument("--clock-mhz", type=options.clock_mhz, default=40.0, help="clock (default %(default)s)")
    p.add_argument("--vectors", type=options.vectors, default=DEFAULT_VECTORS,
                   help="random vectors on top of the edge cases (default %(default)s)")
    p.add_argument("--events", type=Path, help="real events to add to the vectors (.npy or .root, as emulate reads)")
    p.add_argument("--mapping", type=Path, help="YAML branch mapping for ROOT files not written by codesign")
    p.add_argument("--emulator-version", default="v1", help="version in the emulator's name <model>_<version> "
                   "(default %(default)s)")
    p.set_defaults(run=_run)

    e = subparsers.add_parser("export", help="export a QKeras Level-1 model's fixed-point graph as QONNX",
                              epilog=options.examples("codesign export axol1tl --format qonnx -o axol1tl.onnx"))
    e.add_argument("model", metavar="MODEL", help="zoo model name (e.g. axol1tl), model folder, or QKeras .h5 file")
    e.add_argument("--format", choices=("qonnx",), default="qonnx", help="default %(default)s")
    e.add_argument("-o", "--output", type=Path, required=True, help="output .onnx file")
    e.set_defaults(run=_export)


def _export(args: argparse.Namespace) -> None:
    from codesign.handoff.qonnx_export import export

    print(export(args.model, args.output, args.format))


def _run(args: argparse.Namespace) -> None:
    from codesign.handoff import check_bundle, handoff

    if args.check is not None:
        if args.model or args.output:
            raise CodesignError("give either --check BUNDLE or MODEL -o BUNDLE, not both")
        print(check_bundle(args.check))
        return
    if not args.model or args.output is None:
        raise CodesignError("give MODEL and -o BUNDLE (or --check BUNDLE)")
    r = handoff(args.model, args.output, part=args.part, clock_mhz=args.clock_mhz, vectors=args.vectors,
                events=args.events, mapping=args.mapping, version=args.emulator_version)
    print(f"bundle {r['bundle']} and {r['tarball']}: {r['vectors']} vectors, emulator {r['emulator_library']}, "
          f"RTL latency {r['latency_cycles']} cycles; check it with `make check` there or `codesign handoff --check`")
