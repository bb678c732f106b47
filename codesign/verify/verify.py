"""`codesign verify`: the generated RTL simulated with cocotb (Verilator or Icarus) against the emulator.

Every output word is compared bit for bit with the bit-exact emulator on edge-case and random
vectors, and the latency is measured in simulation (a marker vector, cycles counted until its output
appears), then checked against the report.  The outcome goes to `verify.json` in the project; any
mismatch or latency difference raises `CodesignError`, after saving the first mismatching vectors
as `verify_mismatches.npz` and as `verify_mismatches.hex` (one line per vector: index, `model_inp`
word, expected and simulated `model_out` words) for replay in a firmware testbench.  A folder named
with `-o` follows the rules of every output (`codesign.atomic`): checked before the simulation, built
under a temporary name and swapped in complete, with codesign's marker.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path, check_output
from codesign.cache import cache_dir, cache_key
from codesign.errors import CodesignError, one_line
from codesign.fixed.emulator import emulate_ints
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Dense, Graph, Quantize, Reshape, Scale
from codesign.verify.runner import SIMULATORS, rtl_sources, simulate

N_SAVED = 100
MISMATCH_NPZ, MISMATCH_HEX, GOLDEN_HEX = "verify_mismatches.npz", "verify_mismatches.hex", "verify_vectors.hex"


@dataclass
class Design:
    """The RTL under test and what the testbench needs to know about its ports."""

    name: str
    graph: Graph
    module: str
    sources: list[Path]
    latency_cycles: int  # from the report (or write_rtl), to be confirmed in simulation
    ii: int
    input_fields: tuple
    output_fields: tuple
    folder: Path  # where verify.json goes


def verify(target: str | Path, vectors: int = 10_000, simulator: str = "verilator", project: Path | None = None,
           seed: int = 0, clock_mhz: float = 40.0, golden: bool = False, progress=print) -> dict:
    """Simulate the RTL of `target` (a synth project folder, zoo name or .h5) and compare it with the emulator.

    A model's RTL is written with `write_rtl` at `clock_mhz` into the cache (reused on the next run).
    `project`: where `verify.json` (and mismatch files) go; default the project or cached RTL folder.
    `golden`: also write every vector, once it passed, as `verify_vectors.hex` (the mismatch file's format).
    """
    from codesign.hls.compare import edge_case_vectors
    from codesign.rtl.generate import pack_fields, unpack_fields

    if vectors < 1:
        raise CodesignError(f"--vectors must be positive, got {vectors}")
    if simulator not in SIMULATORS:
        raise CodesignError(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    if project is not None and Path(project).resolve() == Path(target).resolve():
        project = None  # `-o` naming the project itself: the default
    if project is not None:
        check_output(project, folder=True, inputs=(target,))
    design = load_design(target, clock_mhz)
    out_dir = Path(project) if project is not None else design.folder
    graph = design.graph
    x = edge_case_vectors(graph, vectors, np.random.default_rng(seed))
    x_counts = graph.input_format.quantize(x).astype(np.int64).reshape(len(x), -1)
    real = real_event_counts(target)
    if real is not None and real.shape[1] == x_counts.shape[1]:
        x_counts = np.concatenate([x_counts, real])
    n = len(x_counts)
    want = emulate_ints(graph, x_counts.reshape(len(x_counts), *graph.input_shape)).reshape(len(x_counts), -1)
    in_words, want_words = pack_fields(design.input_fields, x_counts), pack_fields(design.output_fields, want)
    background, marker = _marker(want_words)
    stimulus = {
        "inputs": [f"{w:x}" for w in in_words], "expected": [f"{w:x}" for w in want_words],
        "latency": design.latency_cycles, "ii": design.ii, "max_latency": 2 * design.latency_cycles + 8,
        "background": f"{in_words[background]:x}", "marker": f"{in_words[marker]:x}",
        "expected_marker": f"{want_words[marker]:x}",
    }
    progress(f"verify {design.name}: {n} vectors through {simulator} "
             f"(latency {design.latency_cycles} cycles, II {design.ii})")
    run_dir = Path(tempfile.mkdtemp(prefix=f"{design.module}-", dir=cache_dir("verify-runs")))
    run = simulate(design.sources, design.module, stimulus, run_dir, simulator)
    res = run.results
    got_words = [None if g is None else int(g, 16) for g in res["got"]]
    unknown = np.array([g is None for g in got_words])
    got = unpack_fields(design.output_fields, [g or 0 for g in got_words])
    differ = np.flatnonzero(unknown | (got != want).any(axis=1) | np.isin(np.arange(n), res["mismatches"]))
    observed = res["observed_latency"]
    report = {
        "model": design.name, "module": design.module, "vectors": n, "mismatches": int(len(differ)),
        "first_mismatches": differ[:10].tolist(), "simulator": run.simulator, "simulator_version": run.simulator_version,
        "latency_cycles_observed": observed, "latency_cycles_report": design.latency_cycles, "ii": design.ii,
        "build_s": run.build_s, "cached_build": run.cached_build, "run_s": run.run_s, "sim_loop_s": res["loop_s"],
        "vectors_per_s": round(n / max(res["loop_s"], 1e-9)), "seed": seed,
    }
    ok = not len(differ) and observed == design.latency_cycles
    with _writing(out_dir, replace=project is not None) as folder:
        if len(differ):
            _save_mismatches(folder, differ[:N_SAVED], graph, x_counts, in_words, want, want_words, got, got_words)
            report["saved"] = {"npz": str(out_dir / MISMATCH_NPZ), "hex": str(out_dir / MISMATCH_HEX)}
        elif ok and golden:
            _write_hex(folder / GOLDEN_HEX, range(n), in_words, want_words, got_words)
            report["golden"] = str(out_dir / GOLDEN_HEX)
        with atomic_path(folder / "verify.json") as tmp:
            tmp.write_text(json.dumps(report, indent=1, sort_keys=True))
    report["path"] = str(out_dir / "verify.json")
    if not ok:  # the run folder stays: stimulus, results and the simulator's log
        saved = f"first mismatching vectors in {report['saved']['hex']}; " if len(differ) else ""
        seen = "never seen" if observed is None else f"{observed} cycles"
        raise CodesignError(
            f"RTL simulation of {design.name} does not match: {len(differ)} of {n} vectors differ, latency "
            f"{seen} vs report {design.latency_cycles} cycles; {saved}see {report['path']} and {run.log}")
    shutil.rmtree(run_dir, ignore_errors=True)
    return report


@contextlib.contextmanager
def _writing(out_dir: Path, replace: bool) -> Iterator[Path]:
    """The folder to write verify's files into: `out_dir` itself (a project or cache folder, file by file,
    each atomically), or with `replace` (a `-o` folder) a temporary folder swapped in when complete."""
    if not replace:
        out_dir.mkdir(parents=True, exist_ok=True)
        yield out_dir
        return
    with atomic_path(out_dir, folder=True) as tmp:
        tmp.mkdir()
        yield tmp


def load_design(target: str | Path, clock_mhz: float = 40.0) -> Design:
    """A synth project's RTL (folder with report.json, graph.json, rtl/), or RTL written for a model (cached)."""
    path = Path(target)
    if path.is_dir() and (path / "report.json").is_file():
        for need in ("graph.json", "rtl/model/pipeline.json", "rtl/src"):
            if not (path / need).exists():
                raise CodesignError(f"{path} is not a complete synth project (no {need}); rerun `codesign synth`")
        try:
            report = json.loads((path / "report.json").read_text())
            graph = graph_from_json((path / "graph.json").read_text())
            return _design(graph, path / "rtl", int(report["latency_cycles"]), int(report["ii"]), path)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as err:
            raise CodesignError(f"{path} holds a damaged report.json, graph.json or rtl/ ({one_line(err)}); "
                                "rerun `codesign synth`") from None
    if path.is_dir():
        raise CodesignError(f"{path} is neither a synth project (no report.json) nor a model file")
    from codesign.zoo.loading import load_model

    graph = load_model(target).graph
    folder = cache_dir("verify") / f"{graph.name}-{cache_key({'graph': graph.to_json(), 'clock_mhz': clock_mhz})}"
    if not (folder / "rtl.json").is_file():  # written last: rtl/ (atomic) is complete when it exists
        from codesign.rtl import write_rtl

        folder.mkdir(parents=True, exist_ok=True)
        rtl = write_rtl(graph, folder / "rtl", clock_mhz=clock_mhz)
        with atomic_path(folder / "rtl.json") as tmp:
            tmp.write_text(json.dumps({"latency_cycles": rtl.latency_cycles, "ii": rtl.ii}))
    meta = json.loads((folder / "rtl.json").read_text())
    return _design(graph, folder / "rtl", meta["latency_cycles"], meta["ii"], folder)


