"""A tiny end-to-end DQM: train + ONNX export, evaluation table and plots, streaming run, CLI errors."""

import argparse
import json

import numpy as np
import pytest

from codesign.atomic import MARKER
from codesign.dqm import data as D
from codesign.dqm import postprocess as P
from codesign.dqm.cli import add_parser
from codesign.dqm.pipeline import TrainConfig, evaluate, run_stream, train
from codesign.errors import CodesignError

TINY = TrainConfig(runs=1, lumisections=24, epochs=2, filters=(4,), latent=4, val_runs=1)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("dqm") / "model"
    train(path, TINY, progress=False)
    return path


def _cli(*argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["dqm", *map(str, argv)])
    args.run(args)


def test_train_writes_model_folder(model_dir):
    assert {p.name for p in model_dir.iterdir()} == {"EB.onnx", "EEp.onnx", "EEm.onnx", "reference.npz", "dqm.json",
                                                     MARKER}
    meta = json.loads((model_dir / "dqm.json").read_text())
    assert set(meta["thresholds"]) == set(D.REGIONS) and all(t > 0 for t in meta["thresholds"].values())
    assert all(np.isfinite(v["loss"]) for v in meta["losses"].values())
    assert not list(model_dir.parent.glob(".*partial*"))


def test_evaluate_table_has_all_rows_and_columns(model_dir, tmp_path):
    res = evaluate(model_dir, tmp_path / "eval", runs=1, lumisections=24, progress=False)
    cols = [f"{r} {k}" for r in D.REGIONS for k in D.ANOMALIES[r]]
    assert res["columns"] == cols and set(res["fdr"]) == set(P.METHODS)
    for m in P.METHODS:
        for c in cols:
            v = res["fdr"][m][c]
            assert (v is None) == (m.startswith("Baseline") and not c.startswith("EB "))
            assert v is None or 0.0 <= v <= 100.0
    saved = json.loads((tmp_path / "eval" / "fdr_table.json").read_text())
    assert saved["columns"] == cols
    assert len(list((tmp_path / "eval").glob("quality_*.png"))) == 3
    assert len(list((tmp_path / "eval").glob("maps_*.png"))) == 3


def test_run_stream_flags_injected_sector(model_dir, tmp_path):
    res = run_stream(model_dir, tmp_path / "out", lumisections=8, inject="missing_sector", region="EE+",
                     progress=False)
    assert res["lumisections"] == 8 and res["flagged"]["EE+"] > 0
    lines = (tmp_path / "out" / "flags.jsonl").read_text().splitlines()
    assert len(lines) == res["flag_records"] and {"ls", "region", "row", "col"} <= set(json.loads(lines[0]))
    with np.load(tmp_path / "out" / "flag_frequency.npz") as f:
        assert int(f["n_ls"]) == 8 - P.WINDOW + 1
    assert (tmp_path / "out" / "quality_EEp.png").is_file()


@pytest.mark.parametrize("verb, last_step", [("evaluate", "write_table"), ("run", "plot_quality")])
def test_interrupted_evaluate_and_run_keep_the_previous_output(model_dir, tmp_path, monkeypatch, verb, last_step):
    """Interrupted at its last step (PNGs or flags already written), a run leaves the previous folder as it was."""
    out = tmp_path / "out"

    def call():
        if verb == "evaluate":
            return evaluate(model_dir, out, runs=1, lumisections=12, progress=False)
        return run_stream(model_dir, out, lumisections=8, progress=False)

    call()
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(P, last_step, interrupted)
    with pytest.raises(KeyboardInterrupt):
        call()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_run_from_npz_input(model_dir, tmp_path):
    run = D.generate_run(D.Detector(0), 0, 4, seed=8)
    np.savez(tmp_path / "s.npz", events=run.events, **run.counts)
    _cli("run", model_dir, "--input", tmp_path / "s.npz", "-q", "-o", tmp_path / "o")
    assert (tmp_path / "o" / "flags.jsonl").is_file()


def test_cli_error_paths(model_dir, tmp_path):
    with pytest.raises(CodesignError, match="not a DQM model folder"):
        _cli("evaluate", tmp_path, "-o", tmp_path / "e")
    (tmp_path / "mine").mkdir()
    with pytest.raises(CodesignError, match="not written by codesign"):
        _cli("evaluate", model_dir, "-q", "-o", tmp_path / "mine")
    with pytest.raises(CodesignError, match="does not exist in EB"):
        _cli("run", model_dir, "--inject", "missing_sector", "-q", "-o", tmp_path / "r")
    with pytest.raises(CodesignError, match="not found"):
        _cli("run", model_dir, "--input", tmp_path / "none.npz", "-o", tmp_path / "r")
    np.savez(tmp_path / "bad.npz", events=np.ones(2))
    with pytest.raises(CodesignError, match="not a DQM stream"):
        _cli("run", model_dir, "--input", tmp_path / "bad.npz", "-o", tmp_path / "r")
    with pytest.raises(CodesignError, match="--filters"):
        _cli("train", "--filters", "8,x", "-o", tmp_path / "t")
    with pytest.raises(SystemExit):  # argparse: out of range
        _cli("train", "--epochs", "0", "-o", tmp_path / "t")
    with pytest.raises(SystemExit):
        _cli("evaluate", model_dir, "--runs", "0", "-o", tmp_path / "e")


@pytest.mark.slow
def test_train_is_byte_reproducible(model_dir, tmp_path):
    """The same request and seed give the same bytes: again in this process (after other models were built:
    Keras' layer-name counters) and in another process with another hash seed (tf2onnx's generated names and
    which of two equal constants survives its deduplication)."""
    import os
    import subprocess
    import sys

    import keras

    keras.Sequential([keras.layers.Conv2D(1, 1, input_shape=(4, 4, 1)), keras.layers.Dense(1)])  # advance the counters
    here = tmp_path / "here"
    train(here, TINY, progress=False)
    again = tmp_path / "again"
    code = (f"from codesign.dqm.pipeline import TrainConfig, train; "
            f"train({str(again)!r}, TrainConfig(**{TINY.__dict__!r}), progress=False)")
    other_seed = "1" if os.environ.get("PYTHONHASHSEED") == "0" else "0"  # "0": no hash randomisation
    env = {**os.environ, "PYTHONHASHSEED": other_seed, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    files = sorted(p.name for p in model_dir.iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    for other in (here, again):
        assert [f for f in files if (model_dir / f).read_bytes() != (other / f).read_bytes()] == []
