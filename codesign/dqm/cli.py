"""`codesign dqm {train,evaluate,run}`: argument definitions only; each calls a library function.

The main CLI calls :func:`add_parser` with its verb subparsers; errors are CodesignError.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign import options
from codesign.dqm.data import ANOMALIES
from codesign.errors import CodesignError

MIN_LS, MAX_LS = 6, 100_000  # lumisections: the 3-LS time window twice; ~ 3 days of a run


def _filters(text: str) -> tuple[int, ...]:
    try:
        f = tuple(int(v) for v in text.split(","))
    except ValueError:
        f = ()
    if not f or min(f) < 1:
        raise CodesignError(f"--filters must be comma-separated positive integers, got {text!r}")
    return f


def cmd_train(args: argparse.Namespace) -> None:
    """Generate good data, train EB/EE+/EE- autoencoders, export ONNX and thresholds to -o."""
    from codesign.dqm.pipeline import TrainConfig, train

    cfg = TrainConfig(runs=args.runs, lumisections=args.lumisections, epochs=args.epochs,
                      filters=_filters(args.filters), latent=args.latent, seed=args.seed,
                      detector_seed=args.detector_seed)
    summary = train(args.output, cfg, progress=not args.quiet)
    print("thresholds (AE+spatial+time): " + ", ".join(f"{r} {t:.3g}" for r, t in summary["thresholds"].items()))
    print(f"wrote {args.output}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    """FDR table (md+json) and plots for a model folder."""
    from codesign.dqm.pipeline import evaluate

    evaluate(args.model, args.output, runs=args.runs, lumisections=args.lumisections, seed=args.seed,
             progress=not args.quiet)
    print((Path(args.output) / "fdr_table.md").read_text())


def cmd_run(args: argparse.Namespace) -> None:
    """Process a stream of lumisections with onnxruntime; write quality maps and flagged towers."""
    from codesign.dqm.pipeline import load_stream, run_stream

    stream = load_stream(args.input) if args.input else None
    res = run_stream(args.model, args.output, stream, lumisections=args.lumisections, seed=args.seed,
                     inject=args.inject, region=args.region, threads=args.threads, progress=not args.quiet)
    print(f"{res['lumisections']} LS; towers flagged: " + ", ".join(f"{r} {n}" for r, n in res["flagged"].items())
          + f"; wrote {args.output}")


def add_parser(subparsers) -> None:
    """Add the `dqm` verb with `train`, `evaluate`, `run` to the main CLI's subparsers."""
    dqm = subparsers.add_parser(
        "dqm", help="ECAL data-quality monitoring with autoencoders (CPU/ONNX)",
        epilog=options.examples("codesign dqm train -o dqm_model", "codesign dqm evaluate dqm_model -o dqm_eval",
                                "codesign dqm run dqm_model --inject hot_tower -o dqm_run"))
    verbs = dqm.add_subparsers(dest="dqm_verb", required=True, metavar="ACTION")

    tr = verbs.add_parser("train", help="generate good data, train the autoencoders, export ONNX",
                          epilog=options.examples("codesign dqm train --runs 8 --epochs 15 -o dqm_model"))
    tr.add_argument("--runs", type=options.integer(1, 1000), default=8, help="good training runs (default %(default)s)")
    tr.add_argument("--lumisections", type=options.integer(MIN_LS, MAX_LS), default=200, help="LS per run (default %(default)s)")
    tr.add_argument("--epochs", type=options.integer(1, 100_000), default=15, help="training epochs (default %(default)s)")
    tr.add_argument("--filters", default="8,16", help="filters per encoder stage (default %(default)s)")
    tr.add_argument("--latent", type=options.integer(1, 4096), default=16, help="latent size (default %(default)s)")
    tr.add_argument("--seed", type=options.seed, default=1, help="data/training seed (default %(default)s)")
    tr.add_argument("--detector-seed", type=options.seed, default=0, help="detector description seed (default %(default)s)")
    tr.add_argument("-o", "--output", type=Path, required=True, help="model folder to write")
    tr.set_defaults(run=cmd_train)

    ev = verbs.add_parser("evaluate", help="FDR table at the 99%% detection threshold, and plots",
                          epilog=options.examples("codesign dqm evaluate dqm_model -o dqm_eval"))
    ev.add_argument("model", metavar="MODEL_DIR", type=Path, help="model folder from `dqm train`")
    ev.add_argument("--runs", type=options.integer(1, 1000), default=4, help="validation and test runs each (default %(default)s)")
    ev.add_argument("--lumisections", type=options.integer(MIN_LS, MAX_LS), default=200, help="LS per run (default %(default)s)")
    ev.add_argument("--seed", type=options.seed, default=5, help="seed of the evaluation samples (default %(default)s)")
    ev.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
    ev.set_defaults(run=cmd_evaluate)

    rn = verbs.add_parser("run", help="process a stream of lumisections; quality maps and flagged towers",
                          epilog=options.examples("codesign dqm run dqm_model --lumisections 100 -o dqm_run",
                                                  "codesign dqm run dqm_model --inject zero_tower --region EB -o dqm_run"))
    rn.add_argument("model", metavar="MODEL_DIR", type=Path, help="model folder from `dqm train`")
    rn.add_argument("--input", type=Path, help=".npz with events, EB, EE+, EE- counts (default: generate)")
    rn.add_argument("--lumisections", type=options.integer(1, MAX_LS), default=100, help="generated LS (without --input; default %(default)s)")
    rn.add_argument("--seed", type=options.seed, default=3, help="seed of the generated run (default %(default)s)")
    rn.add_argument("--inject", help="anomaly to inject in the generated run: "
                    + "; ".join(f"{r}: {', '.join(a)}" for r, a in ANOMALIES.items()) + " (default: none)")
    rn.add_argument("--region", default="EB", choices=("EB", "EE+", "EE-"), help="region of --inject")
    rn.add_argument("--threads", type=options.jobs, default=1, help="onnxruntime threads (default %(default)s)")
    rn.add_argument("-o", "--output", type=Path, required=True, help="output folder (created; flag counts accumulate)")
    rn.set_defaults(run=cmd_run)
    for p in (tr, ev, rn):
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
