"""`codesign emulate` on zoo models and plain QKeras files, from .npy and ROOT inputs."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.cli import main
from codesign.fixed.trigger import TriggerChain
from codesign.zoo.loading import load_model


def test_zoo_model_from_root_and_npy_agree(sample, tmp_path, capsys):
    root = sample("zprime_ll")
    out_root, out_npy = tmp_path / "a.npy", tmp_path / "b.npy"
    assert main(["emulate", "axol1tl", "--input", str(root), "-o", str(out_root)]) == 0
    from codesign.data import read_view

    np.save(tmp_path / "x.npy", read_view(root, "axol1tl"))
    assert main(["emulate", "axol1tl", "--input", str(tmp_path / "x.npy"), "-o", str(out_npy)]) == 0
    a, b = np.load(out_root), np.load(out_npy)
    assert a.shape == (300, 9) and a.dtype == np.float64 and np.array_equal(a, b)
    chain: TriggerChain = load_model("axol1tl").chain
    assert np.array_equal(a[:, 8], chain.emulate(read_view(root, "axol1tl"))["score"])
    assert np.all(a[:, 8] == np.sum(a[:, :8] ** 2, axis=1).clip(max=chain.score.format.max_value) // 0.0625 * 0.0625)
    assert "column 8: score" in capsys.readouterr().out


def test_plain_h5_states_its_input_format(small_h5, tmp_path, capsys):
    x = np.random.default_rng(0).normal(0, 4, (50, 6))
    np.save(tmp_path / "x.npy", x)
    assert main(["emulate", str(small_h5), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (50, 3)
    assert "ap_fixed<8,4,AP_RND_CONV,AP_SAT> from the model's input quantizer" in capsys.readouterr().out


@pytest.mark.parametrize("shape", [(10, 5), (10,)])
def test_wrong_input_shape(small_h5, tmp_path, capsys, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape))
    assert main(["emulate", str(small_h5), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 2
    assert "needs (N, 6)" in capsys.readouterr().err and not (tmp_path / "y.npy").exists()


def test_default_axol1tl_qkeras_equals_emulator(sample):
    """The committed AXOL1TL encoder: QKeras itself and the emulator agree bit for bit on real events
    (scaled as the firmware does), plus zeros and saturating inputs."""
    from codesign.data import read_view
    from codesign.fixed import emulate

    model = load_model("axol1tl")
    chain, graph = model.chain, model.graph
    raw = np.concatenate([read_view(sample(p), "axol1tl") for p in ("qcd", "zprime_ll", "hidden_valley")])
    counts = chain.scaling.apply(chain.scaling.raw_format.quantize(raw), graph.input_format)
    x = np.concatenate([graph.input_format.to_float(counts), np.zeros((1, 57)),
                        np.full((1, 57), graph.input_format.max_value), np.full((1, 57), graph.input_format.min_value)])
    want = model.keras_model.predict(x, batch_size=4096, verbose=0).astype(np.float64)
    assert np.array_equal(want, emulate(graph, x))


@pytest.fixture(scope="module")
def grid_h5(tmp_path_factory):
    """A (4, 4) input, a Dense on the last axis, Dropout (the identity at inference), Flatten."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inputs = keras.Input((4, 4))
    x = QActivation(quantized_bits(8, 3, alpha=1))(inputs)
    x = QDense(3, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 1, alpha=1))(x)
    x = QActivation(quantized_relu(6, 3))(x)
    x = keras.layers.Dropout(0.2, name="drop")(x)
    x = keras.layers.Flatten()(x)
    x = QDense(2, kernel_quantizer=quantized_bits(6, 1, alpha=1), bias_quantizer=quantized_bits(6, 1, alpha=1))(x)
    model = keras.Model(inputs, x, name="grid")
    rng = np.random.default_rng(4)
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-1, 1, w.shape) for w in layer.get_weights()])
    path = tmp_path_factory.mktemp("grid") / "grid.h5"
    model.save(path, save_format="h5")
    return path


def test_model_shape_and_flattened_inputs_agree_with_qkeras(grid_h5, tmp_path):
    x = np.random.default_rng(0).normal(0, 3, (40, 4, 4))
    np.save(tmp_path / "grid.npy", x)
    np.save(tmp_path / "flat.npy", x.reshape(40, 16))
    for name in ("grid", "flat"):
        assert main(["emulate", str(grid_h5), "--input", str(tmp_path / f"{name}.npy"), "-o", str(tmp_path / f"{name}.out.npy")]) == 0
    got = np.load(tmp_path / "grid.out.npy")
    assert np.array_equal(got, np.load(tmp_path / "flat.out.npy"))
    want = load_model(grid_h5).keras_model.predict(x, verbose=0).astype(np.float64)
    assert got.shape == (40, 2) and np.array_equal(got, want)


def test_other_shapes_name_both_accepted_forms(grid_h5, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((5, 4)))
    assert main(["emulate", str(grid_h5), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs (N, 4, 4) or (N, 16)" in err and err.count("\n") == 0 and not (tmp_path / "y.npy").exists()


def test_chunked_emulation_is_identical_and_bounded_in_memory(small_h5, tmp_path, monkeypatch):
    """Streaming in chunks gives the same bytes as one chunk, and its peak does not grow with the input."""
    import tracemalloc

    import codesign.emulate as E

    model = load_model(small_h5)
    monkeypatch.setattr(E, "load_model", lambda target, hls_config=None: model)

    def chunked_peak(rows: int) -> tuple[int, int]:
        """(peak traced bytes of a chunked run, input bytes), after checking it equals a one-chunk run."""
        np.save(tmp_path / "x.npy", np.random.default_rng(rows).normal(0, 4, (rows, 6)))
        E.run(str(small_h5), tmp_path / "x.npy", tmp_path / "whole.npy", chunk_rows=rows)
        tracemalloc.start()
        E.run(str(small_h5), tmp_path / "x.npy", tmp_path / "chunked.npy", chunk_rows=1_000)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert (tmp_path / "whole.npy").read_bytes() == (tmp_path / "chunked.npy").read_bytes()
        return peak, (tmp_path / "x.npy").stat().st_size

    small_peak, _ = chunked_peak(50_000)
    large_peak, large_input = chunked_peak(400_000)
    assert large_peak < 1.25 * small_peak, (small_peak, large_peak)  # 8x the rows, about the same peak
    assert large_peak < large_input / 10, (large_peak, large_input)
