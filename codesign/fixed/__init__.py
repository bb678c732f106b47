"""The fixed-point graph: formats, lowering from QKeras, and the bit-exact emulator."""

from codesign.fixed.emulator import emulate, emulate_ints
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Dense, Graph, Quantize, Reshape, Scale
from codesign.fixed.lower import lower_keras

__all__ = ["Dense", "FixedFormat", "Graph", "Quantize", "Reshape", "Scale", "emulate", "emulate_ints", "lower_keras"]
