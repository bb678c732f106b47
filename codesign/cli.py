"""The `codesign` command: argument parsing only; every verb calls a library function."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

from codesign import __version__, options
from codesign.atomic import check_output
from codesign.errors import CodesignError, one_line

EXIT_USER_ERROR = 2


HLS_CONFIG_HELP = ("hls4ml-style YAML of explicit accumulator/result precisions per Dense/Conv2D layer "
                   "(LayerName: {layer: {Precision: {accum: ap_fixed<26,14>, result: ...}}}); default: exact")

def _data_generate(args: argparse.Namespace) -> None:
    from codesign.data import GenerationRequest, generate

    check_output(args.output, folder=False)
    request = GenerationRequest(args.process, args.events, args.pileup, args.seed, args.pool_events, pf=not args.no_pf,
                                pf_trigger=args.pf_trigger)
    path, cached = generate(request, args.output, jobs=args.jobs, use_cache=not args.no_cache)
    print(f"{'copied from cache' if cached else 'wrote'} {request.events} {request.process} events to {path}")


def _data_info(args: argparse.Namespace) -> None:
    from codesign.data.info import describe
    from codesign.data.rootio import load_mapping

    print(describe(args.file, load_mapping(args.mapping)))


def _data_processes(args: argparse.Namespace) -> None:
    from codesign.data.processes import PROCESSES
    from codesign.estimate.parts import parts
    from codesign.synth import PROJECTS_ENV

    for process in PROCESSES.values():
        kind = "signal" if process.is_signal else "background"
        print(f"{process.name:15s} {kind:10s} {process.description}")


def _train(args: argparse.Namespace) -> None:
    from codesign.train import axol1tl, cicada, gelato
    from codesign.train.common import check_epochs, load_samples
    from codesign.zoo import load_card

    # per family: the check of the card's training entries (run before any sample is generated) and the trainer
    families = {"vae": (axol1tl.check_training, axol1tl.train), "vae_gan": (check_epochs, gelato.train),
                "cicada": (cicada.check_training, cicada.train)}
    card = load_card(args.model)
    if card.data.get("family") not in families:
        raise CodesignError(f"training of model family {card.data.get('family')!r} is not implemented "
                            f"(known: {', '.join(families)}); fix the card's family")
    check, trainer = families[card.data["family"]]
    check(card, args.epochs)
    samples, raws = load_samples(card, jobs=args.jobs)
    metrics = trainer(card, samples, raws, epochs=args.epochs, verbose=2)
    for name, wp in metrics["working_points"].items():
        r = wp["rate_hz"]
        print(f"{name:8s} threshold {wp['threshold_lsb']:6d} LSB  rate {r['value'] / 1e3:.3g} kHz "
              f"[{r['low'] / 1e3:.3g}, {r['high'] / 1e3:.3g}]{'  (flagged)' if wp['flagged'] else ''}  "
              f"largest share of one pileup-pool interaction {wp['tail']['pool_share']:.1%} "
              f"({wp['tail']['pool_crossings']} crossings)")
    for name, m in metrics["signals"].items():
        other = "teacher" if "auc_teacher" in m else "float"
        print(f"{name:15s} AUC firmware {m['auc_firmware']:.3f}  {other} {m[f'auc_{other}']:.3f}  "
              + "  ".join(f"eff@{wp} {e['value']:.3f}" for wp, e in m["efficiency_firmware"].items()))
    print(f"wrote {card.encoder_path}, {card.folder / 'card.yaml'} and metrics.json")


def _emulate(args: argparse.Namespace) -> None:
    from codesign.emulate import run

    print(run(args.model, args.input, args.output, args.mapping, hls_config=args.hls_config))


def _synth(args: argparse.Namespace) -> None:
    from codesign.synth import synthesize

    report = synthesize(args.model, part=args.part, clock_mhz=args.clock_mhz, output=args.output,
                        reuse_factor=args.reuse_factor, vectors=args.vectors,
                        estimate=args.estimate or ("full" if args.combinational else "fast"),
                        vendor=args.vendor, combinational=args.combinational, hls_config=args.hls_config,
                        progress=lambda line: print(line, flush=True))  # progress shows up in logs and pipes too
    res, util = report["resources"], report["utilization_pct"]
    print(f"{report['model']} on {report['part']} at {report['clock_mhz']:g} MHz: "
          f"{report['latency_cycles']} cycle(s) = {report['latency_ns']:g} ns, II {report['ii']}; "
          f"LUT {res['lut']['value']} ({util['lut']:.2f}%), FF {res['ff']['value']}, DSP {res['dsp']['value']}, "
          f"BRAM {res['bram']['value']:g} [{res['lut']['source']}, {res['lut']['flow']}]; "
          f"bit-exact on {report['bit_exact']['vectors']} vectors")
    if "combinational" in report:
        c = report["combinational"]
        levels = c["lut_carry_levels"] if c["lut_carry_levels"] is not None else "n/a (--estimate full)"
        print(f"combinational: {c['adder_levels']} adder levels, {levels} LUT/CARRY levels; estimated "
              f"{c['delay_ns']:g} +- {c['uncertainty_ns']:g} ns of {c['period_ns']:g} ns: "
              f"{'fits' if c['fits'] else 'does NOT fit'} with a {c['target_margin']:.0%} margin")
    print(f"project: {report['project']}")


def _rates(args: argparse.Namespace) -> None:
    from codesign.metrics.report import markdown, run

    signals = {}
    for item in args.signal:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise CodesignError(f"--signal {item!r} must be NAME=FILE.root")
        if name in signals:
            raise CodesignError(f"--signal name {name!r} is given twice; name each signal once")
        signals[name] = Path(path)
    result = run(args.zerobias, args.output, menu=args.menu, model=args.model, target_khz=args.target_khz,
                 signals=signals, mapping=args.mapping)
    print(markdown(result))
    print(f"wrote {args.output}")


def _sweep(args: argparse.Namespace) -> None:
    from codesign.sweep import promote, sweep
    from codesign.zoo import load_card

    if args.promote is not None:
        target = args.to or Path(f"{load_card(args.model).name}_p{args.promote}")
        print(f"wrote point {args.promote} of {args.output} as the model folder {promote(args.output, args.promote, target)}"
              f" (`codesign synth {target}` takes it)")
        return
    result = sweep(args.model, args.output, grid=args.grid, scheduler=args.scheduler, workers=args.workers,
                   jobs=args.jobs)
    trials = f" from {result['trials']} search trials" if result["trials"] else ""
    print(f"{result['points']} points{trials} ({result['ran']} run, {result['reused']} reused, {result['failed']} failed); "
          f"Pareto front in LUT vs {result['objective']}:")
    for row in result["front"]:
        diff = row["auc_diff_min"] if result["objective"] != "auc_diff_min" else ""
        worst = f", worst AUC difference to committed {float(diff):+.4f}" if diff else ""
        print(f"  point {row['point']:>4s}: LUT {int(float(row['lut']))} ({float(row['lut_pct']):.3f}%), "
              f"{result['objective']} {float(row[result['objective']]):.4f}{worst}")
    print(f"wrote {result['table']} (and .parquet), {result['front_file']} and {result['plot']}")


def build_parser() -> argparse.ArgumentParser:
    from codesign.data.generate import DEFAULT_PILEUP, DEFAULT_POOL_EVENTS, default_jobs
    from codesign.data.processes import PROCESSES
    from codesign.estimate.parts import parts
    from codesign.synth import PROJECTS_ENV

    parser = options.Parser(
        prog="codesign", description="Hardware-software co-design compiler for LHC anomaly-detection triggers.",
        epilog=options.examples("codesign synth axol1tl --part xcvu9p", "codesign VERB --help"),
    )
    parser.add_argument("--version", action="version", version=f"codesign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the libraries' start-up messages and warnings (TensorFlow, Keras)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    data = verbs.add_parser("data", help="generate and inspect collision-event samples")
    data_verbs = data.add_subparsers(dest="data_verb", required=True, metavar="ACTION")
    data.epilog = options.examples("codesign data processes", "codesign data generate --process zprime_ll --events 1000 -o zp.root",
                                   "codesign data info zp.root")
    gen = data_verbs.add_parser(
        "generate", help="generate events with Pythia 8, pileup and a Level-1 detector simulation into a ROOT file",
        epilog=options.examples("codesign data generate --process zerobias --events 10000 --pileup 60 -o zb.root",
                                "codesign data generate --process zerobias --events 300000 --pf-trigger axol1tl:Medium "
                                "-o zb_hlt.root"),
    )
    gen.add_argument("--process", required=True, help=f"one of: {', '.join(PROCESSES)}")
    gen.add_argument("--events", type=options.integer(1, options.MAX_EVENTS), required=True,
                     help=f"number of events (at most {options.MAX_EVENTS})")
    gen.add_argument("--pileup", type=options.real(0.0, options.MAX_PILEUP, low_open=False), default=DEFAULT_PILEUP,
                     help="mean pileup interactions (default %(default)s)")
    gen.add_argument("--seed", type=options.seed, default=1, help="random seed (default %(default)s)")
    gen.add_argument("--jobs", type=options.jobs, default=default_jobs(), help="worker processes (default %(default)s)")
    gen.add_argument("--pool-events", type=options.integer(1, options.MAX_EVENTS), default=DEFAULT_POOL_EVENTS,
                     help="pileup pool interactions per tier: soft and 12-15 GeV; the 15-30 GeV tier holds 2.5 times as many (default %(default)s)")
    gen.add_argument("--no-pf", action="store_true",
                     help="skip the PF candidates (HLT and SUEP views); Level-1 views do not need them")
    gen.add_argument("--pf-trigger", metavar="MODEL:WP",
                     help="PF candidates only in crossings that this zoo trigger accepts, e.g. axol1tl:Medium (every "
                          "crossing keeps its Level-1 objects and weight, so rates keep their denominator); default: all")
    gen.add_argument("--no-cache", action="store_true", help="neither read nor fill the sample cache")
    gen.add_argument("-o", "--output", type=Path, required=True, help="output ROOT file")
    gen.set_defaults(run=_data_generate)

    info = data_verbs.add_parser("info", help="describe a ROOT file: branches, metadata, physics summary",
                                 epilog=options.examples("codesign data info zb.root",
                                                         "codesign data info theirs.root --mapping mapping.yaml"))
    info.add_argument("file", metavar="FILE", type=Path, help="ROOT file")
    info.add_argument("--mapping", type=Path, help="YAML branch mapping for files not written by codesign")
    info.set_defaults(run=_data_info)

    procs = data_verbs.add_parser("processes", help="list the processes that can be generated",
                                  epilog=options.examples("codesign data processes"))
    procs.set_defaults(run=_data_processes)

    train = verbs.add_parser("train", help="quantization-aware training of a zoo model from its card and seeds",
                             epilog=options.examples("codesign train axol1tl", "codesign train axol1tl --epochs 5 --jobs 2"))
    train.add_argument("model", metavar="MODEL", help="zoo model name (e.g. axol1tl) or model folder")
    train.add_argument("--epochs", type=options.integer(1, 100_000),
                       help="training epochs (default: the card's training.epochs)")
    train.add_argument("--jobs", type=options.jobs, default=default_jobs(), help="event-generation workers")
    train.set_defaults(run=_train)

    emulate = verbs.add_parser("emulate", help="bit-exact firmware outputs of a model for input vectors",
                               epilog=options.examples("codesign emulate axol1tl --input zb.root -o scores.npy",
                                                       "codesign emulate my_model.h5 --input x.npy -o y.npy"))
    emulate.add_argument("model", metavar="MODEL", help="zoo model name, model folder, or QKeras .h5 file")
    emulate.add_argument("--input", type=Path, required=True, help=".npy (N, n_inputs) or .root file")
    emulate.add_argument("--mapping", type=Path, help="YAML branch mapping for ROOT files not written by codesign")
    emulate.add_argument("-o", "--output", type=Path, required=True, help="output .npy (float64)")
    emulate.add_argument("--hls-config", type=Path, help=HLS_CONFIG_HELP)
    emulate.set_defaults(run=_emulate)

    synth = verbs.add_parser(
        "synth", help="graph, emulator, hls4ml project, RTL, bit-exactness checks and latency/resource report",
        epilog=options.examples("codesign synth axol1tl --part xcvu9p",
                                "codesign synth my_model.h5 --part xc7vx690t --clock-mhz 240 -o my_project",
                                "codesign synth gelato --part xcvu9p --combinational"),
    )
    synth.add_argument("model", metavar="MODEL", help="zoo model name (e.g. axol1tl), model folder, or QKeras .h5 file")
    synth.add_argument("--part", default="xcvu9p",
                       help=f"FPGA part: {', '.join(parts())}, or a full part string such as xcvu9p-flga2104-2L-e")
    synth.add_argument("--clock-mhz", type=options.clock_mhz, default=40.0, help="clock for pipelining (default %(default)s)")
    synth.add_argument("--reuse-factor", type=options.integer(1, 4096), default=1,
                       help="hls4ml reuse factor (default %(default)s)")
    synth.add_argument("--vectors", type=options.vectors, default=10_000, help="bit-exactness vectors (default %(default)s)")
    synth.add_argument("--estimate", choices=("fast", "full"), default=None,
                       help="Yosys flow: fast word-level estimate (seconds) or full synth_xilinx (minutes, gives the "
                            "LUT/CARRY levels) (default fast; full with --combinational)")
    synth.add_argument("--combinational", action="store_true",
                       help="no register inside the logic (inputs and result registered at the ports, latency 1): "
                            "the report says whether its depth fits one clock period")
    synth.add_argument("--vendor", action="store_true",
                       help="also Vitis HLS C-synthesis (vitis_hls/vivado_hls on PATH) and Vivado OOC synthesis if present")
    synth.add_argument("-o", "--output", type=Path,
                       help=f"project folder (default: ${PROJECTS_ENV}/<model>_<part>, else ./vivado_projects/<model>_<part>)")
    synth.add_argument("--hls-config", type=Path, help=HLS_CONFIG_HELP)
    synth.set_defaults(run=_synth)

    rates = verbs.add_parser(
        "rates", help="Level-1 menu rates on zero bias, a model's working points, pure rates and signal efficiencies",
        epilog=options.examples("codesign rates zb.root --model axol1tl --target-khz 1 5 --signal zp=zp.root -o rates_out"),
    )
    rates.add_argument("zerobias", metavar="ZEROBIAS", type=Path, help="zero-bias ROOT file (per-event weights used when present)")
    rates.add_argument("--menu", type=Path, help="menu YAML (default: the built-in Run-3-like menu)")
    rates.add_argument("--model", help="zoo model whose working points to evaluate, e.g. axol1tl (default: none)")
    rates.add_argument("--target-khz", type=float, nargs="+", default=[],
                       help="target rates for the model's thresholds (default: the card's thresholds)")
    rates.add_argument("--signal", nargs="+", action="extend", default=[], metavar="NAME=FILE.root",
                       help="signal samples for efficiencies (default: none)")
    rates.add_argument("--mapping", type=Path, help="YAML branch mapping for ROOT files not written by codesign")
    rates.add_argument("-o", "--output", type=Path, required=True, help="new output folder")
    rates.set_defaults(run=_rates)

    sweep = verbs.add_parser(
        "sweep", help="train, emulate and estimate a grid of card variants on Dask; results table and Pareto front",
        epilog=options.examples("codesign sweep axol1tl -o axol1tl_sweep",
                                "codesign sweep axol1tl --grid small.yaml --scheduler tcp://10.0.0.5:8786 -o sweep1",
                                "codesign sweep axol1tl -o axol1tl_sweep --promote 7 --to axol1tl_small"),
    )
    sweep.add_argument("model", metavar="MODEL", help="zoo model name (e.g. axol1tl) or model folder")
    sweep.add_argument("--grid", type=Path, help="sweep file (YAML; default: the model's sweep.yaml)")
    sweep.add_argument("-o", "--output", type=Path, required=True,
                       help="sweep folder: created, or an earlier sweep of the model resumed")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="a running Dask scheduler (default: a local cluster, one worker per core)")
    sweep.add_argument("--workers", type=options.jobs, help="local cluster workers (default: one per core)")
    sweep.add_argument("--jobs", type=options.jobs, default=default_jobs(), help="event-generation workers")
    sweep.add_argument("--promote", metavar="POINT", help="write a finished point of the sweep as a model folder")
    sweep.add_argument("--to", type=Path, help="the promoted model folder (default: ./MODEL_pPOINT)")
    sweep.set_defaults(run=_sweep, after_interrupt="finished points stay in the sweep folder's results.csv; run the same command to resume")

    from codesign.dqm.cli import add_parser as add_dqm_parser
    from codesign.handoff.cli import add_parser as add_handoff_parser
    from codesign.hlt.cli import add_parser as add_hlt_parser
    from codesign.suep.cli import add_parser as add_suep_parser
    from codesign.verify.cli import add_parser as add_verify_parser

    add_verify_parser(verbs)
    add_dqm_parser(verbs)
    add_handoff_parser(verbs)
    add_hlt_parser(verbs)
    add_suep_parser(verbs)

    return parser


#: Modules whose Python warnings are start-up or deprecation noise for a codesign user (shown with --verbose).
NOISY_MODULES = r"(tensorflow|keras|tf_keras|qkeras|hls4ml|tf2onnx|absl)(\.|$)"


def quiet_libraries() -> None:
    """Hide TensorFlow's start-up messages (CUDA probing, CPU features, TensorRT: C++ logging, read when
    TensorFlow is imported, so call this first) and the ML libraries' warnings; `--verbose` skips this."""
    import logging
    import os
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", module=NOISY_MODULES)
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: the run unwinds (no partial output survives) and exits 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: The signal that interrupted this run.  Kept because the exception `_on_signal` raises can be lost: raised
#: inside a library's bare `except:` or a finaliser, it is swallowed, and the run goes on until what the handler
#: stopped fails (a killed g++ is a failed build); `main` reports that failure as the interrupt it is.
_received: list[int] = []


