"""Pipelining the traced logic for a clock and writing it as Verilog (or VHDL) with da4ml's code generator.

The top module `<name>` (file `src/<name>.v`) has ports `clk`, `model_inp` and `model_out`.  Every
stage is registered at its input and the result at the output: `model_out` holds the result
`latency_cycles` rising edges after the edge that samples `model_inp`, and a new input is accepted
every cycle (II = 1).  The flat port words pack named groups (`PortGroup`) one after the other from bit
0, each a tensor in row-major order, element by element; each element is a `Field` of its own width (da4ml
drops bits that are constant).  A network design (`write_rtl`) has `network_inputs` in and `network` out; the
whole trigger (`write_trigger_rtl`) has `raw_inputs` in and `network`, `score`, `wp_<name>`... out.  A
*combinational* design (``combinational=True``) is one stage: no register inside the logic, the inputs and the
result registered at the ports (latency 1 cycle), traced for the least depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil
from pathlib import Path

import da4ml
import numpy as np
from da4ml.cmvm.types import CombLogic, Pipeline, QInterval, _minimal_kif
from da4ml.codegen import RTLModel
from da4ml.trace import to_pipeline

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Graph
from codesign.fixed.trigger import TriggerChain
from codesign.rtl.interpret import run_pipeline
from codesign.rtl.trace import DELAY_CONSTRAINT, run_logic, trace_graph

#: The default part for the Vivado build script: the VU9P of the CMS Global Trigger.
DEFAULT_PART = "xcvu9p-flga2104-2L-e"
FLAVORS = {"verilog": "v", "vhdl": "vhd"}
#: Adder levels the CMVM solver may add per Dense to save adders in a combinational design: none.
COMBINATIONAL_DELAY_CONSTRAINT = 0


@dataclass(frozen=True)
class Field:
    """One tensor element inside a flat port word: ``count = signed_or_unsigned(bits) << shift``."""

    offset: int  # position of the element's LSB in the word
    width: int  # 0 for an element that is the constant 0
    signed: bool
    shift: int  # from the element's LSB to the graph format's LSB


@dataclass(frozen=True)
class PortGroup:
    """A named run of elements inside one port word, all of one format (e.g. the score in `model_out`)."""

    name: str
    port: str  # model_inp or model_out
    format: FixedFormat
    fields: tuple[Field, ...]

    @property
    def lsb(self) -> int:
        return self.fields[0].offset

    @property
    def width(self) -> int:
        return sum(f.width for f in self.fields)

    def to_dict(self) -> dict:
        """The port map entry: bits ``[lsb + width - 1 : lsb]`` of `port`, element by element from the LSB."""
        return {"name": self.name, "port": self.port, "lsb": self.lsb, "msb": self.lsb + self.width - 1,
                "elements": len(self.fields), "format": self.format.hls(),
                "element_bits": [[f.offset, f.width, f.signed, f.shift] for f in self.fields]}


@dataclass
class RTLProject:
    """A written RTL project: where the top module is, how its ports carry the graph, and what it costs."""

    path: Path
    module: str
    top_file: Path
    flavor: str
    clock_mhz: float
    latency_cutoff: int  # adder levels allowed per stage
    latency_cycles: int
    ii: int
    stage_depths: tuple[int, ...]  # adder levels in each stage
    ports: dict[str, int]  # name -> width in bits
    input_groups: tuple[PortGroup, ...]
    output_groups: tuple[PortGroup, ...]
    covers: str  # what the design computes ("network" or "trigger": scaling, network, score, working points)
    input_format: FixedFormat
    output_format: FixedFormat
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    cost: dict  # da4ml's estimate, with its source and version
    pipeline: Pipeline = field(repr=False)
    graph: Graph = field(repr=False)

    @property
    def input_fields(self) -> tuple[Field, ...]:
        return tuple(f for g in self.input_groups for f in g.fields)

    @property
    def output_fields(self) -> tuple[Field, ...]:
        return tuple(f for g in self.output_groups for f in g.fields)

    def port_map(self) -> list[dict]:
        """Every group of both ports (name, port, bit range, format, per-element bits), inputs first."""
        return [g.to_dict() for g in (*self.input_groups, *self.output_groups)]

    def predict_counts(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """Flat input counts (N, n_in) through the pipeline in the exact interpreter: counts per output group."""
        return run_groups(self.pipeline, self.input_groups, self.output_groups, counts)

    def pack_inputs(self, x_ints: np.ndarray) -> list[int]:
        """One `model_inp` word (a Python int) per event, from counts of the input format."""
        return pack_fields(self.input_fields, np.asarray(x_ints, dtype=np.int64).reshape(len(x_ints), -1))

    def unpack_outputs(self, words: list[int]) -> np.ndarray:
        """Counts of the output format, shaped (events, *output_shape), from `model_out` words."""
        return unpack_fields(self.output_fields, words).reshape(len(words), *self.output_shape)

    def predict_ints(self, x_ints: np.ndarray) -> np.ndarray:
        """The pipeline, stage by stage, in the exact interpreter (`codesign.rtl.interpret`): counts to counts."""
        return run_logic(self.pipeline, self.graph, x_ints)


def latency_cutoff(clock_mhz: float, part: str = DEFAULT_PART) -> int:
    """Adder levels per pipeline stage at `clock_mhz` on `part`, from the one delay model (`estimate.timing`)."""
    from codesign.estimate.timing import delay_model, levels_per_stage

    return levels_per_stage(clock_mhz, delay_model(part))


def write_rtl(graph: Graph, out_dir: Path, clock_mhz: float = 40.0, flavor: str = "verilog",
              part: str = DEFAULT_PART, combinational: bool = False) -> RTLProject:
    """Trace `graph`, pipeline it for `clock_mhz` (or, `combinational`, one stage) and write the da4ml RTL project
    into `out_dir` (atomically)."""
    comb = trace_graph(graph, _delay_constraint(combinational))
    return _write(comb, graph, "network", *network_groups(graph), out_dir, clock_mhz, flavor, part, combinational)


def write_trigger_rtl(chain: TriggerChain, out_dir: Path, clock_mhz: float = 40.0, flavor: str = "verilog",
                      part: str = DEFAULT_PART, combinational: bool = False) -> RTLProject:
    """The whole trigger (`trigger.trace_trigger`): raw inputs in, network outputs, score and one bit per
    working point out, pipelined for `clock_mhz` (or, `combinational`, one stage) and written into `out_dir`
    (atomically)."""
    from codesign.rtl.trigger import LOOKUP_BITS, trace_trigger

    comb = trace_trigger(chain, _delay_constraint(combinational), LOOKUP_BITS if combinational else 0)
    return _write(comb, chain.graph, "trigger", *trigger_groups(chain), out_dir, clock_mhz, flavor, part, combinational)


def _delay_constraint(combinational: bool) -> int:
    """A combinational design is one register-to-register path: the CMVM solver adds no levels to save adders."""
    return COMBINATIONAL_DELAY_CONSTRAINT if combinational else DELAY_CONSTRAINT


def network_groups(graph: Graph) -> tuple[list, list]:
    """(input, output) groups of a network design: (name, format, element count)."""
    n_in, n_out = int(np.prod(graph.input_shape)), int(np.prod(graph.output_shape))
    return [("network_inputs", graph.input_format, n_in)], [("network", graph.output_format, n_out)]


def trigger_groups(chain: TriggerChain) -> tuple[list, list]:
    """(input, output) groups of a trigger design: raw inputs; network outputs, score, one bit per working point."""
    graph, bit = chain.graph, FixedFormat(1, 1, False)
    n_in, n_out = int(np.prod(graph.input_shape)), int(np.prod(graph.output_shape))
    outputs = [("network", graph.output_format, n_out), ("score", chain.score.format, 1),
               *[(f"wp_{name}", bit, 1) for name in chain.thresholds]]
    return [("raw_inputs", chain.scaling.raw_format, n_in)], outputs


def _write(comb: CombLogic, graph: Graph, covers: str, inputs: list, outputs: list, out_dir: Path,
           clock_mhz: float, flavor: str, part: str, combinational: bool = False) -> RTLProject:
    module = module_name(graph.name)
    if flavor not in FLAVORS:
        raise CodesignError(f"unknown RTL flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")
    # combinational: the whole logic in one stage (registers only at the ports, none inside)
    cutoff = max(1, ceil(comb.latency[1])) if combinational else latency_cutoff(clock_mhz, part)
    pipeline = balanced_pipeline(comb, cutoff)
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        model = RTLModel(pipeline, module, tmp, flavor=flavor, clock_period=1e3 / clock_mhz, part_name=part)
        model.write()
    in_groups = port_groups("model_inp", pipeline.inp_qint, inputs)
    out_groups = port_groups("model_out", pipeline.out_qint, outputs)
    return RTLProject(
        path=out_dir,
        module=module,
        top_file=out_dir / "src" / f"{module}.{FLAVORS[flavor]}",
        flavor=flavor,
        clock_mhz=clock_mhz,
        latency_cutoff=cutoff,
        latency_cycles=len(pipeline.solutions),
        ii=1,
        stage_depths=tuple(_depth(stage) for stage in pipeline.solutions),
        ports={"clk": 1, "model_inp": sum(g.width for g in in_groups), "model_out": sum(g.width for g in out_groups)},
        input_groups=in_groups,
        output_groups=out_groups,
        covers=covers,
        input_format=inputs[0][1],
        output_format=graph.output_format,
        input_shape=tuple(graph.input_shape),
        output_shape=tuple(graph.output_shape),
        cost=_cost(pipeline),
        pipeline=pipeline,
        graph=graph,
    )


def balanced_pipeline(comb: CombLogic, cutoff: int) -> Pipeline:
    """Stages of at most `cutoff` adder levels, balanced: the smallest cutoff giving as many stages.

    da4ml's own retiming does the same search but re-traces the logic with its latency model, which loses
    the latencies set at trace time (a product with a one-bit operand is priced as a multi-bit multiplier)."""
    pipeline = to_pipeline(comb, cutoff, retiming=False, verbose=False)
    stages = len(pipeline.solutions)
    for smaller in range(ceil(comb.latency[1] / stages), cutoff):
        candidate = to_pipeline(comb, smaller, retiming=False, verbose=False)
        if len(candidate.solutions) == stages:
            return candidate
    return pipeline


def module_name(name: str) -> str:
    from codesign.identifiers import verilog_module

    return verilog_module(name)


def port_fields(qints: list[QInterval], fmt: FixedFormat, start: int = 0) -> tuple[Field, ...]:
    """The packing of da4ml's heterogeneous port: each element in its minimal (k, i, f), back to back."""
    fields, offset = [], start
    for qint in qints:
        k, i, f = _minimal_kif(qint)
        width = int(k) + i + f
        fields.append(Field(offset, width, bool(k), fmt.frac - f if width else 0))
        offset += width
    return tuple(fields)


