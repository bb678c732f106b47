"""Fuzzing `emulate` and `data info`: any array or damaged ROOT file gives a result or one clean line."""

from __future__ import annotations

from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codesign.emulate as E
from codesign.cli import main
from codesign.zoo.loading import load_model

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

DTYPES = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.boolean_dtypes(),
                   hnp.complex_number_dtypes(), hnp.unicode_string_dtypes(max_len=4), hnp.byte_string_dtypes(max_len=4))
SHAPES = st.one_of(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
                   st.tuples(st.integers(0, 40), st.just(6)))


def _one_clean_line(capsys, code: int) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in captured.err and err.count("\n") == 0, err
    assert (code == 0) == (err == ""), err
    return err


@pytest.fixture(scope="module")
def small_model(small_h5):
    return load_model(small_h5)


@FUZZ
@given(array=hnp.arrays(DTYPES, SHAPES), as_object=st.booleans())
def test_emulate_any_array(small_h5, small_model, tmp_path, monkeypatch, capsys, array, as_object):
    monkeypatch.setattr(E, "load_model", lambda target, hls_config=None: small_model)
    src, out = tmp_path / "x.npy", tmp_path / "y.npy"
    out.unlink(missing_ok=True)
    np.save(src, array.astype(object) if as_object else array, allow_pickle=as_object)
    code = main(["emulate", str(small_h5), "--input", str(src), "-o", str(out)])
    _one_clean_line(capsys, code)
    if code == 0:
        assert array.ndim == 2 and array.shape[1] == 6 and np.load(out).shape == (array.shape[0], 3)
        assert np.isfinite(np.load(out)).all()
    else:
        assert not out.exists()


@pytest.fixture(scope="module")
def axol1tl():
    return load_model("axol1tl")


@pytest.fixture(scope="module")
def root_bytes(sample) -> bytes:
    return Path(sample("qcd")).read_bytes()


@FUZZ
@given(data=st.data())
def test_data_info_and_emulate_on_damaged_root(root_bytes, axol1tl, tmp_path, monkeypatch, capsys, data):
    monkeypatch.setattr(E, "load_model", lambda target, hls_config=None: axol1tl)
    raw = bytearray(root_bytes)
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))), label="truncate at")
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), max_size=8), label="flips")
    for pos, mask in flips:
        raw[pos] ^= mask
    path = tmp_path / "damaged.root"
    path.write_bytes(bytes(raw[:cut]))
    _one_clean_line(capsys, main(["data", "info", str(path)]))
    out = tmp_path / "y.npy"
    out.unlink(missing_ok=True)
    code = main(["emulate", "axol1tl", "--input", str(path), "-o", str(out)])
    _one_clean_line(capsys, code)
    assert out.exists() == (code == 0)
