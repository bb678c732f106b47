"""Sweeps through a real Dask LocalCluster and a real `distributed.Scheduler`: rows streamed, failed points
recorded, resume, determinism, the Pareto front, promotion, keras-tuner searches, the Parquet table, and the
CLI's one-line errors."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import subprocess
import sys
import time

import pytest

from codesign.cli import main
from codesign.errors import CodesignError
from codesign.kerasenv import LEGACY_KERAS_VARIABLE, check_one_keras
from codesign.sweep import load_grid, promote, sweep
from codesign.sweep.run import PINNED_ENV, read_table
from codesign.zoo import load_card
from codesign.zoo.loading import load_model
from tests.sweep.conftest import tiny_card

pytestmark = pytest.mark.slow  # TensorFlow starts in every worker; each point trains and runs Yosys

GRID = """
grid:
  quantization.layers.enc0.weight: [{bits: 3, integer: 1}, {bits: 6, integer: 2}]
  quantization.pruning.final_sparsity: [0.5, 1.0]
"""
SEARCH = """
search: {method: random, trials: 4, seed: 2}
grid:
  quantization.layers.enc0.weight: [{bits: 3, integer: 1}, {bits: 6, integer: 2}]
  quantization.pruning.final_sparsity: [0.5, 1.0]
  architecture.latent: [2, 3]
"""
TIMES = ("seconds_train", "seconds_estimate", "seconds")


@contextlib.contextmanager
def legacy_keras_inherited():
    """The environment a real sweep's workers inherit: this process resolved `tf.keras` to Keras 2.15 first, then
    importing QKeras set `TF_USE_LEGACY_KERAS` (kerasenv).  Setting it before this process first resolves
    `tf.keras` would make the test process itself a tf_keras one, which no codesign process is."""
    check_one_keras()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(LEGACY_KERAS_VARIABLE, "1")
        yield


def _figures(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in (*TIMES, "point")}


@pytest.fixture(scope="module")
def local(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("sweep")
    card = tiny_card(root / "card")
    (root / "grid.yaml").write_text(GRID)
    with legacy_keras_inherited():
        result = sweep(card, root / "out", grid=root / "grid.yaml", workers=2, data=data, progress=False)
    return root, result


def _search(root, data, out: str, workers: int = 2) -> dict:
    with legacy_keras_inherited():
        return sweep(root / "card", root / out, grid=root / "search.yaml", workers=workers, data=data, progress=False)


@pytest.fixture(scope="module")
def searched(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("search")
    tiny_card(root / "card")
    (root / "search.yaml").write_text(SEARCH)
    return root, _search(root, data, "search")


def _assert_parquet_is_the_csv(folder):
    """results.parquet holds results.csv's rows: text as text (empty: null), numbers as numbers."""
    import pyarrow.parquet as pq

    rows = read_table(folder / "results.csv")
    table = pq.read_table(folder / "results.parquet")
    assert table.column_names == list(rows[0]) and table.num_rows == len(rows)
    for row, typed in zip(rows, table.to_pylist()):
        for name, text in row.items():
            kind = str(table.schema.field(name).type)
            if text == "":
                assert typed[name] is None
            elif kind == "string":
                assert typed[name] == text
            elif kind == "int64":
                assert typed[name] == int(text)
            else:
                assert kind == "double" and (typed[name] == float(text) or math.isnan(typed[name]) and text == "nan")
    assert str(table.schema.field("lut").type) == "int64" and str(table.schema.field("auc_mean").type) == "double"
    assert str(table.schema.field("quantization.pruning.final_sparsity").type) == "double"


def test_random_search_runs_its_trials_into_the_same_table(searched):
    root, result = searched
    rows = read_table(root / "search" / "results.csv")
    trials = json.loads((root / "search" / "sweep.json").read_text())["search"]["trials_run"]
    assert result["trials"] == len(trials) == 4 and [t["trial"] for t in trials] == [0, 1, 2, 3]
    assert [r["point"] for r in rows] == sorted({str(t["point"]) for t in trials}, key=int)  # one row per point
    assert {t["key"]: t["status"] for t in trials} == {r["key"]: r["status"] for r in rows}
    grid = {p.key: p for p in load_grid(root / "search.yaml").points(load_card(root / "card"))}
    for r in rows:  # each row is the grid point of its index, with the grid's key
        point = grid[r["key"]]
        assert r["point"] == str(point.index) and {k: json.loads(r[k]) for k in point.params} == point.params
        if point.params["quantization.pruning.final_sparsity"] == 1.0:
            assert r["status"] == "failed" and "final_sparsity must be a number in [0, 1)" in r["error"]
        else:
            assert r["status"] == "ok" and 0.5 < float(r["auc_mean"]) <= 1 and int(r["lut"]) > 0
    assert result["failed"] == sum(r["status"] == "failed" for r in rows) and result["ran"] == len(rows)
    front = list(csv.DictReader((root / "search" / "pareto.csv").open()))
    assert front and {r["point"] for r in front} <= {r["point"] for r in rows if r["status"] == "ok"}
    _assert_parquet_is_the_csv(root / "search")


