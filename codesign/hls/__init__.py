"""hls4ml projects generated from the fixed-point graph, and their bit-exact check against the emulator."""

from codesign.hls.compare import CompareResult, compare, edge_case_vectors
from codesign.hls.config import enforce_precisions, hls_config, layer_precisions
from codesign.hls.project import HLSProject, write_project

__all__ = [
    "CompareResult", "HLSProject", "compare", "edge_case_vectors", "enforce_precisions", "hls_config",
    "layer_precisions", "write_project",
]