def port_groups(port: str, qints: list[QInterval], groups: list[tuple[str, FixedFormat, int]]) -> tuple[PortGroup, ...]:
    """Consecutive elements of a port split into named groups of (name, format, element count)."""
    result, index, offset = [], 0, 0
    for name, fmt, count in groups:
        fields = port_fields(qints[index:index + count], fmt, offset)
        result.append(PortGroup(name, port, fmt, fields))
        index += count
        offset = fields[-1].offset + fields[-1].width if fields else offset
    if index != len(qints):
        raise AssertionError(f"{port}: {len(qints)} elements, groups describe {index}")
    return tuple(result)


def run_groups(pipeline: Pipeline, inputs: tuple[PortGroup, ...], outputs: tuple[PortGroup, ...],
               counts: np.ndarray) -> dict[str, np.ndarray]:
    """Input counts (N, n_in) of the input groups' formats through the pipeline: counts per output group."""
    fracs = {g.format.frac for g in inputs}
    if len(fracs) != 1:
        raise AssertionError("input groups of different fractional bits are not supported")
    out_fracs = np.concatenate([[g.format.frac] * len(g.fields) for g in outputs]).astype(np.int64)
    flat = run_pipeline(pipeline, np.asarray(counts), fracs.pop(), out_fracs)
    result, start = {}, 0
    for g in outputs:
        result[g.name] = flat[:, start:start + len(g.fields)]
        start += len(g.fields)
    return result


