"""The SUEP ConvAE card (`models/suep/card.yaml`): images, architecture, samples, training, evaluation."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codesign.data.processes import get_process
from codesign.errors import CodesignError
from codesign.suep.data import ImageSpec

DEFAULT_CARD = Path(__file__).resolve().parents[2] / "models" / "suep" / "card.yaml"
SECTIONS = ("images", "architecture", "data", "training", "evaluation")


@dataclass
class SuepCard:
    """A parsed card (`data` is the YAML as a dict) and where it came from."""

    path: Path
    data: dict[str, Any]

    @property
    def images(self) -> ImageSpec:
        return ImageSpec(**self.data["images"])

    @property
    def training(self) -> dict[str, Any]:
        return self.data["training"]

    @property
    def samples(self) -> dict[str, Any]:
        return self.data["data"]

    def overridden(self, **values: Any) -> SuepCard:
        """A copy with `background_events`, `signal_events`, `epochs`, `batch_size` replaced (None: kept)."""
        data = copy.deepcopy(self.data)
        where = {"background_events": ("data", "background_events"), "signal_events": ("data", "signal_events"),
                 "epochs": ("training", "epochs"), "batch_size": ("training", "batch_size")}
        for key, value in values.items():
            if value is not None:
                *parents, leaf = where[key]
                node = data
                for p in parents:
                    node = node[p]
                node[leaf] = value
        return SuepCard(self.path, data)

    def dump(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False, width=120, default_flow_style=None)


def load_card(path: Path | None = None) -> SuepCard:
    """Read and check a SUEP card (default: the zoo's `models/suep/card.yaml`)."""
    path = Path(path or DEFAULT_CARD)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise CodesignError(f"cannot read SUEP card {path}: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict) or any(not isinstance(data.get(s), dict) for s in SECTIONS):
        raise CodesignError(f"SUEP card {path} needs the sections {', '.join(SECTIONS)}; start from {DEFAULT_CARD}")
    card = SuepCard(path, data)
    try:
        spec = card.images
    except TypeError as err:
        raise CodesignError(f"SUEP card {path}: images: {err}; allowed keys: n_eta, n_phi, hcal_cell, eta_max, "
                            "scale_gev, ht_min_gev") from None
    if min(spec.n_eta, spec.n_phi, spec.hcal_cell) < 1 or spec.scale_gev <= 0:
        raise CodesignError(f"SUEP card {path}: images need positive n_eta, n_phi, hcal_cell and scale_gev")
    for name in (card.samples.get("background"), *card.samples.get("signals", ())):
        get_process(str(name))
    return card
