"""ROOT TTree input and output (uproot) and the branch mapping for user files.

A file written by `codesign data generate` has one TTree, ``Events``, with the branches listed in
`DEFAULT_MAPPING` (physical units: GeV, rad, cm) plus the ready-made views ``axol1tl``, ``gelato``
and ``cicada`` in hardware units, and a ``codesign_metadata`` JSON string describing the sample.

User files (e.g. real Level-1 ntuples) are read through a mapping with the same structure as
`DEFAULT_MAPPING` (a YAML file, see docs/data.md): it names the tree and, per collection, the
branches holding pT, eta and phi.  A view whose branch the mapping names under ``views`` is read
as is; otherwise it is built from the collections with the same code as generated events.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
import yaml

from codesign.atomic import atomic_path
from codesign.data import views
from codesign.data.objects import Collection, Events
from codesign.errors import CodesignError, one_line

TREE = "Events"
METADATA_KEY = "codesign_metadata"
PF_EXTRA = ("dxy", "dxysig", "pid")
_L1_COLLECTIONS = ("egamma", "muon", "jet", "tau")
#: Collections with an isolation flag (`extra["iso"]`, int8; optional for foreign files).
ISO_COLLECTIONS = ("egamma", "tau")

DEFAULT_MAPPING: dict[str, Any] = {
    "tree": TREE,
    "met": {"pt": "met_pt", "phi": "met_phi"},
    "collections": {
        **{c: {k: f"{c}_{k}" for k in ("pt", "eta", "phi", *(("iso",) if c in ISO_COLLECTIONS else ()))}
           for c in _L1_COLLECTIONS},
        "pf": {k: f"pf_{k}" for k in ("pt", "eta", "phi", *PF_EXTRA)},
    },
    "regions": "regions",
    "n_pileup": "n_pileup",  # optional: foreign files without it read as 0
    "weight": "weight",  # optional: foreign files without it are unweighted
    "pthat": "pthat",  # optional
    "lead_interaction": "lead_interaction",  # optional
    "views": {"axol1tl": "axol1tl", "gelato": "gelato", "cicada": "cicada"},
}
_OPTIONAL = ("n_pileup", "weight", "views")  # mapping keys that may be null
#: What each view is built from.
VIEW_INPUTS = {
    "axol1tl": ("met", "egamma", "muon", "jet"),
    "gelato": ("met", "jet", "tau", "muon"),
    "gelato_tob": ("met", "jet", "tau", "muon"),
    "cicada": ("regions",),
    "hlt": ("pf",),
    "suep": ("pf",),
}
VIEW_SHAPES = {"axol1tl": (57,), "gelato": (44,), "cicada": (18, 14)}


def branch_types() -> dict[str, Any]:
    """The TTree schema written by `codesign data generate`."""
    l1_object = ak.types.from_datashape("var * {pt: float32, eta: float32, phi: float32}", highlevel=False)
    flagged = ak.types.from_datashape("var * {pt: float32, eta: float32, phi: float32, iso: int8}", highlevel=False)
    pf_candidate = ak.types.from_datashape(
        "var * {pt: float32, eta: float32, phi: float32, dxy: float32, dxysig: float32, pid: int32}",
        highlevel=False,
    )
    return {
        "event": np.int64,
        "n_pileup": np.int32,
        "weight": np.float64,
        "pthat": np.float32,
        "lead_interaction": np.int32,
        "met_pt": np.float32,
        "met_phi": np.float32,
        **{c: flagged if c in ISO_COLLECTIONS else l1_object for c in _L1_COLLECTIONS},
        "pf": pf_candidate,
        "regions": np.dtype((np.float32, (18, 14))),
        "axol1tl": np.dtype((np.float32, (57,))),
        "gelato": np.dtype((np.float32, (44,))),
        "cicada": np.dtype((np.uint16, (18, 14))),
    }


def _pf_record(pt, eta, phi, dxy, dxysig, pid, counts) -> ak.Array:
    columns = {"pt": pt, "eta": eta, "phi": phi, "dxy": dxy, "dxysig": dxysig}
    record = {k: np.asarray(v, np.float32) for k, v in columns.items()}
    record["pid"] = np.asarray(pid, np.int32)
    return ak.unflatten(ak.zip(record), np.asarray(counts, np.int64))


def to_branches(events: Events, first_event: int) -> dict[str, Any]:
    """The branches of a batch of events, ready for `TTree.extend`."""
    events = events.as_float32()
    out: dict[str, Any] = {
        "event": np.arange(first_event, first_event + events.n_events, dtype=np.int64),
        "n_pileup": events.n_pileup.astype(np.int32),
        "weight": events.weight.astype(np.float64),
        "pthat": events.pthat.astype(np.float32),
        "lead_interaction": events.lead_interaction.astype(np.int32),
        "met_pt": events.met_pt,
        "met_phi": events.met_phi,
    }
    for name in _L1_COLLECTIONS:
        c: Collection = getattr(events, name)
        keys = ("pt", "eta", "phi", *(("iso",) if name in ISO_COLLECTIONS else ()))
        out[name] = ak.unflatten(ak.zip({k: c.columns()[k] for k in keys}), c.counts)
    pf = events.pf
    out["pf"] = _pf_record(pf.pt, pf.eta, pf.phi, *(pf.extra[k] for k in PF_EXTRA), pf.counts)
    out["regions"] = events.regions
    for name, build in views.VIEWS.items():
        out[name] = build(events)
    return out


class TreeWriter:
    """Writes event batches into a new ROOT file atomically: the file is complete or absent."""

    def __init__(self, path: Path, metadata: dict[str, Any]) -> None:
        self._path = Path(path)
        self._metadata = metadata
        self.n_events = 0

    def __enter__(self) -> TreeWriter:
        self._stack = contextlib.ExitStack()
        with self._stack:
            tmp = self._stack.enter_context(atomic_path(self._path))
            self._file = self._stack.enter_context(uproot.recreate(tmp, compression=uproot.LZ4(1)))
            self._tree = self._file.mktree(TREE, branch_types())
            self._stack = self._stack.pop_all()
        return self

    def write(self, events: Events) -> None:
        self._tree.extend(to_branches(events, self.n_events))
        self.n_events += events.n_events

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        if exc_type is None:
            self._file[METADATA_KEY] = json.dumps({**self._metadata, "events": self.n_events}, sort_keys=True)
        return self._stack.__exit__(exc_type, exc, tb)


def load_mapping(path: Path | None) -> dict[str, Any]:
    """The default mapping, updated with a user's YAML mapping file when one is given."""
    mapping = copy.deepcopy(DEFAULT_MAPPING)
    if path is None:
        return mapping
    try:
        user = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CodesignError(f"cannot read branch mapping {path}: {err}") from None
    if not isinstance(user, dict):
        raise CodesignError(f"branch mapping {path} must be a YAML mapping (see docs/data.md)")
    for key, value in user.items():
        if key not in mapping:
            raise CodesignError(f"branch mapping {path}: unknown key {key!r}; known: {', '.join(mapping)}")
        want = type(DEFAULT_MAPPING[key])
        if not isinstance(value, want) and not (value is None and key in _OPTIONAL):
            raise CodesignError(f"branch mapping {path}: {key!r} is {type(value).__name__} {value!r}, it must be a "
                                f"{'mapping' if want is dict else 'branch name'} (see docs/data.md)")
        mapping[key] = value
    return mapping


