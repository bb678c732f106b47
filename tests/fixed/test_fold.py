"""BatchNormalization folded into the preceding QDense: the folded model is what every path equals."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from qkeras import QDense, quantized_bits, quantized_relu

from codesign.errors import CodesignError
from codesign.fixed import emulate, lower_keras
from codesign.fixed.fold import fold_batchnorm
from tests.conftest import bn_model


def test_folded_model_equals_its_emulation_and_stays_close_to_the_original():
    model = bn_model()
    folded, note = fold_batchnorm(model)
    assert note.startswith("folded BatchNormalization bn1 into d1")
    assert not any(type(layer).__name__ == "BatchNormalization" for layer in folded.layers)
    x = np.random.default_rng(1).normal(0, 3, (5000, 6))
    graph, _ = lower_keras(folded)
    want = folded.predict(x, batch_size=4096, verbose=0).astype(np.float64)
    assert np.array_equal(want, emulate(graph, x))
    original = model.predict(x, batch_size=4096, verbose=0)
    assert np.mean(np.abs(want - original)) < 0.1 * np.mean(np.abs(original))  # re-quantization only


def test_model_without_batchnorm_is_returned_unchanged():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1))(inputs))
    assert fold_batchnorm(model) == (model, "")


def test_batchnorm_after_an_activation_is_refused():
    with pytest.raises(CodesignError, match=r"bn1 \(BatchNormalization\) can only be folded into a preceding QDense "
                                            "without activation"):
        fold_batchnorm(bn_model(activation_before_bn=quantized_relu(6, 3)))


def test_lowering_an_unfolded_batchnorm_says_how_to_fold():
    with pytest.raises(CodesignError, match="must be folded first"):
        lower_keras(bn_model())