def _on_signal(signum, frame) -> None:
    """Stop the child processes (compilers, simulators, workers), then unwind; later signals are ignored
    so the clean-up itself is not interrupted (a SIGKILL's leftovers are cleaned by the next run)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _received.append(signum)
    stop_children()
    raise Interrupted(signum)


def stop_children(grace_s: float = 3.0) -> None:
    """SIGTERM to every descendant process, SIGKILL to those still running after `grace_s`.  Python's own
    multiprocessing processes (pool workers, the resource tracker) are left to their owners (see
    `codesign.data.generate.executor`): reaping a pool worker here hides its exit from the executor,
    whose shutdown then waits for it forever."""
    import psutil

    children = [child for child in psutil.Process().children(recursive=True) if not _multiprocessing(child)]
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _multiprocessing(process) -> bool:
    """Whether `process` is a pool worker or resource tracker started by Python's multiprocessing."""
    import psutil

    try:
        return any(arg.startswith("from multiprocessing.") for arg in process.cmdline())
    except psutil.Error:
        return False


def _after_interrupt(args: argparse.Namespace | None) -> str:
    """What an interrupted run leaves: nothing, unless the verb streams results it can resume from."""
    return getattr(args, "after_interrupt", None) or "no output written"


def _failed(err: Exception, args: argparse.Namespace | None) -> int:
    """One line on stderr for the error that ended the run, and its exit code; an unexpected error propagates."""
    if _received:  # a consequence of the interrupt (see `_received`)
        print(f"codesign: interrupted ({signal.Signals(_received[0]).name}, then: {one_line(err)}); "
              f"{_after_interrupt(args)}", file=sys.stderr)
        return 128 + _received[0]
    if isinstance(err, CodesignError):
        print(f"codesign: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if isinstance(err, MemoryError):
        print("codesign: error: out of memory; use smaller inputs or fewer --vectors/--events", file=sys.stderr)
        return 1
    if isinstance(err, OSError):  # the environment: disk full, permissions changed during the run, ...
        print(f"codesign: error: {one_line(err)}", file=sys.stderr)
        return 1
    raise err


def main(argv: list[str] | None = None) -> int:
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    _received.clear()
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help, --version, or a bad argument (one line, exit 2)
            return int(done.code or 0)
        if not args.verbose:
            quiet_libraries()
        args.run(args)
    except Interrupted as err:
        print(f"codesign: interrupted ({err}); {_after_interrupt(args)}", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:
        print(f"codesign: interrupted; {_after_interrupt(args)}", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as err:
        return _failed(err, args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