REAL_EVENTS = {"minbias": 500, "zprime_ll": 250, "hidden_valley": 250}


def real_event_counts(target: str | Path) -> np.ndarray | None:
    """For a zoo model, generated events (background and signals, from the sample cache) as network
    input counts, scaled exactly as the firmware scales them; None for other targets."""
    import tempfile

    from codesign.data import GenerationRequest, generate, read_view
    from codesign.zoo import zoo_names
    from codesign.zoo.loading import load_model

    if str(target) not in zoo_names():
        return None
    model = load_model(target)
    scaling, view = model.chain.scaling, model.card.data["inputs"]["view"]
    with tempfile.TemporaryDirectory() as tmp:
        raw = [read_view(generate(GenerationRequest(p, n, seed=7), Path(tmp) / f"{p}.root", progress=False)[0], view)
               for p, n in REAL_EVENTS.items()]
    counts = scaling.apply(scaling.raw_format.quantize(np.concatenate(raw)), model.graph.input_format)
    return counts.astype(np.int64)


def _design(graph: Graph, rtl_dir: Path, latency: int, ii: int, folder: Path) -> Design:
    from da4ml.cmvm.types import Pipeline

    from codesign.rtl.generate import port_fields, module_name

    pipeline = Pipeline.load(rtl_dir / "model" / "pipeline.json")
    module = module_name(graph.name)
    return Design(graph.name, graph, module, rtl_sources(rtl_dir / "src"), int(latency), int(ii),
                  port_fields(pipeline.inp_qint, graph.input_format), port_fields(pipeline.out_qint, graph.output_format), folder)


