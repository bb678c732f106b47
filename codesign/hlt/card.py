"""The HLT model card (`models/hlt/card.yaml`): samples, architecture, training, GMM and working point.

Entries can be overridden by dotted paths (`architecture.embedding=16`), as the tests and quick runs do.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from codesign.atomic import atomic_path
from codesign.errors import CodesignError

CARD_FILE, WEIGHTS_FILE, ONNX_FILE, GMM_FILE, TRAIN_FILE = "card.yaml", "weights.npz", "model.onnx", "gmm.npz", "train.json"


def default_card_path() -> Path:
    from codesign.zoo.card import models_dir

    return models_dir() / "hlt" / CARD_FILE


def load_card(path: Path | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """The card at `path` (default: the zoo's HLT card) with dotted-path `overrides` applied."""
    path = Path(path) if path else default_card_path()
    if path.is_dir():
        path = path / CARD_FILE
    try:
        card = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CodesignError(f"cannot read HLT card {path}: {' '.join(str(err).split())}; give a card.yaml") from None
    card = copy.deepcopy(card)
    for key, value in (overrides or {}).items():
        node = card
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise CodesignError(f"card override {key!r}: {part!r} is not a section of the HLT card")
            node = node[part]
        if leaf not in node:
            raise CodesignError(f"card override {key!r}: no entry {leaf!r} in the HLT card")
        node[leaf] = value
    if card.get("inputs", {}).get("max_candidates", 0) < 1:
        raise CodesignError("inputs.max_candidates must be a positive number of candidates")
    return card


def save_card(card: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(card, sort_keys=False, width=120, default_flow_style=None))
