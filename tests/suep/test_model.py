"""The ConvAE: the seed's parameter count, the 1/Dice loss in TensorFlow and numpy, ONNX = Keras."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.suep.card import load_card
from codesign.suep.model import DICE_EPSILON, build, dice_loss, dice_loss_np

SMALL = {"encoder": [[4, 3, [3, 3]], [4, 3, [2, 3]]], "decoder": [[4, 3, [2, 3]], [3, 3, [3, 3]]]}


def test_default_card_has_the_seeds_parameter_count():
    card = load_card()
    model = build(card.data["architecture"], card.images.shape)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert model.output_shape[1:] == (288, 360, 3)
    assert (model.count_params(), trainable) == (3_575_047, 3_574_065)  # the seed's model summary


def test_dice_loss_tensorflow_equals_numpy_and_known_values():
    rng = np.random.default_rng(0)
    x = (rng.random((6, 8, 9, 3)) * (rng.random((6, 8, 9, 3)) < 0.1)).astype(np.float32)
    y = np.abs(x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
    x[4], y[5] = 0.0, 0.0  # an empty input, an empty reconstruction
    y[0] = x[0]
    got = dice_loss(x, y).numpy()
    want = dice_loss_np(x, y)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert want[0] == pytest.approx(0.0, abs=1e-6)
    assert want[5] == pytest.approx((x[5] ** 2).sum() / DICE_EPSILON, rel=1e-4)
    np.testing.assert_allclose(dice_loss_np(np.zeros((1, 4)), np.zeros((1, 4))), [0.0])
    assert np.all(want[1:4] > 0)


def test_onnx_equals_keras_with_trained_like_weights(tmp_path):
    from codesign.onnx import OnnxModel, export_keras

    model = build(SMALL, (24, 36, 3), seed=3)
    rng = np.random.default_rng(1)
    for w in model.weights:  # BatchNorm statistics and PReLU slopes away from their initial values
        w.assign(w.numpy() + 0.3 * rng.standard_normal(w.shape).astype(np.float32) * (1 if "variance" not in w.name else 0)
                 + (0.5 if "variance" in w.name else 0.0))
    x = (rng.exponential(1.0, (9, 24, 36, 3)) * (rng.random((9, 24, 36, 3)) < 0.2)).astype(np.float32)
    x[0] = 0.0
    path = export_keras(model, tmp_path / "m.onnx")
    want = model.predict(x, verbose=0)
    assert np.count_nonzero(want) > want.size // 10
    for level in ("disable", "all"):
        got = OnnxModel(path, threads=1, optimization=level)(x)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_architecture_that_does_not_restore_the_shape_is_refused(tmp_path):
    from codesign.errors import CodesignError
    from codesign.suep.pipeline import train

    card = load_card()
    card.data["images"].update(n_eta=20, n_phi=20)
    with pytest.raises(CodesignError, match="strides must multiply"):
        train(card, tmp_path / "m", progress=False)
