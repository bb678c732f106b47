"""Accumulators wider than float64's 53 bits (issue 17, case 5): exact on the int64 / Python-int paths."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from codesign.fixed import emulate_ints, lower_keras
from codesign.fixed.fixed_format import FixedFormat


def three_dense(final_quantizer: bool = True, n: int = 6, seed: int = 0):
    """Three 16-bit QDense layers in a row, no activation between them: the sums grow to 70+ bits."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits

    rng = np.random.default_rng(seed)
    inputs = keras.Input((n,))
    x = QActivation(quantized_bits(16, 8, alpha=1), name="q_in")(inputs)
    for k in range(3):
        x = QDense(n, kernel_quantizer=quantized_bits(16, 6, alpha=1), bias_quantizer=quantized_bits(16, 6, alpha=1),
                   name=f"d{k}")(x)
    if final_quantizer:
        x = QActivation(quantized_bits(16, 10, alpha=1), name="q_out")(x)
    model = keras.Model(inputs, x, name="three_dense")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-60, 60, w.shape) for w in layer.get_weights()])
    return model


def exact_reference(graph, x_counts: np.ndarray) -> list[list[Fraction]]:
    """Row by row in Fractions from the graph's integer weights: the Dense chain, then the final cast."""
    from codesign.fixed.graph import Dense, Quantize

    rows = []
    for row in x_counts.tolist():
        values = [Fraction(c) * Fraction(2) ** -graph.input_format.frac for c in row]
        for op in graph.ops:
            if isinstance(op, Dense):
                w_lsb, b_lsb = Fraction(2) ** -op.weight_format.frac, Fraction(2) ** -op.bias_format.frac
                values = [sum(v * int(op.weight[i, j]) * w_lsb for i, v in enumerate(values)) + int(op.bias[j]) * b_lsb
                          for j in range(op.n_out)]
            elif isinstance(op, Quantize):
                fmt = op.output_format
                lsb = Fraction(2) ** -fmt.frac
                values = [min(max(Fraction(round(v / lsb)), fmt.min_int), fmt.max_int) * lsb for v in values]
        rows.append([v * 2**graph.output_format.frac for v in values])
    return rows


@pytest.mark.parametrize("final_quantizer", [True, False])
def test_three_16_bit_dense_layers_are_exact(final_quantizer):
    graph, _ = lower_keras(three_dense(final_quantizer))
    assert graph.max_width > 62  # past int64 too: the Python-int path
    fmt = graph.input_format
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.integers(fmt.min_int, fmt.max_int, (150, 6), endpoint=True),
                        np.full((1, 6), fmt.max_int), np.full((1, 6), fmt.min_int)])
    got = emulate_ints(graph, x)
    want = exact_reference(graph, x)
    assert [[Fraction(int(v)) for v in row] for row in got.tolist()] == want
    assert np.array_equal(emulate_ints(graph, x.astype(np.float64)), got)  # counts as floats (`emulate`) too


def test_int64_and_float_paths_agree_where_both_are_exact():
    rng = np.random.default_rng(2)
    counts = rng.integers(-(2**40), 2**40, 5000)
    for fmt in (FixedFormat(20, 4, True, "RND_CONV", "SAT"), FixedFormat(12, 30, False, "RND", "WRAP"),
                FixedFormat(48, 20, True, "TRN", "SAT_SYM")):
        for frac in (-3, 10, 25):
            as_float = fmt.requantize(counts.astype(np.float64), frac)
            assert np.array_equal(as_float, fmt.requantize(counts, frac))
            assert np.array_equal(as_float, fmt.requantize(counts.astype(object), frac).astype(np.float64))
