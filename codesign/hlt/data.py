"""HLT samples: the card's generation requests, the `hlt` view of each file, and which events pass the
Level-1 AXOL1TL working point (the bit-exact trigger emulation of the zoo model with its card thresholds)."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError


@dataclass
class HltSample:
    """One file: the candidates (n_held, N, 6) of the events that have PF candidates (`rows`, all events when
    None), every event's weight and (when asked) Level-1 score.  A zero bias filtered at Level-1 holds PF
    candidates in a few hundred of its million crossings; only those are built into dense arrays."""

    name: str
    path: str
    candidates: np.ndarray
    weights: np.ndarray
    l1_scores: np.ndarray | None = None
    rows: np.ndarray | None = None

    @property
    def held(self) -> np.ndarray:
        """The event indices of `candidates`' rows."""
        return np.arange(len(self.weights)) if self.rows is None else self.rows

    def candidates_of(self, events: np.ndarray) -> np.ndarray:
        """The candidates of the events selected by the boolean mask `events`; each must hold candidates."""
        if self.rows is None:
            return self.candidates[events]
        wanted = np.flatnonzero(events)
        at = np.searchsorted(self.rows, wanted)
        if len(wanted) and (at.max() >= len(self.rows) or not np.array_equal(self.rows[at], wanted)):
            raise CodesignError(f"{self.path}: some selected events carry no PF candidates; generate the file with PF "
                                "candidates in them (codesign data generate without --no-pf, or with a looser --pf-trigger)")
        return self.candidates[at]


ROLES = ("classes", "signals", "zerobias")


def requests(card: dict) -> dict[str, dict]:
    """Every sample the card asks for, by role: `classes` (SM training mix), `signals`, `zerobias`."""
    data = card["data"]
    base = {"pileup": data["pileup"], "seed": data["seed"]}
    return {
        "classes": {name: {**base, "process": name, "events": n} for name, n in data["classes"].items()},
        "signals": {name: {**base, "process": name, "events": n} for name, n in data["signals"].items()},
        # PF candidates only where the Level-1 working point fires: the HLT never sees the other crossings, and
        # the sample can then be large enough for kHz-level rates (`codesign.data.trigger`)
        "zerobias": {"zerobias": {**base, "process": "zerobias", "events": data["zerobias_events"],
                                  "seed": data.get("zerobias_seed", data["seed"]),
                                  "pf_trigger": f"{card['level1']['model']}:{card['level1']['working_point']}"}},
    }


def generate_samples(card: dict, folder: Path, jobs: int = 2, progress: bool = True, roles: tuple[str, ...] = ROLES
                     ) -> dict[str, dict[str, Path]]:
    """Generate (or copy from the cache) the card's samples of `roles` into `folder`: role -> name -> path."""
    from codesign.data import GenerationRequest, generate

    paths: dict[str, dict[str, Path]] = {}
    for role, specs in requests(card).items():
        if role not in roles:
            continue
        paths[role] = {}
        for name, spec in specs.items():
            request = GenerationRequest(spec["process"], spec["events"], pileup=spec["pileup"], seed=spec["seed"], pf=True,
                                        pf_trigger=spec.get("pf_trigger"))
            paths[role][name], _ = generate(request, folder / f"{name}.root", jobs=jobs, progress=progress)
    return paths


def read_sample(name: str, path: Path, max_candidates: int, l1=None) -> HltSample:
    """A file's `hlt` view, weights and (with `l1`, a `metrics.report.Model`) Level-1 scores."""
    from codesign.data.rootio import read_events, read_view, read_weights
    from codesign.data.views import hlt

    events = read_events(path, parts=("pf",))
    if events.pf is None or not {"dxy", "dxysig", "pid"} <= set(events.pf.extra):
        raise CodesignError(f"{path} has no PF candidates with dxy, dxysig, pid; generate it without --no-pf")
    pf, rows = events.pf, np.flatnonzero(events.pf.counts)
    if len(rows) < pf.n_events:  # events without candidates (e.g. rejected at Level-1) are not built
        pf = dataclasses.replace(pf, counts=pf.counts[rows])
    candidates, _ = hlt(pf, max_candidates)
    scores = l1.scores(read_view(path, l1.view)) if l1 is not None else None
    return HltSample(name, str(path), candidates, read_weights(path), scores,
                     rows if len(rows) < events.pf.n_events else None)


def level1(card: dict):
    """The card's Level-1 zoo model (bit-exact trigger chain) and its working-point thresholds (score units)."""
    from codesign.metrics.report import load_zoo_model

    model = load_zoo_model(card["level1"]["model"])
    thresholds = {name: t * model.lsb for name, t in model.chain.thresholds.items()}
    if card["level1"]["working_point"] not in thresholds:
        raise CodesignError(f"level1.working_point {card['level1']['working_point']!r} is not one of "
                            f"{', '.join(thresholds)} of {model.name}; fix the HLT card")
    return model, thresholds


def load_all(card: dict, paths: dict[str, dict[str, Path]] | None = None, jobs: int = 2, progress: bool = True,
             roles: tuple[str, ...] = ROLES) -> dict[str, dict[str, HltSample]]:
    """The samples of `roles` of the card (generated unless `paths` gives files per role and name), read as
    `hlt` views; signals and zero bias carry Level-1 scores."""
    n = card["inputs"]["max_candidates"]
    l1 = level1(card)[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths = paths or generate_samples(card, Path(tmp), jobs, progress, roles)
        return {role: {name: read_sample(name, path, n, None if role == "classes" else l1)
                       for name, path in files.items()} for role, files in paths.items()}
