"""`codesign hlt {train,evaluate,run}`: argument definitions only; each calls a library function."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from codesign import options
from codesign.errors import CodesignError


def _overrides(items: list[str] | None) -> dict:
    """`--set key=value` pairs (values parsed as YAML: numbers, lists, ...)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CodesignError(f"--set needs KEY=VALUE with a dotted card path, got {item!r} (e.g. training.epochs=1)")
        out[key] = yaml.safe_load(value)
    return out


def cmd_train(args: argparse.Namespace) -> None:
    from codesign.hlt.card import load_card
    from codesign.hlt.data import load_all
    from codesign.hlt.pipeline import evaluate
    from codesign.hlt.train import train

    overrides = _overrides(args.set)
    if args.epochs is not None:
        overrides["training.epochs"] = args.epochs
    if args.max_candidates is not None:
        overrides["inputs.max_candidates"] = args.max_candidates
    card = load_card(args.card, overrides)
    samples = load_all(card, jobs=args.jobs, progress=not args.quiet, roles=("classes",))
    summary = train(card, args.output, samples, progress=not args.quiet)
    print(f"SM test accuracy {summary['test_accuracy']:.3f}; wrote {args.output}")
    if args.evaluate:
        samples.update(load_all(card, jobs=args.jobs, progress=not args.quiet, roles=("signals", "zerobias")))
        evaluate(args.output, args.evaluate, samples, progress=not args.quiet)
        print((Path(args.evaluate) / "hlt_eval.md").read_text())


def cmd_evaluate(args: argparse.Namespace) -> None:
    from codesign.hlt.pipeline import MARKDOWN_FILE, evaluate

    evaluate(args.model, args.output, jobs=args.jobs, progress=not args.quiet)
    print((Path(args.output) / MARKDOWN_FILE).read_text())


def cmd_run(args: argparse.Namespace) -> None:
    from codesign.hlt.pipeline import run, working_point_threshold

    if (args.threshold is None) == (args.working_point is None):
        raise CodesignError("give exactly one of --threshold SCORE or --working-point EVAL_DIR")
    threshold = args.threshold if args.threshold is not None else working_point_threshold(args.working_point)
    summary = run(args.model, args.events, args.output, threshold, args.threads, progress=not args.quiet)
    print(f"accepted {summary['accepted']} of {summary['events']} events (score > {threshold:.4g}); wrote {args.output}")


def add_parser(subparsers) -> None:
    """Add the `hlt` verb with `train`, `evaluate`, `run` to the main CLI's subparsers."""
    hlt = subparsers.add_parser(
        "hlt", help="HLT anomaly detection: Linformer + GMM score after AXOL1TL (CPU/ONNX)",
        epilog=options.examples("codesign hlt train -o hlt_model --evaluate hlt_eval",
                                "codesign hlt run hlt_model events.root --working-point hlt_eval -o hlt_run"))
    verbs = hlt.add_subparsers(dest="hlt_verb", required=True, metavar="ACTION")

    tr = verbs.add_parser("train", help="generate the card's samples, train the encoder and GMM, export ONNX",
                          epilog=options.examples("codesign hlt train -o hlt_model --evaluate hlt_eval",
                                                  "codesign hlt train --set data.classes.dy_ll=20000 --epochs 20 -o big"))
    tr.add_argument("--card", type=Path, help="HLT card (default: models/hlt/card.yaml)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a card entry (dotted path; repeatable)")
    tr.add_argument("--epochs", type=options.positive, help="training epochs (default: the card's)")
    tr.add_argument("--max-candidates", type=options.integer(1, 4096), help="PF candidates per event (default: the card's)")
    tr.add_argument("--evaluate", type=Path, metavar="EVAL_DIR", help="then evaluate on the same samples into this folder")
    tr.add_argument("-o", "--output", type=Path, required=True, help="model folder to write")
    tr.set_defaults(run=cmd_train)

    ev = verbs.add_parser("evaluate", help="rates after Level-1, efficiencies, purities, plots",
                          epilog=options.examples("codesign hlt evaluate hlt_model -o hlt_eval"))
    ev.add_argument("model", metavar="MODEL_DIR", type=Path, help="model folder from `hlt train`")
    ev.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
    ev.set_defaults(run=cmd_evaluate)

    rn = verbs.add_parser("run", help="score a ROOT file; write the accepted events' indices and scores",
                          epilog=options.examples("codesign hlt run hlt_model events.root --threshold 12.5 -o hlt_run"))
    rn.add_argument("model", metavar="MODEL_DIR", type=Path, help="model folder from `hlt train`")
    rn.add_argument("events", metavar="EVENTS", type=Path, help="ROOT file of events with PF candidates (codesign data generate)")
    rn.add_argument("--threshold", type=options.real(-1e9, 1e9), help="accept events with score above this")
    rn.add_argument("--working-point", type=Path, metavar="EVAL_DIR", help="take the threshold from `hlt evaluate`")
    rn.add_argument("--threads", type=options.jobs, default=1, help="onnxruntime threads")
    rn.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
    rn.set_defaults(run=cmd_run)
    for p in (tr, ev):
        p.add_argument("--jobs", type=options.jobs, default=2, help="event-generation workers")
    for p in (tr, ev, rn):
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
