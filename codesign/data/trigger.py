"""A Level-1 trigger inside the generator: PF candidates only for the crossings it accepts.

The HLT sees only crossings that Level-1 accepted, and PF candidates (particle-level pileup, tracks) cost
several times the Level-1 objects.  A zero bias for HLT rates therefore needs many crossings but PF for the
~1% that pass, e.g. AXOL1TL Medium.  `--pf-trigger MODEL:WORKING_POINT` makes every crossing of the sample
carry its Level-1 objects and weight (so rates keep their denominator) and PF candidates only where the zoo
model's bit-exact trigger chain fires.  The decision is taken on the view as stored (float32 objects), so a
reader recomputing the trigger from the file finds PF candidates exactly in the accepted crossings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.cache import content_key
from codesign.data.objects import Events
from codesign.data.views import VIEWS
from codesign.errors import CodesignError
from codesign.fixed.trigger import TriggerChain


@dataclass(frozen=True)
class Level1Filter:
    """A zoo model's trigger at one working point, applied to simulated crossings (picklable for workers)."""

    spec: str  # MODEL:WORKING_POINT
    chain: TriggerChain
    view: str
    working_point: str

    def __call__(self, events: Events) -> np.ndarray:
        """Which crossings the trigger accepts."""
        return self.chain.emulate(VIEWS[self.view](events.as_float32()))[self.working_point]


def parse(spec: str) -> tuple[str, str]:
    """(model, working point) of MODEL:WORKING_POINT, checked against the zoo card without loading weights."""
    from codesign.zoo.card import load_card

    model, sep, working_point = spec.partition(":")
    if not sep or not model or not working_point:
        raise CodesignError(f"--pf-trigger must be MODEL:WORKING_POINT, e.g. axol1tl:Medium; got {spec!r}")
    card = load_card(model)
    view = card.data["inputs"]["view"]
    if view not in VIEWS:
        raise CodesignError(f"--pf-trigger {spec}: {card.name} reads the {view!r} view, which the generator does not build")
    if working_point not in card.thresholds():
        raise CodesignError(f"--pf-trigger {spec}: {card.name} has the working points {', '.join(card.thresholds())}")
    if not card.encoder_path.is_file():
        raise CodesignError(f"--pf-trigger {spec}: {card.name} has no trained weights; run `codesign train {card.name}`")
    return card.name, working_point


def fingerprint(spec: str) -> str:
    """What decides the trigger's answers: the model's card and weights (a retrained model is a new filter)."""
    from codesign.zoo.card import CARD_FILE, load_card

    model, working_point = parse(spec)
    card = load_card(model)
    return content_key({"working_point": working_point}, [card.folder / CARD_FILE, card.encoder_path])


def load_filter(spec: str) -> Level1Filter:
    """The trigger of `spec`, its chain lowered from the zoo model's weights."""
    from codesign.zoo.loading import load_model

    model, working_point = parse(spec)
    loaded = load_model(model)
    return Level1Filter(spec, loaded.chain, loaded.card.data["inputs"]["view"], working_point)
