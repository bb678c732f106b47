"""A keras-tuner search over a sweep's grid, its oracle driven directly (no Tuner, no model built by keras-tuner).

Each grid entry is a `Choice` over the indices of its values; the oracle (`RandomSearchOracle` or
`BayesianOptimizationOracle`, seeded by the sweep file) proposes a round of points, the sweep runs them and
reports each point's objective back (`update_trial`, `end_trial`); a failed point, or one whose objective is
not a number, ends as a FAILED trial and the search goes on.  The oracle's files live in a temporary folder:
a rerun replays the search from the seed, answering the points already in the table from their rows, so the
same sweep file (and the same number of workers per round) proposes the same points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codesign.sweep.grid import Grid, Point
from codesign.zoo.card import Card


@dataclass(frozen=True)
class Proposal:
    """One trial of the oracle and the grid point it names."""

    trial: Any  # keras_tuner.engine.trial.Trial
    point: Point


def make_oracle(spec: Grid, folder: Path) -> Any:
    """The search's oracle (spec.search must be set), its state kept under `folder`."""
    import keras_tuner as kt

    search = spec.search
    space = kt.HyperParameters()
    for name, values in spec.parameters.items():
        space.Choice(name, list(range(len(values))))
    kind = kt.oracles.RandomSearchOracle if search.method == "random" else kt.oracles.BayesianOptimizationOracle
    # every failure is a table row, never the end of the search: no limit on consecutive failures
    oracle = kind(objective=kt.Objective(spec.objective, direction="max"), max_trials=search.trials,
                  hyperparameters=space, allow_new_entries=False, tune_new_entries=False, seed=search.seed,
                  max_consecutive_failed_trials=None)
    oracle.verbose = 0
    oracle._set_project_dir(str(folder), "oracle")
    return oracle


def propose(oracle: Any, spec: Grid, card: Card, slots: int) -> list[Proposal]:
    """Up to `slots` new trials (fewer when the oracle stops: trials used up or the space exhausted)."""
    proposals = []
    for slot in range(slots):
        trial = oracle.create_trial(f"slot{slot}")
        if trial.status != "RUNNING":
            break
        proposals.append(Proposal(trial, spec.point(card, trial.hyperparameters.values)))
    return proposals


def report(oracle: Any, proposal: Proposal, row: dict[str, Any], objective: str) -> None:
    """Tell the oracle how the proposal's point went: its objective from `row`, or a failure."""
    trial = proposal.trial
    text = row.get(objective, "") if row["status"] == "ok" else ""
    value = float(text) if text != "" else math.nan
    if math.isfinite(value):
        oracle.update_trial(trial.trial_id, {objective: value})
        trial.status = "COMPLETED"
    else:
        trial.status = "FAILED"
        trial.message = row.get("error") or f"{objective} is not a number"
    oracle.end_trial(trial)
