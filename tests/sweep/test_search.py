"""keras-tuner searches over a sweep grid (the oracle driven directly, objectives from table rows), the
results table's Parquet twin and its comparison with the committed model."""

from __future__ import annotations

import csv
import math

import pytest

from codesign.sweep import load_grid, sweep
from codesign.sweep.search import make_oracle, propose, report
from codesign.sweep.table import column_types, versus_committed, write_parquet
from codesign.zoo import load_card
from tests.sweep.conftest import tiny_card

pytestmark = pytest.mark.filterwarnings("ignore:.*currentThread|getName:DeprecationWarning")  # keras-tuner's

SPACE = """
search: {method: bayesian, trials: 12, seed: 3}
grid:
  architecture.encoder: [[8], [6], [4], [2]]
  quantization.layers.enc0.weight: [{bits: 3, integer: 1}, {bits: 6, integer: 2}, {bits: 8, integer: 3}]
"""


def _row(params: dict) -> dict:
    """A made-up table row: 6-bit weights fail, otherwise the objective favours wide layers and more bits."""
    if params["quantization.layers.enc0.weight"]["bits"] == 6:
        return {"status": "failed", "error": "refused"}
    return {"status": "ok", "auc_mean": repr(0.5 + params["architecture.encoder"][0] / 20
                                             + params["quantization.layers.enc0.weight"]["bits"] / 100)}


def _search(tmp_path, text: str, slots: int = 2) -> tuple:
    """Every proposal of a search answered by `_row`, in rounds of `slots`: the proposals, oracle, grid, card."""
    (tmp_path / "grid.yaml").write_text(text)
    spec = load_grid(tmp_path / "grid.yaml")
    if not (tmp_path / "card").exists():
        tiny_card(tmp_path / "card")
    card = load_card(tmp_path / "card")
    oracle = make_oracle(spec, tmp_path / f"oracle{len(list(tmp_path.glob('oracle*')))}")
    proposals = []
    while batch := propose(oracle, spec, card, slots):
        for proposal in batch:
            report(oracle, proposal, _row(proposal.point.params), spec.objective)
        proposals += batch
    return proposals, oracle, spec, card


def test_bayesian_search_proposes_grid_points_and_learns_from_failures(tmp_path):
    proposals, oracle, spec, card = _search(tmp_path, SPACE)
    grid = {p.key: p for p in spec.points(card)}
    assert len(proposals) == 12 and len(oracle.trials) == 12
    for proposal in proposals:  # every proposal is the grid point of its index, key included
        assert grid[proposal.point.key] == proposal.point
    status = {p.trial.trial_id: oracle.trials[p.trial.trial_id].status for p in proposals}
    failed = [p.trial.trial_id for p in proposals if p.point.params["quantization.layers.enc0.weight"]["bits"] == 6]
    assert failed and {status[t] for t in failed} == {"FAILED"}  # failures reported; the search went on
    assert {status[t] for t in status if t not in failed} == {"COMPLETED"}
    # past the random start (3 x 2 dimensions) the Gaussian process proposes; the best point is among them
    completed = [p for p in proposals if status[p.trial.trial_id] == "COMPLETED"]
    assert len(completed) > 6
    best = max(completed, key=lambda p: float(_row(p.point.params)["auc_mean"]))
    assert best.point.params == {"architecture.encoder": [8], "quantization.layers.enc0.weight": {"bits": 8, "integer": 3}}
    again, *_ = _search(tmp_path, SPACE)  # the same seed and rounds: the same proposals
    assert [p.point for p in again] == [p.point for p in proposals]


def test_random_search_stops_when_the_space_is_used_up(tmp_path):
    proposals, oracle, spec, card = _search(tmp_path, SPACE.replace("bayesian, trials: 12", "random, trials: 40"), 3)
    indices = [p.point.index for p in proposals]
    # each point at most once; the oracle stops after 20 draws in a row that were all tried (of 12 points)
    assert len(set(indices)) == len(indices) == len(oracle.trials) and 8 <= len(indices) <= 12
    other, *_ = _search(tmp_path, SPACE.replace("bayesian, trials: 12, seed: 3", "random, trials: 5, seed: 4"))
    assert [p.point.index for p in other] != [p.point.index for p in proposals][:5]  # the seed matters


def test_an_objective_that_is_not_a_number_is_a_failed_trial(tmp_path):
    (tmp_path / "grid.yaml").write_text(SPACE)
    spec = load_grid(tmp_path / "grid.yaml")
    oracle = make_oracle(spec, tmp_path / "oracle")
    [proposal] = propose(oracle, spec, load_card(tiny_card(tmp_path / "card")), 1)
    report(oracle, proposal, {"status": "ok", "auc_mean": "nan"}, "auc_mean")
    assert oracle.trials[proposal.trial.trial_id].status == "FAILED"


