"""da4ml's numba kernels: where their compiled code is cached, and what is compiled at all.

da4ml compiles its CMVM solver with numba on first use and caches it on disk (`$NUMBA_CACHE_DIR`, else
the codesign cache).  Measured on the AXOL1TL trace (numba compile events, exclusive seconds, cold
cache, loaded 2-core machine, 211 s of CPU for the compilation): `solve` 196 (of 638 wall), `jit_solve`
72, `kernel_decompose` 50, `_solve` 32, `cmvm` 24, the rest below 15 each, one signature each.
`solve`'s own share is numba's parallel (`prange`) pipeline around a loop of a few `jit_solve` calls
(one per decomposition depth); `use_serial_solver` compiles the same Python function without it: the
same RTL (byte-identical Verilog for AXOL1TL) for 153 s of CPU instead of 211.

A first synth on a machine starts the compilation in a background process before it imports TensorFlow and
loads the model (`start_compiling`, `compile_kernels`): the compilation is the first run's critical path, and
it no longer waits for those ten-odd seconds.
"""

from __future__ import annotations

import sys
import types

import numpy as np

from codesign.cache import configure_numba_cache
from codesign.proc import Background

#: What the one-off compilation costs, for the progress line (serial solver at `codesign.cache.COMPILE_OPT`, CPU
#: seconds).
COLD_COMPILE_S = 90


def use_serial_solver() -> None:
    """Make da4ml's tracer call its CMVM `solve` compiled without `parallel=True` (same code, same results,
    cached under its own name `solve_serial`)."""
    import numba
    from da4ml.cmvm import api
    from da4ml.trace import fixed_variable_array

    if getattr(fixed_variable_array.solve, "py_func", None) is not api.solve.py_func:
        return  # already replaced
    source = api.solve.py_func
    serial = types.FunctionType(source.__code__, source.__globals__, "solve_serial", source.__defaults__,
                                source.__closure__)
    serial.__qualname__, serial.__kwdefaults__, serial.__doc__ = "solve_serial", source.__kwdefaults__, source.__doc__
    fixed_variable_array.solve = numba.jit(cache=True)(serial)


def cache_cost_model() -> None:
    """da4ml's tracer prices every adder with `cost_add`, jitted without `cache=True`: every process compiled it
    again (about 0.5 s of each warm synth).  The tracer gets the same Python function jitted with the cache."""
    import numba
    from da4ml.trace import fixed_variable
    from numba.core.caching import NullCache

    if not isinstance(getattr(fixed_variable.cost_add, "_cache", None), NullCache):
        return  # already cached (here or by a later da4ml)
    fixed_variable.cost_add = numba.jit(cache=True)(fixed_variable.cost_add.py_func)


def kernels_cached() -> bool:
    """Whether the solver's compiled code is in the cache (False: the next trace compiles it, see COLD_COMPILE_S)."""
    from da4ml.trace import fixed_variable_array

    try:
        return bool(fixed_variable_array.solve._cache._cache_file._load_index())
    except (AttributeError, OSError):  # numba internals changed: cannot tell
        return True


def compile_kernels() -> None:
    """Compile and cache every da4ml kernel the tracer calls, by tracing one small dense layer the way
    `codesign.rtl.trace` does: numba compiles a function's whole call tree at its first call, for the argument
    types, and those do not depend on the layer's size (the cache then holds what a large model needs)."""
    from codesign.rtl import trace  # configures the cache, the serial solver and the cached cost model
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    weight = np.array([[3.0, -5.0, 0.0], [7.0, 1.0, -2.0]])
    inputs = FixedVariableArrayInput(2, hwconf=trace.HW_CONFIG, solver_options={"hard_dc": trace.DELAY_CONSTRAINT})
    x = inputs.quantize(1, 3, 2)
    x = trace.FixedVariableArray(x._vars, trace.solver_options(x, weight))
    comb_trace(inputs, (x @ weight).ravel())


def start_compiling() -> Background | None:
    """When the kernels are not cached, compile them in a background process now (`compile_kernels`), so the
    one-off compilation starts before TensorFlow's import and the model's load instead of after them; None when
    they are cached.  Wait for it before tracing (`finish_compiling`): the tracer then loads them from the cache."""
    configure_numba_cache()
    if kernels_cached():
        return None
    return Background([sys.executable, "-c", "from codesign.rtl.numba_cache import compile_kernels; compile_kernels()"])


def finish_compiling(compiling: Background | None) -> None:
    """Wait for `start_compiling`'s process.  Should it have failed, the tracer compiles what is missing itself."""
    if compiling is not None:
        compiling.wait()
