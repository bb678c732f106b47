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
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Scale, Upsample2D, Window
from codesign.fixed.trigger import TriggerChain
from codesign.verify.runner import SIMULATORS, rtl_sources, simulate
from codesign.verify.vectors import raw_edge_vectors, trigger_counts

N_SAVED = 100
MISMATCH_NPZ, MISMATCH_HEX, GOLDEN_HEX = "verify_mismatches.npz", "verify_mismatches.hex", "verify_vectors.hex"
#: A synth project's trigger chain around graph.json (written by `codesign.synth`).
TRIGGER_FILE = "trigger.json"


@dataclass
class Design:
    """The RTL under test and what the testbench needs to know about its ports."""

    name: str
    graph: Graph
    chain: TriggerChain | None  # set when the RTL is the whole trigger (raw inputs -> network, score, bits)
    module: str
    sources: list[Path]
    latency_cycles: int  # from the report (or write_rtl), to be confirmed in simulation
    ii: int
    input_groups: tuple
    output_groups: tuple
    folder: Path  # where verify.json goes

    @property
    def input_fields(self) -> tuple:
        return tuple(f for g in self.input_groups for f in g.fields)

    @property
    def output_fields(self) -> tuple:
        return tuple(f for g in self.output_groups for f in g.fields)

    @property
    def input_format(self) -> FixedFormat:
        return self.input_groups[0].format

    def vectors(self, target: str | Path, n: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Input counts (flat) and the emulator's expected counts per output group: edge cases, random
        vectors and, for zoo models, generated events.  A trigger gets raw hardware-unit inputs
        (saturating values, rounding ties, scores on each threshold and one LSB either side)."""
        from codesign.hls.compare import edge_case_vectors

        rng = np.random.default_rng(seed)
        if self.chain is not None:
            counts = self.input_format.quantize(raw_edge_vectors(self.chain, n, rng)).astype(np.int64)
        else:
            x = edge_case_vectors(self.graph, n, rng)
            counts = self.input_format.quantize(x).astype(np.int64).reshape(len(x), -1)
        real = real_event_counts(target, raw=self.chain is not None)
        if real is not None and real.shape[1] == counts.shape[1]:
            counts = np.concatenate([counts, real])
        if self.chain is not None:
            return counts, trigger_counts(self.chain, counts)
        out = emulate_ints(self.graph, counts.reshape(len(counts), *self.graph.input_shape))
        return counts, {"network": out.reshape(len(counts), -1)}


def verify(target: str | Path, vectors: int = 10_000, simulator: str = "verilator", project: Path | None = None,
           seed: int = 0, clock_mhz: float = 40.0, golden: bool = False, progress=print) -> dict:
    """Simulate the RTL of `target` (a synth project folder, zoo name or .h5) and compare it with the emulator.

    A model's RTL is written with `write_rtl` at `clock_mhz` into the cache (reused on the next run).
    `project`: where `verify.json` (and mismatch files) go; default the project or cached RTL folder.
    `golden`: also write every vector, once it passed, as `verify_vectors.hex` (the mismatch file's format).
    """
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
    x_counts, want_groups = design.vectors(target, vectors, seed)
    n = len(x_counts)
    want = np.column_stack([np.asarray(want_groups[g.name]).reshape(n, -1) for g in design.output_groups]).astype(np.int64)
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
    bad_groups = _differing_groups(design, want, got, differ)
    report = {
        "model": design.name, "module": design.module, "covers": "trigger" if design.chain is not None else "network",
        "vectors": n, "mismatches": int(len(differ)), "mismatches_by_output": bad_groups,
        "first_mismatches": differ[:10].tolist(), "simulator": run.simulator, "simulator_version": run.simulator_version,
        "latency_cycles_observed": observed, "latency_cycles_report": design.latency_cycles, "ii": design.ii,
        "build_s": run.build_s, "cached_build": run.cached_build, "run_s": run.run_s, "sim_loop_s": res["loop_s"],
        "vectors_per_s": round(n / max(res["loop_s"], 1e-9)), "seed": seed,
    }
    ok = not len(differ) and observed == design.latency_cycles
    with _writing(out_dir, replace=project is not None) as folder:
        if len(differ):
            _save_mismatches(folder, differ[:N_SAVED], design, x_counts, in_words, want, want_words, got, got_words)
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
        where = f" (outputs: {', '.join(f'{k} {v}' for k, v in bad_groups.items())})" if bad_groups else ""
        raise CodesignError(
            f"RTL simulation of {design.name} does not match: {len(differ)} of {n} vectors differ{where}, latency "
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
    """A synth project's RTL (folder with report.json, graph.json, rtl/), or RTL written for a model (cached):
    the whole trigger for a zoo model, the network for a model file."""
    path = Path(target)
    if path.is_dir() and (path / "report.json").is_file():
        for need in ("graph.json", "rtl/model/pipeline.json", "rtl/src"):
            if not (path / need).exists():
                raise CodesignError(f"{path} is not a complete synth project (no {need}); rerun `codesign synth`")
        try:
            report = json.loads((path / "report.json").read_text())
            graph = graph_from_json((path / "graph.json").read_text())
            chain = None
            if (path / TRIGGER_FILE).is_file():
                chain = TriggerChain.from_dict(json.loads((path / TRIGGER_FILE).read_text()), graph)
            return _design(graph, chain, path / "rtl", int(report["latency_cycles"]), int(report["ii"]), path)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as err:
            raise CodesignError(f"{path} holds a damaged report.json, graph.json, {TRIGGER_FILE} or rtl/ "
                                f"({one_line(err)}); rerun `codesign synth`") from None
    if path.is_dir():
        raise CodesignError(f"{path} is neither a synth project (no report.json) nor a model file")
    from codesign.zoo.loading import load_model

    model = load_model(target)
    graph, chain = model.graph, model.chain
    key = {"graph": graph.to_json(), "clock_mhz": clock_mhz, "trigger": chain.to_dict() if chain else None}
    folder = cache_dir("verify") / f"{graph.name}-{cache_key(key)}"
    if not (folder / "rtl.json").is_file():  # written last: rtl/ (atomic) is complete when it exists
        from codesign.rtl import write_rtl, write_trigger_rtl

        folder.mkdir(parents=True, exist_ok=True)
        if chain is None:
            rtl = write_rtl(graph, folder / "rtl", clock_mhz=clock_mhz)
        else:
            rtl = write_trigger_rtl(chain, folder / "rtl", clock_mhz=clock_mhz)
        with atomic_path(folder / "rtl.json") as tmp:
            tmp.write_text(json.dumps({"latency_cycles": rtl.latency_cycles, "ii": rtl.ii}))
    meta = json.loads((folder / "rtl.json").read_text())
    return _design(graph, chain, folder / "rtl", meta["latency_cycles"], meta["ii"], folder)


REAL_EVENTS = {"zerobias": 500, "zprime_ee": 125, "zprime_mumu": 125, "hidden_valley": 250}
#: Pileup interactions per pool tier of these events (`zerobias.pool_tier_sizes`: 600, 600 and 1,500), the least
#: that pileup 60 allows: four 1,000-event Pythia chunks in all, as many as a pool of 990 took before the 15-30 GeV
#: tier grew; the vectors test bits, not rates.
REAL_EVENTS_POOL = 600


def real_event_counts(target: str | Path, raw: bool = False) -> np.ndarray | None:
    """For a zoo model, generated events (background and signals, from the sample cache) as counts: of the
    raw hardware format when `raw`, else network input counts scaled exactly as the firmware scales them;
    None for other targets."""
    import tempfile

    from codesign.data import GenerationRequest, generate, read_view
    from codesign.zoo import zoo_names
    from codesign.zoo.loading import load_model

    if str(target) not in zoo_names():
        return None
    model = load_model(target)
    scaling, view = model.chain.scaling, model.card.data["inputs"]["view"]
    with tempfile.TemporaryDirectory() as tmp:
        requests = [GenerationRequest(p, n, seed=7, pool_events=REAL_EVENTS_POOL, pf=False) for p, n in REAL_EVENTS.items()]
        events = [read_view(generate(r, Path(tmp) / f"{r.process}.root", progress=False)[0], view) for r in requests]
    counts = scaling.raw_format.quantize(np.concatenate(events))
    if not raw:
        counts = scaling.apply(counts, model.graph.input_format)
    return counts.astype(np.int64)


def _design(graph: Graph, chain: TriggerChain | None, rtl_dir: Path, latency: int, ii: int, folder: Path) -> Design:
    from da4ml.cmvm.types import Pipeline

    from codesign.rtl.generate import module_name, network_groups, port_groups, trigger_groups

    pipeline = Pipeline.load(rtl_dir / "model" / "pipeline.json")
    inputs, outputs = trigger_groups(chain) if chain is not None else network_groups(graph)
    return Design(graph.name, graph, chain, module_name(graph.name), rtl_sources(rtl_dir / "src"), int(latency),
                  int(ii), port_groups("model_inp", pipeline.inp_qint, inputs),
                  port_groups("model_out", pipeline.out_qint, outputs), folder)


def _differing_groups(design: Design, want: np.ndarray, got: np.ndarray, rows: np.ndarray) -> dict[str, int]:
    """Per output group (network, score, wp_<name>), how many of the differing vectors differ in it."""
    result, start = {}, 0
    for g in design.output_groups:
        stop = start + len(g.fields)
        count = int((want[rows, start:stop] != got[rows, start:stop]).any(axis=1).sum()) if len(rows) else 0
        if count:
            result[g.name] = count
        start = stop
    return result


def graph_from_json(text: str) -> Graph:
    """The inverse of `Graph.to_json` (the project's graph.json)."""
    data = json.loads(text)
    ops = []
    for op in data["ops"]:
        if op["type"] in ("Dense", "Scale", "Conv2D"):
            kind = {"Dense": Dense, "Scale": Scale, "Conv2D": Conv2D}[op["type"]]
            extra = {"strides": tuple(op["strides"]), "padding": op["padding"]} if kind is Conv2D else {}
            extra |= {key: FixedFormat(**op[key]) for key in ("accum", "result") if key in op}
            ops.append(kind(op["name"], np.array(op["weight"], np.int64), FixedFormat(**op["weight_format"]),
                            np.array(op["bias"], np.int64), FixedFormat(**op["bias_format"]), **extra))
        elif op["type"] == "Quantize":
            ops.append(Quantize(op["name"], FixedFormat(**op["output_format"]), op["relu"]))
        elif op["type"] == "Pool2D":
            ops.append(Pool2D(op["name"], op["kind"], Window(tuple(op["size"]), tuple(op["strides"]), op["padding"])))
        elif op["type"] == "Upsample2D":
            ops.append(Upsample2D(op["name"], tuple(op["factor"])))
        else:
            ops.append(Reshape(op["name"], tuple(op["shape"])))
    return Graph(data["name"], tuple(data["input_shape"]), FixedFormat(**data["input_format"]), ops)


def _marker(want_words: list[int]) -> tuple[int, int]:
    """Indices of a background vector and of a marker vector whose outputs differ."""
    for j, word in enumerate(want_words):
        if word != want_words[0]:
            return 0, j
    raise CodesignError("every vector gives the same output: the latency cannot be measured (is the model constant?)")


def _save_mismatches(out_dir: Path, idx: np.ndarray, design: Design, x_counts, in_words, want, want_words, got,
                     got_words) -> None:
    """The first mismatching vectors: .npz (inputs and outputs as counts) and a hex file of port words."""
    with atomic_path(out_dir / MISMATCH_NPZ) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, index=idx, inputs=design.input_format.to_float(x_counts[idx]), input_counts=x_counts[idx], expected_counts=want[idx], rtl_counts=got[idx])
    _write_hex(out_dir / MISMATCH_HEX, idx, in_words, want_words, got_words)


def _write_hex(path: Path, idx, in_words, want_words, got_words) -> None:
    """One line per vector: index, model_inp word, expected and simulated model_out words (hex)."""
    lines = ["# index model_inp expected_model_out simulated_model_out (hex; X = unknown)"]
    lines += [f"{j} {in_words[j]:x} {want_words[j]:x} {'X' if got_words[j] is None else f'{got_words[j]:x}'}" for j in idx]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