@contextlib.contextmanager
def damaged_file_errors(path: Path) -> Iterator[None]:
    """Turn the many exception types uproot and awkward raise for a damaged file into one CodesignError."""
    try:
        yield
    except CodesignError:
        raise
    except Exception as err:  # uproot raises many types for damaged files
        raise CodesignError(f"{path} is not a readable ROOT file ({one_line(err)}); regenerate it") from None


def open_tree(path: Path, tree: str = TREE):
    """The TTree `tree` of the ROOT file `path`, with one-line errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"ROOT file {path} does not exist")
    with damaged_file_errors(path):
        file = uproot.open(path)
        if tree not in file:
            trees = ", ".join(k.split(";")[0] for k, cls in file.classnames().items() if cls.startswith("TTree"))
            raise CodesignError(f"{path} has no tree {tree!r} (trees: {trees or 'none'}); set 'tree' in the mapping")
        result = file[tree]
        result.num_entries  # noqa: B018 (read now: a damaged header fails here)
    return result


def read_metadata(path: Path) -> dict[str, Any]:
    """The generation metadata of a file written by codesign (empty for foreign files)."""
    try:
        with uproot.open(path) as file:
            if METADATA_KEY not in file:
                return {}
            metadata = json.loads(str(file[METADATA_KEY]))
    except Exception as err:  # uproot raises many types for damaged files
        raise CodesignError(f"{path} is not a readable ROOT file ({one_line(err)}); regenerate it") from None
    if not isinstance(metadata, dict):
        raise CodesignError(f"{path}: the {METADATA_KEY} entry is not a JSON object; regenerate the file")
    return metadata


def read_view(
    path: Path, view: str, mapping: dict[str, Any] | None = None, entry_stop: int | None = None,
    entry_start: int = 0,
) -> np.ndarray | Collection:
    """Read one trigger view (`axol1tl`, `gelato`, `gelato_tob`, `cicada`, `hlt` or `suep`) of the events
    [entry_start, entry_stop) of a ROOT file."""
    if view not in VIEW_INPUTS:
        raise CodesignError(f"unknown view {view!r}; choose one of: {', '.join(VIEW_INPUTS)}")
    mapping = mapping or DEFAULT_MAPPING
    with damaged_file_errors(path):
        return _read_view(open_tree(path, mapping["tree"]), path, view, mapping, entry_start, entry_stop)


def _read_view(tree, path: Path, view: str, mapping: dict[str, Any], entry_start: int, entry_stop: int | None):
    if view in views.DERIVED_VIEWS:
        base, convert = views.DERIVED_VIEWS[view]
        return convert(_read_view(tree, path, base, mapping, entry_start, entry_stop))
    view_branch = (mapping.get("views") or {}).get(view)
    if view_branch and view_branch in tree:
        array = _read(tree, view_branch, path, (entry_start, entry_stop), library="np")
        expected = VIEW_SHAPES[view]
        if array.shape[1:] != expected:
            raise CodesignError(
                f"branch {view_branch!r} of {path} has per-event shape {array.shape[1:]}, the {view} view needs {expected}"
            )
        return array
    events = _read_events(tree, path, mapping, VIEW_INPUTS[view], (entry_start, entry_stop))
    if view == "hlt":
        return events.pf
    if view == "suep":
        return views.suep_images(events.pf)
    return views.VIEWS[view](events)


def read_weights(path: Path, mapping: dict[str, Any] | None = None, entry_stop: int | None = None) -> np.ndarray:
    """Per-event weights (float64): the fraction of the sample's population (bunch crossings for zero
    bias, events otherwise) each event stands for; uniform 1/N for files without a weight branch."""
    mapping = mapping or DEFAULT_MAPPING
    tree = open_tree(path, mapping["tree"])
    with damaged_file_errors(path):
        return _weights(tree, path, mapping, (0, entry_stop))


def _weights(tree, path: Path, mapping: dict[str, Any], entries: tuple[int, int | None]) -> np.ndarray:
    branch = mapping.get("weight")
    if branch and branch in tree:
        weights = np.asarray(_read(tree, branch, path, entries, "np"), np.float64)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise CodesignError(f"branch {branch!r} of {path} holds negative or non-finite weights")
        return weights
    start, stop = entries
    n = max(0, (tree.num_entries if stop is None else min(stop, tree.num_entries)) - start)
    return np.full(n, 1.0 / max(n, 1))


#: Everything `read_events` can read; `L1_PARTS` is what Level-1 seeds need (no PF candidates, no regions).
ALL_PARTS = ("met", *_L1_COLLECTIONS, "pf", "regions")
L1_PARTS = ("met", *_L1_COLLECTIONS)


def read_events(
    path: Path, mapping: dict[str, Any] | None = None, entry_stop: int | None = None, parts: tuple[str, ...] = ALL_PARTS
) -> Events:
    """The collections of a file as :class:`Events` (physical units); those not in `parts` are left empty."""
    mapping = mapping or DEFAULT_MAPPING
    tree = open_tree(path, mapping["tree"])
    with damaged_file_errors(path):
        return _read_events(tree, path, mapping, parts, (0, entry_stop))


def num_entries(path: Path, mapping: dict[str, Any] | None = None) -> int:
    """The number of events in the file's tree."""
    return open_tree(path, (mapping or DEFAULT_MAPPING)["tree"]).num_entries


