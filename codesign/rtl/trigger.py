"""The whole trigger traced into one da4ml design: raw hardware inputs -> outputs, bit for bit `TriggerChain`.

* input scaling, per feature: ``x - offset`` (a constant add, exact), a right shift ``>> s`` that floors
  to the raw LSB (the HLS difference type keeps its LSB) or an exact left shift ``<< -s`` (wiring), then
  the cast to the network's input format (`trace.cast`: its rounding and saturation);
* the network (`trace._network`, the same operations as `trace_graph`);
* the score ``sum_i mu_i^2``, exact, then cast to the score format.  Squares are shift-and-add:
  ``|mu|^2 = sum_j bit_j(|mu|) * (|mu| << j)``, each term a multiplexer, summed in a balanced tree,
  so no multiplier (no DSP) is inferred;
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
from codesign.rtl.trace import DELAY_CONSTRAINT, HW_CONFIG, _network, cast, kif, memoised

def trace_trigger(chain: TriggerChain, delay_constraint: int = DELAY_CONSTRAINT) -> CombLogic:
    """The trigger chain as da4ml combinational logic from flat raw inputs (counts of the raw format); memoised."""
    text = chain.graph.to_json() + json.dumps(chain.to_dict(), sort_keys=True)
    key = ("trigger:" + hashlib.sha256(text.encode()).hexdigest(), delay_constraint)
    return memoised(key, lambda: _trace_trigger(chain, delay_constraint))


def _trace_trigger(chain: TriggerChain, delay_constraint: int) -> CombLogic:
    graph, scaling = chain.graph, chain.scaling
    n_in = int(np.prod(graph.input_shape))
    inputs = FixedVariableArrayInput(n_in, hwconf=HW_CONFIG, solver_options={"hard_dc": delay_constraint})
    raw = inputs.quantize(*kif(scaling.raw_format))
    scaled = [_scale_input(v, int(o), int(s), scaling.raw_format, scaling.difference_format, graph.input_format)
              for v, o, s in zip(raw._vars.ravel(), scaling.offsets, scaling.shifts)]
    x = FixedVariableArray(np.array(scaled, dtype=object).reshape(graph.input_shape), raw.solver_options)
    network = list(_network(x, graph).ravel()._vars)
    out_frac = graph.output_format.frac
    squares = [_square(v) for v in network]
    score = cast(_tree_sum(squares), 2 * out_frac, chain.score.format)
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


def _square(v: FixedVariable) -> FixedVariable | float:
    """``v * v`` exactly, from multiplexers and adders: the sum over the set bits j of |v| of ``|v| * 2**j``."""
    if v.low == v.high:
        return float(v.low) ** 2
    a = abs(v)
    _, i, f = a.kif
    terms: list[FixedVariable] = []
    for j in range(-f, i):
        bit = (a * 2.0**-j).quantize(0, 1, 0)  # bit j of |v|, as 0 or 1
        if bit.low == bit.high:
            if bit.low:
                terms.append(a * 2.0**j)
            continue
        terms.append(bit.msb_mux(a * 2.0**j, 0.0))
    return _tree_sum(terms)


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
