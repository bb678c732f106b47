"""Resource estimates: the part table and Yosys synthesis (fast word-level pricing or full synth_xilinx)."""

from codesign.estimate.parts import Part, get_part, parts
from codesign.estimate.tool import find_yosys
from codesign.estimate.yosys import DEFAULT_FLOW, FLOWS, SynthResult, synthesize

__all__ = ["DEFAULT_FLOW", "FLOWS", "Part", "SynthResult", "find_yosys", "get_part", "parts", "synthesize"]