def test_search_is_deterministic_and_resumes_from_the_table(searched, data):
    root, first = searched
    before = read_table(root / "search" / "results.csv")
    again = _search(root, data, "search-again")  # a new folder: the same proposals, the same rows
    after = read_table(root / "search-again" / "results.csv")
    assert [{k: v for k, v in r.items() if k not in TIMES} for r in after] == [
        {k: v for k, v in r.items() if k not in TIMES} for r in before]
    trials = [json.loads((root / out / "sweep.json").read_text())["search"]["trials_run"]
              for out in ("search", "search-again")]
    assert trials[0] == trials[1] and again["ran"] == first["ran"]
    # the same folder, one worker (a random search's proposals do not depend on the rounds): the ok rows answer
    # the oracle from the table, only the failed points run again
    resumed = _search(root, data, "search", workers=1)
    ok = [r for r in before if r["status"] == "ok"]
    assert (resumed["reused"], resumed["ran"], resumed["trials"]) == (len(ok), len(before) - len(ok), 4)
    assert [r for r in read_table(root / "search" / "results.csv") if r["status"] == "ok"] == ok  # times too
    assert json.loads((root / "search" / "sweep.json").read_text())["search"]["trials_run"] == trials[0]
    _assert_parquet_is_the_csv(root / "search")


def test_points_train_estimate_and_failures_are_rows(local):
    root, result = local
    rows = read_table(root / "out" / "results.csv")
    assert [r["point"] for r in rows] == ["0", "1", "2", "3"]
    assert (result["points"], result["failed"], result["ran"]) == (4, 2, 4)
    for r in rows:
        if json.loads(r["quantization.pruning.final_sparsity"]) == 1.0:  # the trainer refuses it: the row says why
            assert r["status"] == "failed" and "final_sparsity must be a number in [0, 1)" in r["error"] and r["lut"] == ""
        else:
            assert r["status"] == "ok" and r["error"] == ""
            assert 0.5 < float(r["auc_mean"]) <= 1 and int(r["lut"]) > 0 and int(r["dsp"]) == 0
            assert 0.45 <= float(r["zero_weight_fraction"]) <= 0.7  # pruned to half
            assert (root / "out" / "points" / r["key"] / "encoder.h5").is_file()
    ok = {json.loads(r["quantization.layers.enc0.weight"])["bits"]: r for r in rows if r["status"] == "ok"}
    assert int(ok[3]["lut"]) < int(ok[6]["lut"])  # the first layer's 3-bit weights are cheaper in the RTL
    front = list(csv.DictReader((root / "out" / "pareto.csv").open()))
    assert front and {r["point"] for r in front} <= {r["point"] for r in ok.values()}
    assert (root / "out" / "pareto.png").stat().st_size > 10_000
    _assert_parquet_is_the_csv(root / "out")


def test_resume_reruns_only_unfinished_points(local, data):
    root, _ = local
    before = read_table(root / "out" / "results.csv")
    with (root / "out" / "results.csv").open("a") as stream:
        stream.write("2,torn")  # a run killed while writing a row
    again = sweep(root / "card", root / "out", grid=root / "grid.yaml", workers=1, data=data, progress=False)
    assert (again["reused"], again["ran"], again["failed"]) == (2, 2, 2)
    after = read_table(root / "out" / "results.csv")
    assert [r for r in after if r["status"] == "ok"] == [r for r in before if r["status"] == "ok"]


def test_promoted_point_is_a_model_folder(local, tmp_path):
    root, _ = local
    ok = next(r for r in read_table(root / "out" / "results.csv") if r["status"] == "ok")
    target = promote(root / "out", ok["point"], tmp_path / "small_model")
    model = load_model(target)  # what `codesign synth` loads
    assert model.name == "small_model" and set(model.chain.thresholds) == {"Loose", "Medium", "Tight"}
    metrics = json.loads((target / "metrics.json").read_text())
    assert metrics["sweep"]["point"] == ok["point"]
    with pytest.raises(CodesignError, match="no finished point 1; finished points: 0, 2"):
        promote(root / "out", "1", tmp_path / "failed_model")
    assert not (tmp_path / "failed_model").exists()


def test_sweep_on_a_running_scheduler_gives_the_same_rows(local, data, tmp_path):
    """A real `distributed.Scheduler` and worker (separate processes); the points it shares with the local
    sweep have the same keys and, bit for bit, the same figures (determinism across clusters)."""
    root, _ = local
    (tmp_path / "grid.yaml").write_text(GRID.replace("[0.5, 1.0]", "[0.5]"))
    env = {**os.environ, **PINNED_ENV, LEGACY_KERAS_VARIABLE: "1"}
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result = sweep(root / "card", tmp_path / "out", grid=tmp_path / "grid.yaml", scheduler=address, data=data,
                       progress=False)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    assert (result["ran"], result["failed"]) == (2, 0)
    local_rows = {r["key"]: _figures(r) for r in read_table(root / "out" / "results.csv")}
    for row in read_table(tmp_path / "out" / "results.csv"):
        assert _figures(row) == local_rows[row["key"]]


def test_cli_errors_are_one_line(tmp_path, capsys):
    card = tiny_card(tmp_path / "card")
    (tmp_path / "bad.yaml").write_text("grid: {architecture.latnet: [2]}\n")
    (tmp_path / "grid.yaml").write_text("grid: {architecture.latent: [2]}\n")
    assert main(["sweep", str(card), "--grid", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "a")]) == 2
    assert main(["sweep", str(card), "--grid", str(tmp_path / "grid.yaml"), "-o", str(tmp_path / "b"),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    (tmp_path / "mine").mkdir()
    assert main(["sweep", str(card), "--grid", str(tmp_path / "grid.yaml"), "-o", str(tmp_path / "mine")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and "no entry architecture.latnet" in lines[0]
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[1] and "not written by codesign" in lines[2]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
