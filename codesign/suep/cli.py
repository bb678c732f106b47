"""`codesign suep {train,evaluate,run}`: argument definitions only; each calls a library function."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign import options

_SIZES = ("background_events", "signal_events", "epochs", "batch_size")


def _card(args: argparse.Namespace):
    from codesign.suep.card import load_card

    return load_card(args.card).overridden(**{k: getattr(args, k) for k in _SIZES})


def cmd_train(args: argparse.Namespace) -> None:
    from codesign.suep.pipeline import train

    summary = train(_card(args), args.output, jobs=args.jobs, progress=not args.quiet)
    print(f"trained on {summary['events']['train']} QCD events, {summary['epochs']} epochs, "
          f"{summary['parameters']['trainable']:,} trainable parameters; wrote {args.output}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from codesign.suep.pipeline import evaluate

    evaluate(args.model, args.output, jobs=args.jobs, threads=args.threads, progress=not args.quiet)
    print((Path(args.output) / "table.md").read_text())


def cmd_run(args: argparse.Namespace) -> None:
    from codesign.suep.pipeline import run

    run(_card(args), args.output, jobs=args.jobs, threads=args.threads, progress=not args.quiet)
    print((Path(args.output) / "evaluation" / "table.md").read_text())


def add_parser(subparsers) -> None:
    """Add the `suep` verb with `train`, `evaluate`, `run` to the main CLI's subparsers."""
    from codesign.data.generate import default_jobs
    from codesign.suep.card import DEFAULT_CARD

    suep = subparsers.add_parser(
        "suep", help="SUEP detection with a ConvAE on tracker/ECAL/HCAL images (CPU/ONNX)",
        epilog=options.examples("codesign suep run -o suep_out", "codesign suep train -o suep_model",
                                "codesign suep evaluate suep_model -o suep_eval"))
    verbs = suep.add_subparsers(dest="suep_verb", required=True, metavar="ACTION")
    tr = verbs.add_parser("train", help="generate QCD, train the ConvAE, export ONNX",
                          epilog=options.examples("codesign suep train --epochs 2 -o suep_model"))
    ev = verbs.add_parser("evaluate", help="mistag table at 40%% signal efficiency, ROC and ET plots (onnxruntime)",
                          epilog=options.examples("codesign suep evaluate suep_model -o suep_eval"))
    rn = verbs.add_parser("run", help="train, then evaluate: MODEL/ and evaluation/ in one folder",
                          epilog=options.examples("codesign suep run -o suep_out"))
    ev.add_argument("model", metavar="MODEL_DIR", type=Path, help="model folder from `suep train`")
    for p in (tr, rn):
        p.add_argument("--card", type=Path, default=DEFAULT_CARD, help="SUEP card (default: models/suep/card.yaml)")
        p.add_argument("--background-events", type=options.integer(2, 10_000_000),
                       help="generated QCD events, split into training and test (default: card)")
        p.add_argument("--signal-events", type=options.integer(1, 10_000_000), help="generated events per SUEP mass (default: card)")
        p.add_argument("--epochs", type=options.integer(1, 100_000), help="training epochs (default: card)")
        p.add_argument("--batch-size", type=options.integer(1, 4096), help="training batch (default: card)")
    for p in (ev, rn):
        p.add_argument("--threads", type=options.jobs, default=1, help="onnxruntime threads (default %(default)s)")
    for p, run in ((tr, cmd_train), (ev, cmd_evaluate), (rn, cmd_run)):
        p.add_argument("--jobs", type=options.jobs, default=default_jobs(), help="event-generation workers (default %(default)s)")
        p.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        p.set_defaults(run=run)
