"""Loading trained models: zoo names (card + weights) or any QKeras `.h5` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codesign.errors import CodesignError, one_line
from codesign.fixed.graph import Graph
from codesign.fixed.trigger import TriggerChain
from codesign.zoo.card import Card, load_card


def load_keras(path: Path):
    """A (Q)Keras model from an HDF5 file, with QKeras' layers and quantizers known."""
    from qkeras.utils import _add_supported_quantized_objects
    import keras

    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"model file {path} does not exist")
    custom: dict = {}
    _add_supported_quantized_objects(custom)
    try:
        return keras.models.load_model(path, custom_objects=custom, compile=False)
    except Exception as err:
        raise CodesignError(f"cannot load {path} as a Keras model ({one_line(err)})") from None


@dataclass
class LoadedModel:
    """A model ready for the downstream paths: its graph, and for zoo models the trigger chain."""

    name: str
    keras_model: object
    graph: Graph
    input_note: str
    card: Card | None = None
    chain: TriggerChain | None = None


def load_model(target: str | Path) -> LoadedModel:
    """`target` is a zoo model name, a model folder with a card, or a `.h5` file."""
    from codesign.fixed.lower import lower_keras

    if str(target).endswith((".h5", ".hdf5", ".keras")):
        model = load_keras(Path(target))
        graph, note = lower_keras(model)
        return LoadedModel(Path(target).stem, model, graph, note)
    card = load_card(target)
    if not card.encoder_path.is_file():
        raise CodesignError(f"model {card.name} has no trained weights ({card.encoder_path}); run `codesign train {card.name}`")
    model = load_keras(card.encoder_path)
    graph, note = lower_keras(model)
    chain = TriggerChain(card.scaling(), graph, card.score(), card.thresholds())
    return LoadedModel(card.name, model, graph, note, card, chain)
