"""A Level-1 menu: named seeds, each an AND of simple conditions, evaluated vectorised on `Events`.

The menu is YAML (the built-in one is `menu_run3.yaml`; users pass their own with ``--menu``)::

    seeds:
      DoubleEG_25_12er2p5:
        anchor_khz: null            # optional: a reference rate (kHz) to compare with
        description: two e/gamma    # optional
        all:                        # conditions, all required (AND)
          - {object: egamma, pt: [25, 12], eta: 2.5}

Conditions (thresholds in GeV; ``pt >= threshold``, ``|eta| < eta``, as the uGT compares):

* ``{object: egamma|muon|jet|tau, pt: P or [P1, P2, ...], count: N, eta: E, iso: true}``: at least
  N distinct objects with |eta| < E (and isolated when ``iso``), the i-th of them with pT >= Pi.
  ``count`` defaults to the number of thresholds (one threshold with ``count: N`` applies to all N).
  ``iso`` reads the collection's ``iso`` column (1 = isolated); events without it are an error.
* ``{ht: H, jet_pt: 30, jet_eta: 2.4}``: HT, the scalar pT sum of jets with pT >= jet_pt and
  |eta| < jet_eta (defaults as the Run-3 HTT), at least H.
* ``{met: M}``: missing transverse energy (``met_pt``) at least M.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from codesign.data.objects import Collection, Events
from codesign.errors import CodesignError

BUILTIN_MENU = "menu_run3.yaml"
OBJECTS = ("egamma", "muon", "jet", "tau")
HT_JET_PT, HT_JET_ETA = 30.0, 2.4
_OBJECT_KEYS = ("object", "pt", "count", "eta", "iso")
_HT_KEYS = ("ht", "jet_pt", "jet_eta")
_SEED_KEYS = ("all", "anchor_khz", "description")


@dataclass(frozen=True)
class ObjectCondition:
    collection: str
    thresholds: tuple[float, ...]  # non-increasing
    eta_max: float | None = None
    iso: bool = False

    def evaluate(self, events: Events, seed: str, source: str) -> np.ndarray:
        c: Collection = getattr(events, self.collection)
        selected = np.ones(len(c.pt), bool) if self.eta_max is None else np.abs(c.eta) < self.eta_max
        if self.iso:
            iso = c.extra.get("iso")
            if iso is None:
                raise CodesignError(f"seed {seed} needs {self.collection} isolation (column 'iso'), which {source} "
                                    "lacks; use a sample with isolation flags or a menu without iso seeds (--menu)")
            selected &= np.asarray(iso) == 1
        event = c.event_index
        passed = np.ones(c.n_events, bool)
        # Thresholds are nested (non-increasing), so distinct objects exist iff, for every i, at least
        # i+1 selected objects pass the i-th threshold.
        for i, threshold in enumerate(self.thresholds):
            passed &= np.bincount(event[selected & (c.pt >= threshold)], minlength=c.n_events) > i
        return passed


@dataclass(frozen=True)
class HTCondition:
    threshold: float
    jet_pt: float = HT_JET_PT
    jet_eta: float = HT_JET_ETA

    def evaluate(self, events: Events, seed: str, source: str) -> np.ndarray:
        return ht(events.jet, self.jet_pt, self.jet_eta) >= self.threshold


@dataclass(frozen=True)
class METCondition:
    threshold: float

    def evaluate(self, events: Events, seed: str, source: str) -> np.ndarray:
        return np.asarray(events.met_pt) >= self.threshold


Condition = ObjectCondition | HTCondition | METCondition


def ht(jets: Collection, jet_pt: float = HT_JET_PT, jet_eta: float = HT_JET_ETA) -> np.ndarray:
    """Per-event scalar pT sum of jets with pT >= jet_pt and |eta| < jet_eta (GeV)."""
    keep = (jets.pt >= jet_pt) & (np.abs(jets.eta) < jet_eta)
    return np.bincount(jets.event_index[keep], weights=jets.pt[keep], minlength=jets.n_events)


@dataclass(frozen=True)
class Seed:
    name: str
    conditions: tuple[Condition, ...]
    anchor_khz: float | None = None
    description: str = ""

    def evaluate(self, events: Events, source: str = "the events") -> np.ndarray:
        passed = np.ones(events.n_events, bool)
        for condition in self.conditions:
            passed &= condition.evaluate(events, self.name, source)
        return passed


@dataclass(frozen=True)
class Menu:
    seeds: tuple[Seed, ...]
    source: str

    def evaluate(self, events: Events, source: str = "the events") -> dict[str, np.ndarray]:
        """Per seed, which events fire it (bool)."""
        return {seed.name: seed.evaluate(events, source) for seed in self.seeds}

    @staticmethod
    def any_fired(fired: dict[str, np.ndarray]) -> np.ndarray:
        """Events firing at least one seed (the menu's OR)."""
        return np.logical_or.reduce(list(fired.values()))


def load_menu(path: Path | str | None = None) -> Menu:
    """A menu YAML file, or the built-in Run-3-like menu when `path` is None."""
    if path is None:
        text, source = resources.files("codesign.metrics").joinpath(BUILTIN_MENU).read_text(), BUILTIN_MENU
    else:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise CodesignError(f"cannot read menu {path}: {err.strerror}; give an existing YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CodesignError(f"menu {source} is not valid YAML ({' '.join(str(err).split())})") from None
    return parse_menu(data, source)


def parse_menu(data: Any, source: str) -> Menu:
    """Validate a parsed menu; every problem is a one-line CodesignError naming the seed and key."""
    def fail(where: str, problem: str) -> CodesignError:
        return CodesignError(f"menu {source}: {where}: {problem} (see codesign/metrics/menu.py for the grammar)")

    if not isinstance(data, dict) or not isinstance(data.get("seeds"), dict) or not data["seeds"]:
        raise fail("top level", "needs a non-empty mapping 'seeds: {NAME: {all: [conditions]}}'")
    if set(data) - {"seeds"}:
        raise fail("top level", f"unknown key(s) {sorted(set(data) - {'seeds'})}; only 'seeds'")
    seeds = []
    for name, spec in data["seeds"].items():
        where = f"seed {name}"
        if not isinstance(spec, dict):
            raise fail(where, f"must be a mapping with keys {', '.join(_SEED_KEYS)}")
        _known_keys(spec, _SEED_KEYS, lambda p: fail(where, p))
        conditions = spec.get("all")
        if not isinstance(conditions, list) or not conditions:
            raise fail(where, "needs 'all:' with a non-empty list of conditions")
        parsed = tuple(_condition(c, lambda p, i=i: fail(f"{where}: condition {i + 1}", p))
                       for i, c in enumerate(conditions))
        anchor = spec.get("anchor_khz")
        if anchor is not None:
            anchor = _number(anchor, "anchor_khz", lambda p: fail(where, p))
        seeds.append(Seed(str(name), parsed, anchor, str(spec.get("description", ""))))
    return Menu(tuple(seeds), source)


def _condition(spec: Any, fail) -> Condition:
    if not isinstance(spec, dict):
        raise fail("must be a mapping with one of 'object', 'ht' or 'met'")
    kinds = [k for k in ("object", "ht", "met") if k in spec]
    if len(kinds) != 1:
        raise fail(f"needs exactly one of 'object', 'ht', 'met' (has {kinds or 'none'})")
    if kinds[0] == "met":
        _known_keys(spec, ("met",), fail)
        return METCondition(_number(spec["met"], "met", fail))
    if kinds[0] == "ht":
        _known_keys(spec, _HT_KEYS, fail)
        return HTCondition(_number(spec["ht"], "ht", fail), _number(spec.get("jet_pt", HT_JET_PT), "jet_pt", fail),
                           _number(spec.get("jet_eta", HT_JET_ETA), "jet_eta", fail))
    _known_keys(spec, _OBJECT_KEYS, fail)
    if spec["object"] not in OBJECTS:
        raise fail(f"object {spec['object']!r} is not one of {', '.join(OBJECTS)}")
    if "pt" not in spec:
        raise fail("needs 'pt' (a threshold or a list of thresholds)")
    pts = spec["pt"] if isinstance(spec["pt"], list) else [spec["pt"]]
    thresholds = [_number(p, "pt", fail) for p in pts]
    count = spec.get("count", len(thresholds))
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise fail(f"count must be a positive integer, not {count!r}")
    if len(thresholds) == 1:
        thresholds *= count
    elif len(thresholds) != count:
        raise fail(f"count {count} does not match the {len(thresholds)} pt thresholds")
    eta = spec.get("eta")
    iso = spec.get("iso", False)
    if not isinstance(iso, bool):
        raise fail(f"iso must be true or false, not {iso!r}")
    return ObjectCondition(spec["object"], tuple(sorted(thresholds, reverse=True)),
                           None if eta is None else _number(eta, "eta", fail), iso)


def _known_keys(spec: dict, known: tuple[str, ...], fail) -> None:
    unknown = sorted(set(map(str, spec)) - set(known))
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(known)}")


def _number(value: Any, key: str, fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise fail(f"{key} must be a non-negative number, not {value!r}")
    return float(value)
