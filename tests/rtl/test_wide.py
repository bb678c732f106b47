"""Wide pipeline registers (issue 17, case 1): the RTL logic check is right for any width.

da4ml 0.5.2's C++ interpreter wraps signed values wider than 32 bits into the wrong range (its
`DType::int_min` shifts a 32-bit int); `codesign.rtl.interpret` evaluates the same logic exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from da4ml.cmvm.types import _minimal_kif
from da4ml.trace import FixedVariableArrayInput, comb_trace

from codesign.fixed import emulate_ints, lower_keras
from codesign.fixed.graph import Dense
from codesign.rtl import write_rtl
from codesign.rtl.interpret import run_pipeline
from codesign.rtl.trace import HW_CONFIG, SEARCH_DIGITS, csd_digits
from tests.rtl.test_rtl import vectors_for


def wide_mlp(sizes: tuple[int, ...], weight_bits: int, seed: int = 3):
    """16-bit activations, `weight_bits`-bit hidden weights of large integer part, 16-bit output weights."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    inp = keras.Input((sizes[0],))
    x = QActivation(quantized_bits(16, 8, alpha=1), name="q_in")(inp)
    for n, width in enumerate(sizes[1:-1]):
        x = QDense(width, kernel_quantizer=quantized_bits(weight_bits, 3, alpha=1),
                   bias_quantizer=quantized_bits(16, 6, alpha=1), name=f"d{n}")(x)
        x = QActivation(quantized_relu(16, 8), name=f"a{n}")(x)
    x = QDense(sizes[-1], kernel_quantizer=quantized_bits(16, 4, alpha=1), bias_quantizer=quantized_bits(16, 6, alpha=1),
               name="out")(x)
    model = keras.Model(inp, x, name="wide")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-4, 4, w.shape) for w in layer.get_weights()])
    return model


def _widest_stage_input(project) -> int:
    return max(sum(_minimal_kif(q)) for stage in project.pipeline.solutions[1:] for q in stage.inp_qint)


def test_da4ml_cpp_interpreter_wraps_wide_signed_values_wrongly():
    """The reason for `codesign.rtl.interpret`: x + 1 on a signed input of `bits` bits, for x = -5 and the
    extremes.  Exact here at every width; da4ml 0.5.2's C++ interpreter is wrong from 33 bits (if this
    assertion fails, da4ml was fixed and the workaround's note should say from which version)."""
    for bits in (8, 31, 32, 33, 34, 40, 48):
        inputs = FixedVariableArrayInput(1, hwconf=HW_CONFIG)
        logic = comb_trace(inputs, inputs.quantize(1, bits - 1, 0) + 1)
        x = np.array([[-5], [-(2 ** (bits - 1))], [2 ** (bits - 1) - 1]], dtype=np.int64)
        np.testing.assert_array_equal(run_pipeline(logic, x, 0, 0), x + 1)
        if bits in (33, 34):
            assert np.any(logic.predict(x.astype(np.float64)).ravel() != (x + 1).ravel())


def test_high_clock_pipeline_with_wide_registers(tmp_path):
    """400 MHz: six stages, registers of 33-34 bits between the later ones (da4ml's C++ interpreter
    disagrees on nearly every vector there)."""
    graph = lower_keras(wide_mlp((16, 16, 8), weight_bits=12))[0]
    project = write_rtl(graph, tmp_path / "rtl", clock_mhz=400)
    assert project.latency_cycles >= 4 and _widest_stage_input(project) > 32
    x = vectors_for(graph, n_random=3000)
    np.testing.assert_array_equal(project.predict_ints(x), emulate_ints(graph, x))



@pytest.mark.slow
def test_57_64_64_16_with_12_and_16_bit_weights_at_40_mhz(tmp_path):
    """The net of the report: 57-64-64-16, 12-bit hidden and 16-bit output weights, at the default clock.  Its
    kernels are above SEARCH_DIGITS: solved once each (minutes, where da4ml's full search took over 25).  The
    second stage's registers are 32 bits wide with this solution (the 400 MHz test above has 33-34)."""
    graph = lower_keras(wide_mlp((57, 64, 64, 16), weight_bits=12))[0]
    assert all(csd_digits(op.weight) > SEARCH_DIGITS for op in graph.ops if isinstance(op, Dense))
    project = write_rtl(graph, tmp_path / "rtl", clock_mhz=40)
    assert project.latency_cycles >= 2 and _widest_stage_input(project) >= 32
    x = vectors_for(graph, n_random=3000)
    np.testing.assert_array_equal(project.predict_ints(x), emulate_ints(graph, x))
