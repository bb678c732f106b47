"""The fixed-point graph: formats, lowering from QKeras, and the bit-exact emulator."""

from codesign.fixed.emulator import emulate, emulate_ints
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Conv2D, Dense, Graph, Pool2D, Quantize, Reshape, Scale, Upsample2D, Window
from codesign.fixed.lower import lower_keras

__all__ = ["Conv2D", "Dense", "Pool2D", "Upsample2D", "Window", "FixedFormat", "Graph", "Quantize", "Reshape", "Scale", "emulate", "emulate_ints", "lower_keras"]
