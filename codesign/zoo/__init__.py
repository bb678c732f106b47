"""The model zoo: cards and one builder per model family."""

from codesign.zoo.card import Card, load_card, models_dir, zoo_names

__all__ = ["Card", "load_card", "models_dir", "zoo_names"]
