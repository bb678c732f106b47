"""`codesign synth`: model -> fixed-point graph -> emulator, hls4ml project, RTL -> checks and report.

One project folder per (model, part) under `vivado_projects/` (or `-o`), written atomically:

    hls/         the hls4ml project (plus, for zoo models, the trigger wrapper of firmware/)
    rtl/         the da4ml RTL, pipelined for the clock
    graph.json   the fixed-point graph (formats and integer weights)
    report.json  latency, resources (each with its source), utilisation, bit-exactness, metrics, tools
    report.md    the same for people

Every run compares, bit for bit, the emulator with the hls4ml C-simulation (and, for zoo models, the
whole trigger chain's C-simulation) and with the RTL logic (exact interpreter) on >= 10,000 vectors
with edge cases, boundary and sensitivity vectors.  It also compares the emulator with the user's
QKeras model itself, evaluated in float64 layer by layer (`verify.qkeras_reference`): equal bit for
bit unless the model has a float operation (BatchNormalization), whose deviation is then reported
in output LSBs and never called bit-exact.  Any mismatch on a path that must be exact fails the run:
the first mismatching vectors are saved beside the (not written) project and the exit is non-zero.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.validate import check_dense_sizes
from codesign.fixed.emulator import emulate, emulate_ints
from codesign.fixed.graph import Quantize, Scale
from codesign.zoo.card import METRICS_FILE
from codesign.zoo.loading import LoadedModel, load_model

PROJECTS_DIR = Path(__file__).resolve().parents[1] / "vivado_projects"
DEFAULT_VECTORS = 10_000


@dataclass
class Timings:
    """Wall time per stage, for the report ("where the time goes")."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 2)


def default_output(model_name: str, part: str) -> Path:
    return PROJECTS_DIR / f"{model_name}_{part}"


def synthesize(
    target: str, part: str = "xcvu9p", clock_mhz: float = 40.0, output: Path | None = None,
    reuse_factor: int = 1, vectors: int = DEFAULT_VECTORS, seed: int = 0, estimate: str = "fast",
    progress=print, vendor: bool = False,
) -> dict:
    """Run the whole synth flow for `target` (zoo name, model folder or .h5); returns the report.
    `vendor`: also Vitis HLS C-synthesis (and Vivado out-of-context synthesis when on PATH), `report["vendor"]`."""
    from codesign.estimate import get_part
    from codesign.estimate.vendor import find_hls_tool

    fpga = get_part(part)  # an unknown part fails before any work
    if vendor:
        find_hls_tool()  # a missing tool fails before any work
    if vectors < 1:
        raise CodesignError(f"--vectors must be positive, got {vectors}")
    if output is not None:
        check_output(output, folder=True, inputs=(target,))  # before any work
    timings = Timings()
    with timings.stage("load"):
        model = load_model(target)
    check_dense_sizes(model.graph, reuse_factor)
    output = Path(output) if output else default_output(model.name, fpga.name)
    check_output(output, folder=True, inputs=(target,))
    rng = np.random.default_rng(seed)
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        progress(f"synth {model.name} for {fpga.name} at {clock_mhz:g} MHz into {output}")
        (tmp / "graph.json").write_text(model.graph.to_json())
        report = _build(model, fpga, clock_mhz, reuse_factor, vectors, rng, tmp, output, timings, estimate, progress)
        if vendor:
            report["vendor"] = _vendor(tmp, model.graph.name, fpga, clock_mhz, timings, progress)
        _retarget(tmp, output)
        (tmp / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True))
        (tmp / "report.md").write_text(_markdown(report))
    report["project"] = str(output)
    return report


