"""Offline collision events: Pythia 8 generation, pileup, L1 detector simulation, trigger views, ROOT I/O."""

from codesign.data.generate import GenerationRequest, generate
from codesign.data.processes import PROCESSES, get_process
from codesign.data.rootio import load_mapping, read_events, read_view, read_weights

__all__ = ["PROCESSES", "GenerationRequest", "generate", "get_process", "load_mapping", "read_events", "read_view", "read_weights"]
