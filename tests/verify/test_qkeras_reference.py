"""The QKeras float64 reference: QKeras' own float32 quantizers, fed values that round like the float64 ones."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras import quantized_bits, quantized_relu

from codesign.fixed.lower import quantizer_format
from codesign.verify.qkeras_reference import _activation


def test_values_a_hair_off_a_tie_or_far_out_of_range_quantize_as_in_exact_arithmetic():
    rng = np.random.default_rng(0)
    for quantizer in (quantized_bits(8, 3, alpha=1), quantized_bits(16, 10, alpha=1), quantized_relu(6, 3),
                      quantized_bits(12, 2, symmetric=True, alpha=1), quantized_bits(10, 4, keep_negative=False, alpha=1)):
        fmt, relu = quantizer_format(quantizer, "test")
        ties = (rng.integers(fmt.min_int - 4, fmt.max_int + 4, 2000) + 0.5) * fmt.lsb
        values = np.concatenate([ties, ties + 2.0**-40, ties - 2.0**-40, ties * 2.0**30, [2.0**45, -(2.0**45)]])
        want = fmt.to_float(fmt.quantize(np.maximum(values, 0) if relu else values))  # exact: powers of two
        got = _activation(quantizer, values)
        assert np.array_equal(got, want), type(quantizer).__name__
    assert tf.constant(1.0).dtype == tf.float32  # the reference leaves Keras' float type alone