def _build(model: LoadedModel, fpga, clock_mhz, reuse_factor, n_vectors, rng, tmp: Path, output: Path,
           timings: Timings, estimate: str, progress) -> dict:
    from codesign.estimate import synthesize as yosys_synthesize
    from codesign.hls import compare, edge_case_vectors, write_project
    from codesign.rtl import write_rtl

    graph = model.graph
    with timings.stage("hls_write_and_compile"):
        progress("hls4ml: writing the project and compiling the C-simulation")
        hls = write_project(model.keras_model, graph, tmp / "hls", fpga.full_part, 1e3 / clock_mhz, reuse_factor)
    with timings.stage("vectors"):
        x = edge_case_vectors(graph, n_vectors, rng)  # n_vectors random plus the edge cases
        x_counts = graph.input_format.quantize(x)
    with timings.stage("emulator"):
        emulated = emulate(graph, x)
    with timings.stage("csim"):
        progress(f"comparing emulator and C-simulation on {len(x)} vectors")
        csim = compare(emulated, hls.predict(x), x, save_to=_mismatch_file(output, "csim"), lsb=graph.output_format.lsb)
    with timings.stage("qkeras_reference"):
        progress(f"comparing emulator and the QKeras model (float64) on {len(x)} vectors")
        checks = {"emulator_vs_qkeras_float64": _check_qkeras(model, x, emulated, output)}
    checks["emulator_vs_hls_csim"] = csim
    if model.chain is not None:
        with timings.stage("trigger_csim"):
            checks["trigger_emulator_vs_trigger_csim"] = _check_trigger(model, hls, rng, n_vectors, output)
    with timings.stage("rtl"):
        progress(f"da4ml: tracing and pipelining the RTL for {clock_mhz:g} MHz")
        rtl = write_rtl(graph, tmp / "rtl", clock_mhz=clock_mhz, part=fpga.full_part)
        rtl_out = rtl.predict_ints(x_counts)
        checks["emulator_vs_rtl_interpreter"] = compare(
            emulate_ints(graph, x_counts), rtl_out.reshape(len(x), *graph.output_shape), x,
            save_to=_mismatch_file(output, "rtl"), lsb=1.0,
        )
    with timings.stage("lint"):
        from codesign.verify.runner import lint, rtl_sources

        lint(rtl_sources(rtl.top_file.parent), rtl.module)  # the interpreter check does not compile the RTL
    bad = {name: result for name, result in checks.items() if not result.equal and _must_be_exact(name, graph)}
    if bad:
        raise CodesignError("bit-exactness check failed: " + "; ".join(f"{k}: {v.summary()}" for k, v in bad.items()))
    with timings.stage("yosys"):
        progress(f"yosys ({estimate} flow): resource estimates of the RTL")
        sources = rtl.top_file.parent
        synth = yosys_synthesize(sorted(sources.glob("**/*.v")), rtl.module, fpga, tmp / "rtl" / "yosys",
                                 flow=estimate, data_files=sorted(sources.glob("**/*.mem")))
    return _report(model, fpga, clock_mhz, reuse_factor, rtl, synth, checks, timings)


def _vendor(tmp: Path, graph_name: str, fpga, clock_mhz: float, timings: Timings, progress) -> dict:
    """The vendor tools' own figures, beside (never instead of) the estimates."""
    from codesign.estimate.vendor import run_csynth, run_vivado_ooc
    from codesign.rtl.generate import module_name

    with timings.stage("vendor_hls"):
        progress("vendor: HLS C-synthesis")
        result = {"hls": run_csynth(tmp / "hls")}
    with timings.stage("vendor_vivado"):
        vivado = run_vivado_ooc(tmp / "rtl", module_name(graph_name), fpga.full_part, clock_mhz)
    if vivado is not None:
        result["vivado_rtl"] = vivado
    return result


def _check_trigger(model: LoadedModel, hls, rng, n_vectors: int, output: Path):
    """The whole trigger chain (scaling, network, score, comparators) in C-simulation vs the emulator."""
    from codesign.hls import compare
    from codesign.hls.trigger import compile_trigger, write_trigger

    chain = model.chain
    working_points = list(chain.thresholds)
    write_trigger(chain, hls.path, hls.name, working_points)
    csim = compile_trigger(chain, hls.path, hls.name, len(working_points))
    raw = raw_edge_vectors(chain, n_vectors, rng)
    want, got = chain.emulate(raw), csim.predict(raw)
    want_all = np.column_stack([want["network"], want["score"], *[want[wp] for wp in working_points]])
    got_all = np.column_stack([got["network"], got["score"], got["pass"]])
    return compare(want_all, got_all, raw, save_to=_mismatch_file(output, "trigger"))