def test_parquet_holds_the_csv_rows_with_typed_columns(tmp_path):
    import pyarrow.parquet as pq

    header = ["point", "key", "status", "architecture.latent", "quantization.layers.enc0.weight",
              "lut", "auc_mean", "auc_float_mean", "error"]
    rows = [["committed", "c0", "ok", "", "", "120", "0.91", "nan", ""],
            ["0", "k0", "ok", "4", '{"bits": 3, "integer": 1}', "97", "0.875", "0.9", ""],
            ["1", "k1", "failed", "2", '{"bits": 6, "integer": 2}', "", "", "", "final_sparsity, must lie"]]
    results = tmp_path / "results.csv"
    with results.open("w", newline="") as stream:
        csv.writer(stream).writerows([header, *rows, ["2", "torn"]])
    types = column_types(header, ["lut", "auc_mean", "auc_float_mean"],
                         {"architecture.latent": [4, 2], "quantization.layers.enc0.weight": [{}, {}]})
    table = pq.read_table(write_parquet(results, header, types))
    assert table.column_names == header
    assert [str(table.schema.field(n).type) for n in header] == [
        "string", "string", "string", "int64", "string", "int64", "double", "double", "string"]
    got = table.to_pylist()
    assert [r["point"] for r in got] == ["committed", "0", "1"]  # the torn line is left out, as in the CSV
    assert got[1] == {"point": "0", "key": "k0", "status": "ok", "architecture.latent": 4,
                      "quantization.layers.enc0.weight": '{"bits": 3, "integer": 1}', "lut": 97, "auc_mean": 0.875,
                      "auc_float_mean": 0.9, "error": None}  # an empty cell is null
    assert math.isnan(got[0]["auc_float_mean"]) and got[0]["architecture.latent"] is None
    assert got[2]["lut"] is None and got[2]["error"] == "final_sparsity, must lie"


@pytest.mark.parametrize("entry, message", [
    ("search: {method: grid}", "needs a method of random, bayesian"),
    ("search: {method: random, trials: 0}", "positive integer trials and seed"),
    ("search: {method: random, seed: 0}", "positive integer trials and seed"),
    ("search: {method: random, budget: 3}", "search must map method, trials and seed"),
    ("search: random", "search must map method, trials and seed"),
])
def test_bad_search_entries_are_refused_in_one_line(tmp_path, entry, message):
    from codesign.errors import CodesignError

    (tmp_path / "grid.yaml").write_text(f"grid: {{architecture.latent: [4]}}\n{entry}\n")
    with pytest.raises(CodesignError, match=message) as err:
        load_grid(tmp_path / "grid.yaml")
    assert "\n" not in str(err.value) and "search: {method: random, trials: 12, seed: 1}" in str(err.value)


def test_auc_diff_min_is_the_worst_signal_against_the_committed_row():
    rows = [{"point": "committed", "status": "ok", "auc_a": "0.90", "auc_b": "0.60"},
            {"point": "0", "status": "ok", "auc_a": "0.95", "auc_b": "0.58"},  # better on a, worse on b
            {"point": "1", "status": "ok", "auc_a": "0.89", "auc_b": "0.70"},
            {"point": "2", "status": "failed", "auc_a": "", "auc_b": ""}]
    versus_committed(rows, ["a", "b"])
    assert [r["auc_diff_min"] for r in rows[2:]] == [repr(0.89 - 0.90), ""]
    assert float(rows[0]["auc_diff_min"]) == 0 and math.isclose(float(rows[1]["auc_diff_min"]), -0.02)
    assert float(rows[1]["auc_diff_min"]) < float(rows[2]["auc_diff_min"]) < 0
    alone = rows[1:]  # no committed row (a model without weights): nothing to compare with
    versus_committed(alone, ["a", "b"])
    assert {r["auc_diff_min"] for r in alone} == {""}


@pytest.mark.parametrize("extra", ["", "search: {method: random, trials: 2}\n"])
def test_auc_diff_min_objective_needs_a_grid_and_committed_weights(tmp_path, extra):
    from codesign.errors import CodesignError

    tiny_card(tmp_path / "card")  # without weights
    (tmp_path / "grid.yaml").write_text(f"objective: auc_diff_min\n{extra}grid: {{architecture.latent: [2, 3]}}\n")
    with pytest.raises(CodesignError, match="needs a grid .not a search. and a model with weights"):
        sweep(tmp_path / "card", tmp_path / "out", grid=tmp_path / "grid.yaml")
    assert not (tmp_path / "out").exists()
