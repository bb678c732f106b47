"""Keras -> ONNX export and onnxruntime inference agree with Keras."""

import numpy as np
import pytest

from codesign.errors import CodesignError


@pytest.mark.parametrize("region", ["EB", "EE+"])
def test_onnx_matches_keras(tmp_path, region):
    from codesign.dqm.data import SHAPES
    from codesign.dqm.model import build_autoencoder
    from codesign.onnx import OnnxModel, export_keras

    model = build_autoencoder(region, filters=(4,), latent=4, seed=3)
    x = np.random.default_rng(0).gamma(2.0, 0.5, (3, *SHAPES[region], 1)).astype(np.float32)
    path = export_keras(model, tmp_path / "m.onnx")
    got = OnnxModel(path, threads=1)(x)
    want = model.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_onnx_errors(tmp_path):
    from codesign.onnx import OnnxModel

    with pytest.raises(CodesignError, match="not found"):
        OnnxModel(tmp_path / "missing.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(CodesignError, match="cannot load"):
        OnnxModel(tmp_path / "bad.onnx")