def _must_be_exact(path: str, graph) -> bool:
    """Every path is bit-exact by construction, except QKeras where the model computes in float (BN)."""
    return path != "emulator_vs_qkeras_float64" or not any(isinstance(op, Scale) for op in graph.ops)


def _check_qkeras(model: LoadedModel, x: np.ndarray, emulated: np.ndarray, output: Path):
    """The emulator against QKeras itself in float64.  A model without an input quantizer sees the inputs
    already cast to the assumed input format (what the firmware receives)."""
    from codesign.hls import compare
    from codesign.verify.qkeras_reference import qkeras_float64

    graph = model.graph
    first = graph.ops[0] if graph.ops else None
    has_input_quantizer = isinstance(first, Quantize) and not first.relu and first.output_format == graph.input_format
    x_model = x if has_input_quantizer else graph.input_format.to_float(graph.input_format.quantize(x))
    reference = qkeras_float64(model.keras_model, x_model)
    return compare(reference, emulated, x, save_to=_mismatch_file(output, "qkeras"), lsb=graph.output_format.lsb)


def _retarget(tmp: Path, output: Path) -> None:
    """Point the paths the tools wrote into the project (hls4ml's OutputDir) at its final place."""
    config = tmp / "hls" / "hls4ml_config.yml"
    if config.is_file():
        config.write_text(config.read_text().replace(str(tmp.absolute()), str(output.absolute())))


def _mismatch_file(output: Path, path_name: str) -> Path:
    """Where the first mismatching vectors of one comparison go: beside the (unwritten) project."""
    return output.parent / f"{output.name}.mismatches.{path_name}.npz"


