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
