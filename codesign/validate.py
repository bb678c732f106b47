"""Checks of user-supplied arrays: real, finite numbers, with the first bad entry named."""

from __future__ import annotations

import numpy as np

from codesign.errors import CodesignError


def real_finite(x: np.ndarray, what: str, axes: tuple[str, ...] = ("row", "feature"),
                first_index: int = 0) -> np.ndarray:
    """`x` as float64 after checking it holds real, finite numbers; else one line naming `what` and the
    first bad entry (by `axes` names, e.g. row 3, feature 7; `first_index` is added to the first axis,
    for chunks of a larger array)."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        kind = {"c": "complex", "U": "string", "S": "bytes", "O": "object", "V": "structured",
                "M": "datetime", "m": "timedelta"}.get(x.dtype.kind, str(x.dtype))
        raise CodesignError(f"{what} holds {kind} values ({x.dtype}); give real numbers (int or float)")
    x = x.astype(np.float64, copy=False)
    bad = ~np.isfinite(x)
    if bad.any():
        where = np.unravel_index(int(np.argmax(bad)), x.shape)
        place = ", ".join(f"{name} {int(i) + (first_index if k == 0 else 0)}"
                          for k, (name, i) in enumerate(zip(axes, where)))
        raise CodesignError(f"{what} has {int(bad.sum())} non-finite value(s), the first {x[where]} at {place}; "
                            "inputs must be finite numbers")
    return x


#: Multiplications per dense layer and reuse step that the unrolled (io_parallel) HLS implementation allows:
#: Vivado/Vitis HLS stops unrolling loops above 4096 iterations, and the C-simulation's g++ needs minutes
#: (a 57x4096 layer: over ten) for such a layer, so larger ones are refused before any work.
MAX_DENSE_MULTIPLIERS = 4096


def check_dense_sizes(graph, reuse_factor: int) -> None:
    """Raise CodesignError if a Dense or Conv2D layer of `graph` needs more than MAX_DENSE_MULTIPLIERS multipliers
    (a convolution computes every output pixel at once: its kernel's multipliers times the pixels)."""
    from codesign.fixed.graph import Conv2D, Dense

    for op, shape in zip(graph.ops, graph.output_shapes):
        if isinstance(op, (Dense, Conv2D)):
            n_in, n_out = (op.matrix if isinstance(op, Conv2D) else op.weight).shape
            pixels = shape[0] * shape[1] if isinstance(op, Conv2D) else 1
            per_step = -(-n_in * n_out * pixels // reuse_factor)
            if per_step > MAX_DENSE_MULTIPLIERS:
                need = -(-n_in * n_out * pixels // MAX_DENSE_MULTIPLIERS)
                size = f"{n_in}x{n_out}" + (f" on {pixels} pixels" if pixels > 1 else "")
                raise CodesignError(
                    f"layer {op.name} ({size}) needs {per_step} multipliers per clock at reuse factor "
                    f"{reuse_factor}; the unrolled HLS limit is {MAX_DENSE_MULTIPLIERS}: use --reuse-factor >= {need} "
                    "or a smaller layer")
