"""Price a word-level Yosys JSON netlist (after `proc; flatten; opt; wreduce; memory_collect`) in Xilinx primitives.

The rules follow how `synth_xilinx` maps each cell, per output bit:
- `$add`/`$sub`: one LUT for each bit where both operands are variables (a LUT2 in front of the carry chain);
  bits where one operand is constant need no LUT. Carry cells: CARRY4 over the bits above the low bits that
  pass straight through (Yosys uses CARRY4 on UltraScale+ too).
- `$neg`, `$not`, `$pos`: no LUT (inverters fold into LUTs or the carry chain); `$neg` uses a carry chain.
- `$and`/`$or`/`$xor`/`$xnor`/`$mux`: one LUT per output bit (an upper bound: Yosys/ABC may pack several into one).
- `$mul`: DSP48 slices, split like Yosys' `mul2dsp` (27x18 on UltraScale(+), 25x18 on 7-series); products
  under 9 bits use about one LUT per partial-product bit.
- read-only memories: one LUT6 per 64 words per output bit per read port.
- flip-flops and latches: one FF per bit.
Other cell types are counted in `unpriced`, so callers can tell the estimate is incomplete.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_FREE = {"$not", "$pos", "$scopeinfo"}
_BITWISE = {"$and", "$or", "$xor", "$xnor", "$mux"}
_FF = re.compile(r"\$(a|s|al)?dff\w*|\$a?dlatch\w*")
_LUT_INPUTS = 6
_CARRY_BITS = 4


@dataclass
class WordLevelCost:
    """Estimated primitives of a word-level netlist."""

    lut: int = 0
    ff: int = 0
    dsp: int = 0
    carry: int = 0
    cells: Counter = field(default_factory=Counter)
    unpriced: Counter = field(default_factory=Counter)


def _param(cell: dict[str, Any], name: str) -> int:
    value = cell["parameters"].get(name, 0)
    return int(value, 2) if isinstance(value, str) else int(value)


def _variable(bits: list, width: int, signed: bool) -> list[bool]:
    """Which bits of an operand, extended to `width`, are driven by a net rather than a constant."""
    var = [not isinstance(b, str) for b in bits][:width]
    pad = var[-1] if signed and var else False
    return var + [pad] * (width - len(var))


def _adder(cell: dict[str, Any]) -> tuple[int, int]:
    """(LUTs, CARRY4s) of an `$add`/`$sub`/`$neg` cell."""
    conn = cell["connections"]
    width = len(conn["Y"])
    a = _variable(conn["A"], width, bool(_param(cell, "A_SIGNED")))
    if cell["type"] == "$neg":
        b, a = a, [False] * width
    else:
        b = _variable(conn["B"], width, bool(_param(cell, "B_SIGNED")))
    luts = sum(x and y for x, y in zip(a, b))
    # low bits pass through: x + 0, 0 + y and x - 0 need neither LUT nor carry
    subtract = cell["type"] != "$add"
    through = next((i for i in range(width) if b[i] and (a[i] or subtract)), width)
    return luts, math.ceil((width - through) / _CARRY_BITS)


def _multiplier(cell: dict[str, Any], family: str) -> tuple[int, int]:
    """(LUTs, DSPs) of a `$mul` cell."""
    a_width, b_width = sorted((_param(cell, "A_WIDTH"), _param(cell, "B_WIDTH")), reverse=True)
    if len(cell["connections"]["Y"]) < 9 or b_width < 2:
        return a_width * b_width, 0
    a_max = 25 if family == "xc7" else 27
    return 0, math.ceil(a_width / a_max) * math.ceil(b_width / 18)


def _rom_luts(cell: dict[str, Any]) -> int | None:
    """LUTs of a read-only memory, None for a writable one."""
    if _param(cell, "WR_PORTS"):
        return None
    words = _param(cell, "SIZE")
    return _param(cell, "WIDTH") * math.ceil(words / 2**_LUT_INPUTS) * _param(cell, "RD_PORTS")


def price(netlist: dict[str, Any], top: str, family: str) -> WordLevelCost:
    """Estimated LUT, FF, DSP and CARRY4 counts of module `top` in a `write_json` netlist."""
    cost = WordLevelCost()
    for cell in netlist["modules"][top]["cells"].values():
        kind = cell["type"]
        cost.cells[kind] += 1
        if kind in _FREE:
            continue
        if kind in ("$add", "$sub", "$neg"):
            luts, carry = _adder(cell)
            cost.lut += luts
            cost.carry += carry
        elif kind in _BITWISE:
            cost.lut += len(cell["connections"]["Y"])
        elif _FF.fullmatch(kind):
            cost.ff += len(cell["connections"]["Q"])
        elif kind == "$mul":
            luts, dsp = _multiplier(cell, family)
            cost.lut += luts
            cost.dsp += dsp
        elif kind in ("$mem", "$mem_v2") and (luts := _rom_luts(cell)) is not None:
            cost.lut += luts
        else:
            cost.unpriced[kind] += 1
    return cost
