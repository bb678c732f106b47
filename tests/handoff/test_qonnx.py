"""QONNX export: qonnx's executor on the exported graph equals the emulator bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.cli import main
from codesign.errors import CodesignError
from codesign.fixed.emulator import emulate
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Dense, Graph, Quantize
from codesign.handoff.qonnx_export import run_qonnx, to_qonnx
from codesign.hls.compare import edge_case_vectors
from codesign.zoo.loading import load_model


def _inputs(graph, n: int, seed: int = 0) -> np.ndarray:
    """Edge-case vectors plus values on and around every rounding tie of the input format, as float32."""
    rng = np.random.default_rng(seed)
    x = edge_case_vectors(graph, n, rng)
    fmt = graph.input_format
    ties = (rng.integers(fmt.min_int - 4, fmt.max_int + 4, x.shape) + 0.5) * fmt.lsb
    return np.concatenate([x, ties]).astype(np.float32)


@pytest.mark.parametrize("target", ["axol1tl", "small"])
def test_qonnx_equals_emulator(target, small_h5):
    model = load_model(str(small_h5) if target == "small" else target)
    exported = to_qonnx(model.graph)
    quants = [n for n in exported.graph.node if n.op_type == "Quant"]
    assert len(quants) >= len([op for op in model.graph.ops if isinstance(op, Quantize)]) + 1
    x = _inputs(model.graph, 20_000)
    got = run_qonnx(exported, x).astype(np.float64)
    want = emulate(model.graph, x.astype(np.float64))
    assert got.shape == want.shape and np.array_equal(got, want)
    assert len(np.unique(want)) > 10  # not a constant output


def test_quant_attributes_carry_the_formats(small_h5):
    model = load_model(str(small_h5))
    exported = to_qonnx(model.graph)
    first = next(n for n in exported.graph.node if n.op_type == "Quant")
    attrs = {a.name: a for a in first.attribute}
    fmt = model.graph.input_format
    assert attrs["signed"].i == int(fmt.signed) and attrs["rounding_mode"].s.decode() == "ROUND"
    assert exported.get_initializer(first.input[3]) == fmt.width
    assert exported.get_initializer(first.input[1]) == np.float32(fmt.lsb)


def test_wrapping_quantizer_is_refused():
    w = FixedFormat(4, 2)
    graph = Graph("g", (2,), FixedFormat(8, 4, rounding="RND_CONV", overflow="SAT"),
                  [Dense("d", np.ones((2, 1), dtype=np.int64), w, np.zeros(1, dtype=np.int64), w),
                   Quantize("q", FixedFormat(4, 2))])
    with pytest.raises(CodesignError, match="wraps on overflow"):
        to_qonnx(graph)


def test_export_cli(small_h5, tmp_path, capsys):
    out = tmp_path / "small.onnx"
    assert main(["export", str(small_h5), "--format", "qonnx", "-o", str(out)]) == 0
    assert out.is_file() and "Quant" in capsys.readouterr().out
    from qonnx.core.modelwrapper import ModelWrapper

    model = load_model(str(small_h5))
    x = _inputs(model.graph, 1000, seed=1)
    assert np.array_equal(run_qonnx(ModelWrapper(str(out)), x), emulate(model.graph, x.astype(np.float64)))