def _depth(stage: CombLogic) -> int:
    """Adder levels from the stage's registered inputs to its outputs."""
    start = min(op.latency for op in stage.ops if op.opcode == -1)
    return int(max(stage.out_latency) - start)


def _cost(pipeline: Pipeline) -> dict:
    ops = [op for stage in pipeline.solutions for op in stage.ops]
    return {
        "source": "da4ml",
        "version": da4ml.__version__,
        "luts": round(pipeline.cost),  # LUT equivalents: one per adder bit
        "adders": sum(op.opcode in (0, 1, 4) for op in ops),
        "muxes": sum(op.opcode in (6, -6) for op in ops),
        "registers": pipeline.reg_bits,  # flip-flops, including the input and output registers
    }


def pack_fields(fields: tuple[Field, ...], counts: np.ndarray) -> list[int]:
    words = []
    for row in counts.tolist():
        word = 0
        for fld, count in zip(fields, row):
            if fld.width:
                word |= ((count >> fld.shift) & ((1 << fld.width) - 1)) << fld.offset
        words.append(word)
    return words


def unpack_fields(fields: tuple[Field, ...], words: list[int]) -> np.ndarray:
    out = np.zeros((len(words), len(fields)), dtype=np.int64)
    for j, fld in enumerate(fields):
        if not fld.width:
            continue
        for n, word in enumerate(words):
            raw = (int(word) >> fld.offset) & ((1 << fld.width) - 1)
            if fld.signed and raw >> (fld.width - 1):
                raw -= 1 << fld.width
            out[n, j] = raw << fld.shift
    return out
