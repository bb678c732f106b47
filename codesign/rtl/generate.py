"""Pipelining the traced logic for a clock and writing it as Verilog (or VHDL) with da4ml's code generator.

The top module `<name>` (file `src/<name>.v`) has ports `clk`, `model_inp` and `model_out`.  Every
stage is registered at its input and the result at the output: `model_out` holds the result
`latency_cycles` rising edges after the edge that samples `model_inp`, and a new input is accepted
every cycle (II = 1).  The flat port words pack the graph's tensors in row-major order, element by
element from bit 0; each element is a `Field` of its own width (da4ml drops bits that are constant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import floor
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
from codesign.rtl.trace import run_logic, trace_graph

#: Assumed delay of one adder level (LUT + carry chain + local routing) on a -2 UltraScale+ part, in
#: ns: converts a clock period into da4ml's latency cutoff (adder levels per stage).  Not yet checked
#: against Vivado timing; da4ml's own command line pairs 5 levels with a 5 ns clock (1 ns per level).
ADDER_DELAY_NS = 0.75
#: The default part for the Vivado build script: the VU9P of the CMS Global Trigger.
DEFAULT_PART = "xcvu9p-flga2104-2L-e"
FLAVORS = {"verilog": "v", "vhdl": "vhd"}


@dataclass(frozen=True)
class Field:
    """One tensor element inside a flat port word: ``count = signed_or_unsigned(bits) << shift``."""

    offset: int  # position of the element's LSB in the word
    width: int  # 0 for an element that is the constant 0
    signed: bool
    shift: int  # from the element's LSB to the graph format's LSB


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
    input_fields: tuple[Field, ...]
    output_fields: tuple[Field, ...]
    input_format: FixedFormat
    output_format: FixedFormat
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    cost: dict  # da4ml's estimate, with its source and version
    pipeline: Pipeline = field(repr=False)
    graph: Graph = field(repr=False)

    def pack_inputs(self, x_ints: np.ndarray) -> list[int]:
        """One `model_inp` word (a Python int) per event, from counts of the input format."""
        return pack_fields(self.input_fields, np.asarray(x_ints, dtype=np.int64).reshape(len(x_ints), -1))

    def unpack_outputs(self, words: list[int]) -> np.ndarray:
        """Counts of the output format, shaped (events, *output_shape), from `model_out` words."""
        return unpack_fields(self.output_fields, words).reshape(len(words), *self.output_shape)

    def predict_ints(self, x_ints: np.ndarray) -> np.ndarray:
        """The pipeline, stage by stage, in the exact interpreter (`codesign.rtl.interpret`): counts to counts."""
        return run_logic(self.pipeline, self.graph, x_ints)


def latency_cutoff(clock_mhz: float, adder_delay_ns: float = ADDER_DELAY_NS) -> int:
    """Adder levels that fit in one clock period (at least one)."""
    if not clock_mhz > 0 or not adder_delay_ns > 0:
        raise CodesignError(f"clock ({clock_mhz} MHz) and adder delay ({adder_delay_ns} ns) must be positive")
    return max(1, floor(1e3 / clock_mhz / adder_delay_ns))


def write_rtl(graph: Graph, out_dir: Path, clock_mhz: float = 40.0, flavor: str = "verilog",
              part: str = DEFAULT_PART, adder_delay_ns: float = ADDER_DELAY_NS) -> RTLProject:
    """Trace `graph`, pipeline it for `clock_mhz` and write the da4ml RTL project into `out_dir` (atomically)."""
    if flavor not in FLAVORS:
        raise CodesignError(f"unknown RTL flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")
    cutoff = latency_cutoff(clock_mhz, adder_delay_ns)
    comb = trace_graph(graph)
    # retiming balances the stages (the smallest cutoff giving as many stages); one stage needs none
    pipeline = to_pipeline(comb, cutoff, retiming=comb.latency[1] > cutoff, verbose=False)
    module = module_name(graph.name)
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        model = RTLModel(pipeline, module, tmp, flavor=flavor, clock_period=1e3 / clock_mhz, part_name=part)
        model.write()
    in_fields = port_fields(pipeline.inp_qint, graph.input_format)
    out_fields = port_fields(pipeline.out_qint, graph.output_format)
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
        ports={"clk": 1, "model_inp": sum(f.width for f in in_fields), "model_out": sum(f.width for f in out_fields)},
        input_fields=in_fields,
        output_fields=out_fields,
        input_format=graph.input_format,
        output_format=graph.output_format,
        input_shape=tuple(graph.input_shape),
        output_shape=tuple(graph.output_shape),
        cost=_cost(pipeline),
        pipeline=pipeline,
        graph=graph,
    )


def module_name(name: str) -> str:
    from codesign.identifiers import verilog_module

    return verilog_module(name)


def port_fields(qints: list[QInterval], fmt: FixedFormat) -> tuple[Field, ...]:
    """The packing of da4ml's heterogeneous port: each element in its minimal (k, i, f), back to back."""
    fields, offset = [], 0
    for qint in qints:
        k, i, f = _minimal_kif(qint)
        width = int(k) + i + f
        fields.append(Field(offset, width, bool(k), fmt.frac - f if width else 0))
        offset += width
    return tuple(fields)


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
