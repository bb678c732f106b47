"""RTL generation: the fixed-point graph traced with da4ml, pipelined to a clock, written as Verilog."""

from codesign.cache import configure_numba_cache
from codesign.rtl.numba_cache import cache_cost_model, use_serial_solver

configure_numba_cache()  # before anything imports da4ml (its numba kernels are compiled and cached)

from codesign.rtl.generate import Field, PortGroup, RTLProject, latency_cutoff, write_rtl, write_trigger_rtl  # noqa: E402
from codesign.rtl.trace import cast, run_logic, trace_graph  # noqa: E402

use_serial_solver()  # the same solutions for a fraction of the one-off compilation (see numba_cache)
cache_cost_model()

__all__ = ["Field", "PortGroup", "RTLProject", "write_trigger_rtl", "cast", "latency_cutoff", "run_logic", "trace_graph", "write_rtl"]
