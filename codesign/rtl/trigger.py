"""The whole trigger traced into one da4ml design: raw hardware inputs -> outputs, bit for bit `TriggerChain`.

* input scaling, per feature: ``x - offset`` (a constant add, exact), a right shift ``>> s`` that floors
  to the raw LSB (the HLS difference type keeps its LSB) or an exact left shift ``<< -s`` (wiring), then
  the cast to the network's input format (`trace.cast`: its rounding and saturation);
* the network (`trace.trace_network`, the same operations as `trace_graph`);
* the score: ``sum_i mu_i^2``, exact, shifted right by the score's shift inside its exact type (floor;
  wiring and dropped bits), then cast to the score format (or, for `Score.kind` ``output``, the single
  network output cast to it).  In a combinational design, a square of a value of at most `LOOKUP_BITS` bits
  is a lookup table of its squares (a ROM in LUTs); otherwise it is shift-and-add:
  ``mu^2 = sum_j bit_j(mu) * (mu << j)`` over the two's-complement bits (the sign bit's term subtracted),
  each term a product with a one-bit operand (an AND per bit), summed in a balanced tree.  No wide
  multiplier, no DSP;
* one comparator bit per working point: ``score > threshold`` (threshold in score LSBs), the sign of
  ``threshold - score``.

Output order: the network outputs (row-major), the score, then the working-point bits in the
chain's order.  A bit that can never fire (threshold above the score's range) is the constant 0.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from da4ml.cmvm.types import CombLogic
from da4ml.trace import FixedVariable, FixedVariableArray, FixedVariableArrayInput, comb_trace

from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.trigger import TriggerChain
from codesign.rtl.trace import DELAY_CONSTRAINT, HW_CONFIG, cast, kif, memoised, trace_network

#: Squares of values of at most this many bits are one lookup table (a ROM of 2**b entries; per output bit a b-input
#: function: for b = 8 one Xilinx slice, four LUT6 with MUXF7 and MUXF8, for b = 9 two slices and a LUT).  da4ml
#: prices a table of b input bits at ``max(b - 6, 1)`` adder levels, 3 for 9 bits, against ``1 + ceil(log2 b)``
#: (5) for shift-and-add; wider values (AXOL1TL's 10-bit mu) keep shift-and-add, whose cost grows with b, not 2**b.
LOOKUP_BITS = 9


def trace_trigger(chain: TriggerChain, delay_constraint: int = DELAY_CONSTRAINT, lookup_bits: int = 0) -> CombLogic:
    """The trigger chain as da4ml combinational logic from flat raw inputs (counts of the raw format); memoised.

    Squares of outputs of at most `lookup_bits` bits are lookup tables (`LOOKUP_BITS` for a combinational design;
    0, none, for a pipelined one: a table is one operation the pipeliner cannot split across registers)."""
    text = chain.graph.to_json() + json.dumps(chain.to_dict(), sort_keys=True) + f"lookup_bits={lookup_bits}"
    key = ("trigger:" + hashlib.sha256(text.encode()).hexdigest(), delay_constraint)
    return memoised(key, lambda: _trace_trigger(chain, delay_constraint, lookup_bits))


def _trace_trigger(chain: TriggerChain, delay_constraint: int, lookup_bits: int) -> CombLogic:
    graph, scaling = chain.graph, chain.scaling
    n_in = int(np.prod(graph.input_shape))
    inputs = FixedVariableArrayInput(n_in, hwconf=HW_CONFIG, solver_options={"hard_dc": delay_constraint})
    raw = inputs.quantize(*kif(scaling.raw_format))
    scaled = [_scale_input(v, int(o), int(s), scaling.raw_format, scaling.difference_format, graph.input_format)
              for v, o, s in zip(raw._vars.ravel(), scaling.offsets, scaling.shifts)]
    x = FixedVariableArray(np.array(scaled, dtype=object).reshape(graph.input_shape), raw.solver_options)
    network = list(trace_network(x, graph).ravel()._vars)
    out_frac = graph.output_format.frac
    if chain.score.kind == "output":
        score = cast(network[0], out_frac, chain.score.format)
    else:
        total, shift = _tree_sum([_square(v, lookup_bits) for v in network]), chain.score.shift
        if shift:  # floor on the grid of the exact sum: ``sum >> shift`` in the HLS sum type
            total = cast(total * 2.0**-shift, 2 * out_frac + shift,
                         chain.score.sum_format(graph.output_format, len(network)))
        score = cast(total, 2 * out_frac, chain.score.format)
    lsb = 2.0 ** -chain.score.format.frac
    bits = [_above(score, threshold * lsb) for threshold in chain.thresholds.values()]
    return comb_trace(inputs, [*network, score, *bits], keep_dead_inputs=True)


def _scale_input(v: FixedVariable, offset: int, shift: int, raw: FixedFormat, difference: FixedFormat,
                 network: FixedFormat) -> FixedVariable:
    """``(network_t)((v - offset) >> shift)`` with the HLS semantics of `InputScaling.apply`."""
    d = v - offset if offset else v
    if shift > 0:  # arithmetic right shift inside the difference type: floor to the raw LSB
        d = (d * 2.0**-shift).quantize(*kif(difference.with_modes()))
        if d.low == d.high:
            return cast(d, raw.frac, network)
    elif shift < 0:
        d = d * 2.0**-shift
    return cast(d, raw.frac, network)


def _square(v: FixedVariable, lookup_bits: int) -> FixedVariable | float:
    """``v * v`` exactly without a wide multiplier: a lookup table of every square when `v` has at most
    `lookup_bits` bits, else shift-and-add: with `v`'s two's-complement bits b_j (weight 2**j, the sign bit
    weighing -2**i), ``v * v = sum_j b_j * (v << j) - b_sign * (v << i)``."""
    if v.low == v.high:
        return float(v.low) ** 2
    if sum(v.kif) <= lookup_bits:
        return _square_table(v)
    _, i, f = v.kif
    terms: list[FixedVariable | float] = []
    for j in range(-f, i + 1):
        minus_bit = (v * 2.0**-j).quantize(1, 0, 0)  # bit j of v (j = i: the sign bit) as a signed bit: 0 or -1
        term = _times_bit(v * 2.0**j, minus_bit)  # -b_j * (v << j)
        terms.append(term if j == i else -term)
    return _tree_sum(terms)


def _square_table(v: FixedVariable) -> FixedVariable:
    """``v * v`` as a da4ml lookup table over every value of `v` (its interval on its grid), in Verilog a ROM
    (`$readmemh`) indexed by the bits of `v`; the squares are exact (at most 2 * LOOKUP_BITS bits)."""
    count = int((v.high - v.low) / v.step) + 1
    values = [v.low + k * v.step for k in range(count)]  # Decimal: exact
    return v.lookup(np.array([float(x * x) for x in values]))


def _times_bit(t: FixedVariable, bit: FixedVariable) -> FixedVariable | float:
    """``t * bit`` for a one-bit signed `bit` (0 or -1): da4ml's variable product, in Verilog a signed `*` with a
    one-bit operand (an AND per bit; Yosys maps it to LUTs, never a DSP).  da4ml prices a product as
    shift-and-add over the wider operand's bits (10 levels for a 10-bit `t`); here it is one level (like a
    multiplexer) and one LUT per bit of `t`.  Not a multiplexer with a constant 0 operand: da4ml's Verilog of
    that differs from da4ml's own evaluation once the logic is pipelined (seen on the score's adder tree)."""
    if bit.low == bit.high:
        return t * float(bit.low)
    product = t * bit
    return FixedVariable(product.low, product.high, product.step, _from=product._from, _factor=product._factor,
                         opr=product.opr, latency=max(t.latency, bit.latency) + 1, cost=float(sum(t.kif)),
                         hwconf=product.hwconf)


def _tree_sum(terms: list) -> FixedVariable | float:
    """Sum in a balanced tree (depth log2 of the count), constants folded."""
    terms = list(terms)
    if not terms:
        return 0.0
    while len(terms) > 1:
        terms = [terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k] for k in range(0, len(terms), 2)]
    return terms[0]


def _above(score: FixedVariable | float, threshold: float) -> FixedVariable | float:
    """1 when ``score > threshold`` else 0 (the sign bit of ``threshold - score``)."""
    if not isinstance(score, FixedVariable) or score.low == score.high:
        return float(float(score if not isinstance(score, FixedVariable) else score.low) > threshold)
    if score.low > threshold:
        return 1.0
    if score.high <= threshold:
        return 0.0
    return (-score + threshold).is_negative()