def _read_events(tree, path: Path, mapping: dict[str, Any], needed, entries: tuple[int, int | None]) -> Events:
    start, stop = entries
    n = max(0, (tree.num_entries if stop is None else min(stop, tree.num_entries)) - start)
    empty = Collection(np.zeros(n, np.int64), *(np.zeros(0),) * 3, {k: np.zeros(0) for k in PF_EXTRA})
    parts: dict[str, Any] = {c: empty for c in (*_L1_COLLECTIONS, "pf")}
    parts.update(met_pt=np.zeros(n), met_phi=np.zeros(n), regions=np.zeros((n, 18, 14)), n_pileup=np.zeros(n, np.int32),
                 weight=_weights(tree, path, mapping, entries), pthat=np.zeros(n))
    for name, dtype in (("n_pileup", np.int32), ("pthat", np.float64), ("lead_interaction", np.int64)):
        branch = mapping.get(name)
        if branch and branch in tree:
            parts[name] = _read(tree, branch, path, entries, "np").astype(dtype)
    for item in needed:
        if item == "met":
            for key in ("pt", "phi"):
                parts[f"met_{key}"] = _read(tree, _mapped(mapping, "met", key), path, entries, "np").astype(np.float64)
        elif item == "regions":
            regions = _read(tree, _mapped(mapping, "regions"), path, entries, "np")
            if regions.shape[1:] != (18, 14):
                raise CodesignError(f"branch {mapping['regions']!r} of {path} has per-event shape {regions.shape[1:]}, regions need (18, 14)")
            parts["regions"] = regions.astype(np.float64)
        else:
            keys = ("pt", "eta", "phi", *(PF_EXTRA if item == "pf" else ()))
            iso_branch = (mapping["collections"].get(item) or {}).get("iso") if item in ISO_COLLECTIONS else None
            if iso_branch and iso_branch in tree:
                keys += ("iso",)
            columns = {k: _read(tree, _mapped(mapping, "collections", item, k), path, entries, "ak") for k in keys}
            counts = ak.to_numpy(ak.num(columns["pt"], axis=1)).astype(np.int64)
            flat = {k: ak.to_numpy(ak.flatten(v)) for k, v in columns.items()}
            flat.update({k: flat[k].astype(np.float64) for k in ("pt", "eta", "phi")})
            event = np.repeat(np.arange(n), counts)
            extra = {k: flat[k] for k in keys[3:]}
            parts[item] = Collection.sorted_by_pt(event, n, flat["pt"], flat["eta"], flat["phi"], **extra)
    return Events(**parts)


def _mapped(mapping: dict[str, Any], *keys: str) -> str:
    node: Any = mapping
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise CodesignError(f"branch mapping has no entry {'.'.join(keys)}; add it to the mapping file")
        node = node[key]
    if not isinstance(node, str):
        raise CodesignError(f"branch mapping entry {'.'.join(keys)} is {node!r}; it must be a branch name (a string)")
    return node


def _read(tree, branch: str, path: Path, entries: tuple[int, int | None], library: str):
    if branch not in tree:
        raise CodesignError(f"branch {branch!r} not found in {path}:{tree.name}; fix the branch mapping (--mapping)")
    try:
        return tree[branch].array(library=library, entry_start=entries[0], entry_stop=entries[1])
    except Exception as err:
        raise CodesignError(f"cannot read branch {branch!r} of {path} ({one_line(err)})") from None