def graph_from_json(text: str) -> Graph:
    """The inverse of `Graph.to_json` (the project's graph.json)."""
    data = json.loads(text)
    ops = []
    for op in data["ops"]:
        if op["type"] in ("Dense", "Scale"):
            kind = Dense if op["type"] == "Dense" else Scale
            ops.append(kind(op["name"], np.array(op["weight"], np.int64), FixedFormat(**op["weight_format"]),
                            np.array(op["bias"], np.int64), FixedFormat(**op["bias_format"])))
        elif op["type"] == "Quantize":
            ops.append(Quantize(op["name"], FixedFormat(**op["output_format"]), op["relu"]))
        else:
            ops.append(Reshape(op["name"], tuple(op["shape"])))
    return Graph(data["name"], tuple(data["input_shape"]), FixedFormat(**data["input_format"]), ops)


def _marker(want_words: list[int]) -> tuple[int, int]:
    """Indices of a background vector and of a marker vector whose outputs differ."""
    for j, word in enumerate(want_words):
        if word != want_words[0]:
            return 0, j
    raise CodesignError("every vector gives the same output: the latency cannot be measured (is the model constant?)")


def _save_mismatches(out_dir: Path, idx: np.ndarray, graph: Graph, x_counts, in_words, want, want_words, got,
                     got_words) -> None:
    """The first mismatching vectors: .npz (inputs and outputs as counts) and a hex file of port words."""
    with atomic_path(out_dir / MISMATCH_NPZ) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, index=idx, inputs=graph.input_format.to_float(x_counts[idx]), input_counts=x_counts[idx], expected_counts=want[idx], rtl_counts=got[idx])
    _write_hex(out_dir / MISMATCH_HEX, idx, in_words, want_words, got_words)


def _write_hex(path: Path, idx, in_words, want_words, got_words) -> None:
    """One line per vector: index, model_inp word, expected and simulated model_out words (hex)."""
    lines = ["# index model_inp expected_model_out simulated_model_out (hex; X = unknown)"]
    lines += [f"{j} {in_words[j]:x} {want_words[j]:x} {'X' if got_words[j] is None else f'{got_words[j]:x}'}" for j in idx]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
