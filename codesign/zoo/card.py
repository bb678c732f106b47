"""Model cards: `models/<name>/card.yaml`, the single source of a zoo model's facts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from codesign.errors import CodesignError
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.scaling import Feature
from codesign.fixed.trigger import MAX_SHIFT, InputScaling, Score

CARD_FILE = "card.yaml"
ENCODER_FILE = "encoder.h5"
METRICS_FILE = "metrics.json"


def models_dir() -> Path:
    """The model zoo folder: `$CODESIGN_MODELS`, else `models/` of the source tree."""
    return Path(os.environ.get("CODESIGN_MODELS", Path(__file__).resolve().parents[2] / "models"))


def zoo_names() -> list[str]:
    """The trigger (FPGA) models of the zoo; cards with `target: cpu` (e.g. `suep`) belong to the ONNX path."""
    return sorted(p.parent.name for p in models_dir().glob(f"*/{CARD_FILE}") if not _cpu_card(p))


def _cpu_card(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # a broken trigger card is reported when it is loaded
    return isinstance(data, dict) and data.get("target") == "cpu"


@dataclass
class Card:
    """A parsed card and the folder it lives in."""

    folder: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def encoder_path(self) -> Path:
        return self.folder / ENCODER_FILE

    def format(self, spec: dict[str, Any]) -> FixedFormat:
        return FixedFormat(spec["width"], spec["integer"], spec.get("signed", True),
                           spec.get("rounding", "TRN"), spec.get("overflow", "WRAP"))

    def scaling(self) -> InputScaling:
        """The input scaling: integer offsets, shifts in -MAX_SHIFT..MAX_SHIFT (negative = left shift)."""
        inputs = self.data["inputs"]
        scaling = inputs["scaling"]
        path = self.folder / CARD_FILE
        if scaling.get("offsets") is None:
            raise CodesignError(f"card {path} has no input scaling yet; run `codesign train {self.name}`")
        offsets, shifts = np.array(scaling["offsets"]), np.array(scaling["shifts"])
        if offsets.shape != (inputs["size"],) or shifts.shape != (inputs["size"],):
            raise CodesignError(f"card {path}: inputs.scaling needs {inputs['size']} offsets and shifts; "
                                f"got {offsets.size} and {shifts.size}")
        if not (np.array_equal(offsets, np.round(offsets)) and np.array_equal(shifts, np.round(shifts))):
            raise CodesignError(f"card {path}: input offsets and shifts must be integers")
        if np.any(np.abs(shifts) > MAX_SHIFT):
            raise CodesignError(f"card {path}: input shifts must lie in -{MAX_SHIFT}..{MAX_SHIFT} "
                                "(a negative shift is a left shift)")
        return InputScaling(self.format(inputs["raw_format"]), offsets.astype(np.int64), shifts.astype(np.int64))

    def set_scaling(self, scaling: InputScaling) -> None:
        """Record `scaling` in the card (saved by `save`)."""
        self.data["inputs"]["scaling"] = {"offsets": scaling.offsets.tolist(), "shifts": scaling.shifts.tolist()}

    def features(self) -> list[Feature]:
        """The feature layout of the card's view (what each input column is)."""
        from codesign.zoo.features import view_features

        features = view_features(self.data["inputs"]["view"])
        if len(features) != self.data["inputs"]["size"]:
            raise CodesignError(f"card {self.folder / CARD_FILE}: inputs.size {self.data['inputs']['size']} but view "
                                f"{self.data['inputs']['view']} has {len(features)} features")
        return features

    def score(self) -> Score:
        """The score: `score.kind` (sum of squares, default, or the network's single output), `score.shift` bits
        right (default 0; sums of squares only), cast to `score.format`."""
        shift = self.data["score"].get("shift", 0)
        if not isinstance(shift, int) or isinstance(shift, bool) or not 0 <= shift <= MAX_SHIFT:
            raise CodesignError(f"card {self.folder / CARD_FILE}: score.shift must be an integer in 0..{MAX_SHIFT}, "
                                f"got {shift!r}")
        try:
            return Score(self.format(self.data["score"]["format"]), shift=shift,
                         kind=self.data["score"].get("kind", "sum_of_squares"))
        except ValueError as err:
            raise CodesignError(f"card {self.folder / CARD_FILE}: score: {err}") from None

    def thresholds(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self.data["working_points"].get("thresholds") or {}).items()}

    def save(self) -> None:
        """Write the card back (atomically)."""
        from codesign.atomic import atomic_path

        header = f"# Model card of {self.name}; trained fields written by `codesign train {self.name}`.\n"
        with atomic_path(self.folder / CARD_FILE) as tmp:
            tmp.write_text(header + yaml.safe_dump(self.data, sort_keys=False, width=120, default_flow_style=None))


def load_card(name_or_folder: str | Path, alternatives: str = "") -> Card:
    """The card of a zoo model (by name) or of a model folder; `alternatives` names what else the caller accepts
    (e.g. "a .h5 file"), for the error when there is no such card."""
    folder = Path(name_or_folder)
    if not (folder / CARD_FILE).is_file():
        folder = models_dir() / str(name_or_folder)
    path = folder / CARD_FILE
    if not path.is_file():
        known = ", ".join(zoo_names()) or "none"
        choices = f"a zoo model ({known}), a model folder or {alternatives}" if alternatives else \
            f"a zoo model ({known}) or a model folder"
        raise CodesignError(f"no model card for {name_or_folder!r}; give {choices}")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise CodesignError(f"cannot read model card {path}: {' '.join(str(err).split())}") from None
    check_card(data, path)
    return Card(folder, data)


#: Entries every card needs, with their types (the rest is read by the model family's code).
REQUIRED: dict[tuple[str, ...], type | tuple[type, ...]] = {
    ("name",): str, ("inputs",): dict, ("inputs", "view"): str, ("inputs", "raw_format"): dict,
    ("inputs", "raw_format", "width"): int, ("inputs", "raw_format", "integer"): int, ("inputs", "scaling"): dict,
    ("score",): dict, ("score", "format"): dict, ("score", "format", "width"): int,
    ("score", "format", "integer"): int, ("working_points",): dict,
}


def check_card(data: Any, path: Path) -> None:
    """Raise CodesignError naming the first missing or mistyped entry of a card."""
    if not isinstance(data, dict):
        raise CodesignError(f"model card {path} is not a YAML mapping (empty or malformed); restore it from git")
    for keys, kind in REQUIRED.items():
        node: Any = data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, kind) or isinstance(node, bool) and kind is int:
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise CodesignError(f"model card {path}: {'.'.join(keys)} is {node!r}, it must be a {want}; fix the card")
