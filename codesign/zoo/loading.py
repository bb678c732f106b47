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

    from codesign.kerasenv import check_one_keras

    check_one_keras()
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


def load_model(target: str | Path, hls_config: Path | None = None) -> LoadedModel:
    """`target` is a zoo model name, a model folder with a card, or a `.h5` file.

    Explicit accumulator/result precisions come from `hls_config` (hls4ml-style YAML), else from the card's
    ``hls_config`` mapping (`codesign.fixed.precisions`); without either every accumulator is exact."""
    from codesign.fixed.lower import lower_keras
    from codesign.fixed.precisions import parse_precisions, read_hls_config

    precisions = read_hls_config(hls_config) if hls_config is not None else None
    if str(target).endswith((".h5", ".hdf5", ".keras")):
        model = load_keras(Path(target))
        graph, note = lower_keras(model, precisions=precisions)
        return LoadedModel(Path(target).stem, model, graph, note)
    card = load_card(target, alternatives="a .h5 file")
    if not card.encoder_path.is_file():
        raise CodesignError(f"model {card.name} has no trained weights ({card.encoder_path}); run `codesign train {card.name}`")
    model = load_keras(card.encoder_path)
    if precisions is None:
        precisions = parse_precisions(card.data.get("hls_config"), f"{card.name} card, hls_config")
    graph, note = lower_keras(model, precisions=precisions)
    chain = TriggerChain(card.scaling(), graph, card.score(), card.thresholds())
    return LoadedModel(card.name, model, graph, note, card, chain)
