"""Tiny synthetic samples and a tiny AXOL1TL card for sweep tests (no event generation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from codesign.data.objects import Collection, Events
from codesign.data.rootio import PF_EXTRA
from codesign.data.views import axol1tl
from codesign.metrics.report import Sample
from codesign.sweep import SweepData
from codesign.train.axol1tl import Samples
from codesign.zoo import load_card
from codesign.zoo.card import models_dir

SIGNALS = ("hard", "soft")


def synthetic_events(n: int, rng: np.random.Generator, scale: float) -> Events:
    """Level-1-like objects; `scale` hardens every pT spectrum (a signal-like sample)."""
    def collection(per_event: float, pt_scale: float) -> Collection:
        counts = rng.poisson(per_event, n)
        event = np.repeat(np.arange(n), counts)
        k = len(event)
        return Collection.sorted_by_pt(event, n, rng.exponential(pt_scale * scale, k), rng.uniform(-2.5, 2.5, k),
                                       rng.uniform(-np.pi, np.pi, k), iso=rng.integers(0, 2, k).astype(np.int8))

    empty = Collection(np.zeros(n, np.int64), *(np.zeros(0),) * 3, {k: np.zeros(0) for k in PF_EXTRA})
    return Events(collection(1, 8), collection(0.3, 5), collection(6, 15), collection(1, 10), empty,
                  rng.exponential(20 * scale, n), rng.uniform(-np.pi, np.pi, n), np.zeros((n, 0, 0)),
                  np.zeros(n, np.int32))


def synthetic_sample(name: str, n: int, seed: int, scale: float = 1.0) -> tuple[Sample, np.ndarray]:
    rng = np.random.default_rng(seed)
    events = synthetic_events(n, rng, scale)
    weights = rng.uniform(0.5, 1.5, n) / n  # weighted like zero bias
    return Sample(name, f"synthetic-{name}", events, weights), axol1tl(events)


def synthetic_data(events: int = 800) -> SweepData:
    parts = {"background": synthetic_sample("background", events, 1), "reference": synthetic_sample("reference", events, 2),
             **{name: synthetic_sample(name, events // 4, 3 + k, scale=3.0 + k) for k, name in enumerate(SIGNALS)}}
    samples = Samples(parts["background"][0], parts["reference"][0], {name: parts[name][0] for name in SIGNALS})
    return SweepData(samples, {name: raw for name, (_, raw) in parts.items()})


def tiny_card(folder: Path, with_weights: bool = False) -> Path:
    """A copy of the AXOL1TL card with a tiny encoder and one training epoch."""
    shutil.copytree(models_dir() / "axol1tl", folder, ignore=shutil.ignore_patterns("*.h5", "metrics.json", "sweep.yaml"))
    card = load_card(folder)
    card.data["architecture"] = {"encoder": [6], "latent": 2, "decoder": [6]}
    card.data["training"].update(epochs=1, batch_size=128, signals=list(SIGNALS))
    card.data["training"].pop("finetune", None)  # the grid's sparsity alone, no per-layer one
    card.data["quantization"].pop("layers", None)
    card.save()
    return folder


@pytest.fixture(scope="session")
def data() -> SweepData:
    return synthetic_data()