def raw_edge_vectors(chain, n: int, rng: np.random.Generator) -> np.ndarray:
    """Raw hardware inputs: uniform over the raw range, zeros, extremes, per-feature sensitivity vectors
    around the offsets, scores exactly on each comparator threshold and one LSB either side, and per
    feature values around its offset whose shifted image spans twice the network input range (through
    saturation, with random bits below the right shift's LSB), every other one landing exactly on a
    rounding tie of the cast where the shift allows one.  Clipped to the raw range."""
    from codesign.verify.vectors import sensitivity_counts, threshold_vectors

    scaling, net_fmt = chain.scaling, chain.graph.input_format
    raw_fmt, shifts = scaling.raw_format, scaling.shifts
    n_in = chain.graph.input_shape[-1]
    counts = [rng.integers(raw_fmt.min_int, raw_fmt.max_int, (n // 2, n_in), endpoint=True)]
    counts += [np.zeros((1, n_in)), np.full((1, n_in), raw_fmt.max_int), np.full((1, n_in), raw_fmt.min_int)]
    counts += [scaling.offsets * 2**raw_fmt.frac + sensitivity_counts(raw_fmt, n_in), threshold_vectors(chain, rng)]
    drop = max(raw_fmt.frac - net_fmt.frac, 0)  # bits the cast removes after the shift
    span = 2 ** (net_fmt.width + drop)  # the network input range, in raw counts after the shift
    shifted = rng.integers(-span, span, (n - n // 2, n_in))
    if drop > 0:
        shifted[::2] = shifted[::2] // 2**drop * 2**drop + 2 ** (drop - 1)  # half-LSB ties of the cast
    right, left = np.maximum(shifts, 0), np.maximum(-shifts, 0)
    below = rng.integers(0, 2**right, shifted.shape)  # bits the right shift drops (floor)
    difference = np.where(shifts >= 0, shifted * 2.0**right + below, np.floor(shifted * 2.0**-left))
    counts.append(scaling.offsets * 2.0**raw_fmt.frac + difference)
    return raw_fmt.to_float(np.clip(np.concatenate(counts), raw_fmt.min_int, raw_fmt.max_int))


def _efficiency(entry: float | dict) -> str:
    """An efficiency of the card's metrics: with its 68% interval (zero-bias-trained cards) or a bare value
    (metrics written before intervals existed)."""
    if isinstance(entry, dict):
        return f"{entry['value']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"
    return f"{entry:.3f}"


def _report(model: LoadedModel, fpga, clock_mhz, reuse_factor, rtl, synth, checks, timings: Timings) -> dict:
    flow = {"fast": "word-level estimate", "full": "synth_xilinx"}[synth.flow]
    counts = {"lut": synth.lut, "ff": synth.ff, "dsp": synth.dsp, "bram": synth.bram36, "carry": synth.carry}
    resources = {name: {"value": value, "source": synth.source, "flow": flow} for name, value in counts.items()}
    metrics = {}
    if model.card is not None and (model.card.folder / METRICS_FILE).is_file():
        metrics = json.loads((model.card.folder / METRICS_FILE).read_text())
    return {
        "model": model.name,
        "part": fpga.name,
        "part_full_name": fpga.full_part,
        "clock_mhz": clock_mhz,
        "reuse_factor": reuse_factor,
        "latency_cycles": rtl.latency_cycles,
        "latency_ns": rtl.latency_cycles * 1e3 / clock_mhz,
        "ii": rtl.ii,
        "logic_depth": {"adder_levels_per_stage": list(rtl.stage_depths), "lut_levels": synth.logic_levels,
                        "sources": {"adder_levels_per_stage": "da4ml", "lut_levels": synth.source}},
        "resources": resources,
        "da4ml_cost": rtl.cost,
        "utilization_pct": {("bram" if k == "bram36" else k): v for k, v in fpga.utilization_pct(synth.resources()).items()},
        "bit_exact": {
            "vectors": min(c.vectors for c in checks.values()),
            "mismatches": sum(c.mismatches for name, c in checks.items() if _must_be_exact(name, model.graph)),
            "paths": {name: {"vectors": c.vectors, "mismatches": c.mismatches, "max_deviation_lsb": c.max_deviation_lsb,
                             "bit_exact": c.equal and _must_be_exact(name, model.graph)}
                      for name, c in checks.items()},
        },
        "input_format": model.graph.input_format.hls(),
        "input_note": model.input_note,
        "metrics": metrics,
        "tools": {**{pkg: version(pkg) for pkg in ("codesign", "hls4ml", "da4ml", "qkeras", "tensorflow")},
                  synth.source: synth.version},
        "timings_s": timings.seconds,
    }


def _path_line(name: str, path: dict) -> str:
    deviation = path["max_deviation_lsb"]
    status = "bit-exact" if path["bit_exact"] else "NOT bit-exact (float operation in the model)"
    if not path["bit_exact"] and path["mismatches"] == 0:
        status = "equal on these vectors, not bit-exact by construction (float operation in the model)"
    detail = "" if deviation is None else f", max deviation {deviation:g} output LSBs"
    return f"  - {name}: {path['mismatches']} of {path['vectors']} vectors differ{detail}: {status}"


def _markdown(report: dict) -> str:
    r = report
    lines = [
        f"# {r['model']} on {r['part']} at {r['clock_mhz']:g} MHz",
        "",
        f"- latency: {r['latency_cycles']} cycle(s) = {r['latency_ns']:g} ns, II = {r['ii']}",
        f"- bit-exact paths: {r['bit_exact']['mismatches']} mismatches on {r['bit_exact']['vectors']} vectors",
        *[_path_line(name, p) for name, p in r["bit_exact"]["paths"].items()],
        f"- input format: {r['input_format']} ({r['input_note'] or 'from the model card'})",
        "",
        "| resource | count | utilisation | source |",
        "|---|---|---|---|",
    ]
    for name, entry in r["resources"].items():
        pct = r["utilization_pct"].get(name)
        lines.append(f"| {name.upper()} | {entry['value']} | {'' if pct is None else f'{pct:.3f}%'} | {entry['source']} |")
    lines += ["", f"da4ml cost estimate: {json.dumps(r['da4ml_cost'])}", ""]
    if r["metrics"].get("signals"):
        lines += ["| signal | AUC (firmware) | AUC (float) | efficiencies (firmware) |", "|---|---|---|---|"]
        for name, m in r["metrics"]["signals"].items():
            effs = ", ".join(f"{wp} {_efficiency(e)}" for wp, e in m["efficiency_firmware"].items())
            lines.append(f"| {name} | {m['auc_firmware']:.3f} | {m['auc_float']:.3f} | {effs} |")
        lines.append("")
    lines.append("Time per stage (s): " + ", ".join(f"{k} {v}" for k, v in r["timings_s"].items()))
    return "\n".join(lines) + "\n"
