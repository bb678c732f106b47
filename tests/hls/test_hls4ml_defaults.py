"""hls4ml's own defaults get these QKeras models wrong; codesign's explicit precisions do not (issue 17).

Each case converts one small model twice without compiling: with hls4ml's default configuration
(pinning what it gets wrong, so a fix in hls4ml shows here) and with `hls_config` +
`enforce_precisions`, whose types must be the fixed-point graph's, i.e. QKeras' own.
"""

from __future__ import annotations

import contextlib
import io

import hls4ml
import pytest

from codesign.fixed import lower_keras
from codesign.hls.config import enforce_precisions, hls_config, hls_precision


def _model(input_quantizer, activation):
    import keras
    from qkeras import QActivation, QDense, quantized_bits

    inputs = keras.Input((4,))
    x = QActivation(input_quantizer, name="q_in")(inputs)
    x = QDense(3, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 1, alpha=1), name="d")(x)
    x = QActivation(activation, name="q")(x)
    return keras.Model(inputs, x)


def _convert(model, config, tmp_path):
    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_keras_model(model, hls_config=config, output_dir=str(tmp_path / "prj"),
                                                          backend="Vivado")


def _types(hls_model) -> dict[str, str]:
    return {layer.name: str(layer.get_output_variable().type.precision) for layer in hls_model.get_layers()}


def _cases():
    from qkeras import quantized_bits, quantized_relu

    plain = quantized_bits(8, 3, alpha=1)
    return {
        "quantized_bits after a Dense dropped": (plain, quantized_bits(6, 2, alpha=1), "q", None),
        "symmetric ignored": (quantized_bits(8, 3, symmetric=True, alpha=1), quantized_relu(6, 3), "q_in",
                              "fixed<8,4,RND_CONV,SAT,0>"),
        "keep_negative=False made signed": (quantized_bits(8, 3, keep_negative=False, alpha=1), quantized_relu(6, 3), "q_in",
                                            "fixed<8,4,RND_CONV,SAT,0>"),
        "quantized_relu(3, 5) typed uint<5>": (plain, quantized_relu(3, 5), "q", "uint<5>"),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_hls4ml_default_is_wrong_and_codesign_is_right(case, tmp_path):
    input_quantizer, activation, layer, hls4ml_type = _cases()[case]
    model = _model(input_quantizer, activation)
    with contextlib.redirect_stdout(io.StringIO()):
        default = hls4ml.utils.config_from_keras_model(model, granularity="name")
    assert _types(_convert(model, default, tmp_path / "default")).get(layer) == hls4ml_type
    graph, _ = lower_keras(model)
    ours = _convert(model, hls_config(model, graph), tmp_path / "ours")
    enforce_precisions(ours, model, graph)
    want = dict(graph.formats())[layer]
    types = _types(ours)
    first = next(iter(types))  # an input quantizer equal to the input format may be merged into the input layer
    assert types.get(layer, types[first] if layer == "q_in" else None) == str(hls_precision(want))
    assert str(hls_precision(want)) != hls4ml_type
