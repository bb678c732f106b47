"""Fixed-point number formats with the exact semantics of Xilinx `ap_fixed` / `ap_ufixed`.

A value is an integer count of the format's LSB, ``2**-frac``.  `width` and `integer` follow the
`ap_fixed<W, I>` convention (the integer bits include the sign bit of signed formats).  Rounding
and overflow modes are those of the ap_types library:

| mode | meaning |
|---|---|
| `TRN` | truncate towards minus infinity (the default) |
| `RND` | round to nearest, ties towards plus infinity |
| `RND_CONV` | round to nearest, ties to even (QKeras' `tf.round`) |
| `WRAP` | keep the low `width` bits, two's complement (the default) |
| `SAT` | clip to the representable range |
| `SAT_SYM` | clip symmetrically, to [-max, max] (signed only) |

Counts are carried as integer-valued float64 arrays: every format is at most 52 bits wide, so all
values and every product/sum the graphs form are exact in float64, and numpy's float kernels (BLAS
for matrix products, `rint` for ties-to-even) are several times faster than its int64 ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROUNDING_MODES = ("TRN", "RND", "RND_CONV")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_SYM")
MAX_WIDTH = 52


@dataclass(frozen=True)
class FixedFormat:
    """`ap_fixed<width, integer, rounding, overflow>` (or `ap_ufixed` when not `signed`)."""

    width: int
    integer: int
    signed: bool = True
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self) -> None:
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"fixed-point width must be 1..{MAX_WIDTH}, got {self.width}")
        if self.rounding not in ROUNDING_MODES or self.overflow not in OVERFLOW_MODES:
            raise ValueError(f"unknown rounding/overflow mode {self.rounding}/{self.overflow}")
        if self.overflow == "SAT_SYM" and not self.signed:
            raise ValueError("SAT_SYM applies to signed formats only")

    @property
    def frac(self) -> int:
        """Fractional bits: the LSB is 2**-frac (may be negative)."""
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return 2.0**-self.frac

    @property
    def min_int(self) -> int:
        if not self.signed:
            return 0
        return -(2 ** (self.width - 1)) + (1 if self.overflow == "SAT_SYM" else 0)

    @property
    def max_int(self) -> int:
        return 2 ** (self.width - self.signed) - 1

    @property
    def min_value(self) -> float:
        return self.min_int * self.lsb

    @property
    def max_value(self) -> float:
        return self.max_int * self.lsb

    def hls(self) -> str:
        """The HLS C++ type, e.g. ``ap_fixed<10,7,AP_RND_CONV,AP_SAT>``."""
        base = f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer}"
        if self.rounding == "TRN" and self.overflow == "WRAP":
            return base + ">"
        return base + f",AP_{self.rounding},AP_{self.overflow}>"

    def with_modes(self, rounding: str = "TRN", overflow: str = "WRAP") -> FixedFormat:
        return FixedFormat(self.width, self.integer, self.signed, rounding, overflow)

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Real values to counts of this format (rounding, then overflow handling)."""
        return self._overflow(self._round(np.asarray(values, dtype=np.float64) * 2.0**self.frac))

    def requantize(self, counts: np.ndarray, frac: int) -> np.ndarray:
        """Counts with `frac` fractional bits to this format, exactly as an ap_fixed cast."""
        scaled = np.asarray(counts, dtype=np.float64) * 2.0 ** (self.frac - frac)  # exact: power of two
        return self._overflow(self._round(scaled) if frac > self.frac else scaled)

    def to_float(self, counts: np.ndarray) -> np.ndarray:
        """Exact float64 images of counts."""
        return np.asarray(counts, dtype=np.float64) * self.lsb

    def _round(self, scaled: np.ndarray) -> np.ndarray:
        if self.rounding == "TRN":
            return np.floor(scaled)
        if self.rounding == "RND":
            return np.floor(scaled + 0.5)
        return np.rint(scaled)  # ties to even

    def _overflow(self, counts: np.ndarray) -> np.ndarray:
        if self.overflow == "WRAP":
            modulus = 2.0**self.width
            low = -(2.0 ** (self.width - 1)) if self.signed else 0.0
            return counts - modulus * np.floor((counts - low) / modulus)
        return np.clip(counts, self.min_int, self.max_int)

    def to_dict(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed,
                "rounding": self.rounding, "overflow": self.overflow}


def exact_sum_format(bound: int, frac: int) -> FixedFormat:
    """The narrowest signed format with `frac` fractional bits holding any integer in [-bound, bound]."""
    width = max(int(bound).bit_length() + 1, 2)
    return FixedFormat(width, width - frac, signed=True)
