"""Sweep grids: `SWEEP.yaml` to the points of a sweep (card overrides) and the settings every point shares.

    epochs: 20                      # training epochs per point (default: the card's training.epochs)
    events: {background: 200000, reference: 1250000, signal: 20000}  # at most this many events per sample
    part: xcvu9p                    # resources are reported as a fraction of this part
    clock_mhz: 40                   # the RTL is pipelined for this clock
    objective: auc_mean             # the Pareto front's physics axis (a column of the results table)
    grid:                           # card entries (dotted paths) and their values; every combination is a point
      architecture.encoder: [[32, 16], [16, 8]]
      quantization.layers.enc0.weight: [{bits: 6, integer: 2}, {bits: 4, integer: 1}]
      quantization.pruning.final_sparsity: [0.5, 0.75]
    search: {method: random, trials: 12, seed: 1}   # optional: a keras-tuner search instead of every combination

With `search:` the grid's lists are the search space (each entry a keras-tuner `Choice` over the indices of its
values, so lists and mappings are values too) and keras-tuner's oracle (`random` or `bayesian`, Gaussian
process; default random) proposes `trials` points (default 12; `seed`, a positive integer, default 1) in rounds
of at most the Dask workers' threads (one per worker on the local cluster), maximising the objective
(`codesign.sweep.search`).  A proposed point keeps its grid index and key, so a search run into a grid's folder
(or the reverse) reuses the finished points they share; the table keeps the rows of the current run's points.

A point's key hashes its parameters, the settings and the card (`card_hash`), so a changed card or grid never
reuses an old result.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import CodesignError
from codesign.zoo.card import CARD_FILE, Card

#: Card entries a grid may vary: everything under these prefixes (quantization.layers.* is created on demand).
SWEEPABLE = ("architecture.", "quantization.", "training.beta", "training.learning_rate", "training.batch_size",
             "training.seed")
SETTINGS = ("epochs", "events", "part", "clock_mhz", "objective", "grid", "search")
METHODS = ("random", "bayesian")
SAMPLES = ("background", "reference", "signal")
REUSE_NOTE = ("the sweep estimates the fully parallel da4ml RTL (II = 1), which has no reuse factor; "
              "give `--reuse-factor` to `codesign synth` of a promoted point instead")


@dataclass(frozen=True)
class Point:
    """One grid point: its position in the grid, its card overrides and its key."""

    index: int
    params: dict[str, Any]
    key: str


@dataclass(frozen=True)
class Search:
    """A keras-tuner search over the grid: the oracle (`method`), the number of trials, the oracle's seed."""

    method: str = "random"
    trials: int = 12
    seed: int = 1


@dataclass(frozen=True)
class Grid:
    """A parsed sweep file: the shared settings and the grid's parameters with their values."""

    source: str
    epochs: int | None = None
    events: dict[str, int] = field(default_factory=dict)
    part: str = "xcvu9p"
    clock_mhz: float = 40.0
    objective: str = "auc_mean"
    parameters: dict[str, list] = field(default_factory=dict)
    search: Search | None = None

    def settings(self) -> dict[str, Any]:
        """What every point shares (part of every key)."""
        return {"epochs": self.epochs, "events": self.events, "part": self.part, "clock_mhz": self.clock_mhz}

    def points(self, card: Card) -> list[Point]:
        """Every combination of the parameters' values, in grid order, keyed for `card`."""
        names = list(self.parameters)
        combos = itertools.product(*(self.parameters[n] for n in names))
        return [Point(i, params, point_key(card, params, self.settings()))
                for i, params in enumerate(dict(zip(names, values)) for values in combos)]

    def point(self, card: Card, choices: dict[str, int]) -> Point:
        """The point that takes value `choices[name]` (an index) of each parameter; its index is its grid position."""
        index = 0
        for name, values in self.parameters.items():
            index = index * len(values) + choices[name]
        params = {name: values[choices[name]] for name, values in self.parameters.items()}
        return Point(index, params, point_key(card, params, self.settings()))


def card_hash(card: Card) -> str:
    """SHA-256 of the card file as committed."""
    return hashlib.sha256((card.folder / CARD_FILE).read_bytes()).hexdigest()


def point_key(card: Card, params: dict[str, Any], settings: dict[str, Any]) -> str:
    text = json.dumps({"card": card_hash(card), "params": params, "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_grid(path: Path) -> Grid:
    """Parse and check a sweep file; a problem raises CodesignError naming the entry and the fix."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise CodesignError(f"cannot read sweep file {path}: {err.strerror}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise CodesignError(f"sweep file {path} is not valid YAML ({' '.join(str(err).split())[:200]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("grid"), dict) or not data["grid"]:
        raise CodesignError(f"sweep file {path} needs a `grid:` mapping of card entries to lists of values")
    unknown = set(data) - set(SETTINGS)
    if unknown:
        raise CodesignError(f"sweep file {path}: unknown entries {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(SETTINGS)}")
    for name, values in data["grid"].items():
        if "reuse" in str(name):
            raise CodesignError(f"sweep file {path}: {name} cannot be swept: {REUSE_NOTE}")
        if not isinstance(name, str) or not name.startswith(SWEEPABLE):
            raise CodesignError(f"sweep file {path}: grid entry {name!r} is not a sweepable card entry; "
                                f"use dotted card paths starting with {', '.join(SWEEPABLE)}")
        if not isinstance(values, list) or not values:
            raise CodesignError(f"sweep file {path}: grid entry {name} needs a non-empty list of values")
    epochs = data.get("epochs")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise CodesignError(f"sweep file {path}: epochs must be a positive integer, got {epochs!r}")
    events = data.get("events") or {}
    if not isinstance(events, dict) or set(events) - set(SAMPLES) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in events.values()):
        raise CodesignError(f"sweep file {path}: events must map {', '.join(SAMPLES)} to positive event counts")
    clock = data.get("clock_mhz", 40.0)
    if not isinstance(clock, (int, float)) or isinstance(clock, bool) or not 0 < clock <= 1000:
        raise CodesignError(f"sweep file {path}: clock_mhz must be a number in (0, 1000], got {clock!r}")
    return Grid(str(path), epochs, dict(events), str(data.get("part", "xcvu9p")), float(clock),
                str(data.get("objective", "auc_mean")), dict(data["grid"]), _search(path, data.get("search")))


def _search(path: Path, entry: Any) -> Search | None:
    if entry is None:
        return None
    fix = f"write e.g. `search: {{method: random, trials: 12, seed: 1}}` (methods: {', '.join(METHODS)})"
    if not isinstance(entry, dict) or set(entry) - {"method", "trials", "seed"}:
        raise CodesignError(f"sweep file {path}: search must map method, trials and seed; {fix}")
    search = Search(**entry)
    counts = (search.trials, search.seed)
    if search.method not in METHODS or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                                for n in counts):
        raise CodesignError(f"sweep file {path}: search {entry} needs a method of {', '.join(METHODS)} and "
                            f"positive integer trials and seed; {fix}")
    return search


def apply(card_data: dict[str, Any], params: dict[str, Any], where: str) -> dict[str, Any]:
    """A copy of `card_data` with each dotted entry of `params` set; an entry that is not in the card
    (except under quantization.layers) raises CodesignError."""
    data = copy.deepcopy(card_data)
    for name, value in params.items():
        node, keys = data, name.split(".")
        for depth, key in enumerate(keys[:-1]):
            if not isinstance(node.get(key), dict):
                if not name.startswith("quantization.layers.") or key in node and node[key] is not None:
                    raise CodesignError(f"{where}: the card has no entry {'.'.join(keys[:depth + 1])} (from grid "
                                        f"entry {name}); check the spelling against the card")
                node[key] = {}
            node = node[key]
        if keys[-1] not in node and not name.startswith("quantization.layers."):
            raise CodesignError(f"{where}: the card has no entry {name}; check the spelling against the card")
        node[keys[-1]] = copy.deepcopy(value)
    return data
