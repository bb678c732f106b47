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

All arithmetic is on int64; every format here is at most 62 bits wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROUNDING_MODES = ("TRN", "RND", "RND_CONV")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_SYM")
MAX_WIDTH = 62


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
        """Real values to integer counts of this format (rounding, then overflow handling)."""
        scaled = np.asarray(values, dtype=np.float64) * 2.0**self.frac
        if self.rounding == "TRN":
            ints = np.floor(scaled)
        elif self.rounding == "RND":
            ints = np.floor(scaled + 0.5)
        else:
            ints = np.round(scaled)  # numpy rounds ties to even
        return self._overflow(ints.astype(np.int64))

    def requantize(self, ints: np.ndarray, frac: int) -> np.ndarray:
        """Integer counts with `frac` fractional bits to this format, exactly as an ap_fixed cast."""
        ints = np.asarray(ints, dtype=np.int64)
        shift = frac - self.frac
        if shift <= 0:
            return self._overflow(ints << -shift)
        floor = ints >> shift
        remainder = ints & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if self.rounding == "RND":
            floor = floor + (remainder >= half)
        elif self.rounding == "RND_CONV":
            floor = floor + ((remainder > half) | ((remainder == half) & (floor & 1).astype(bool)))
        return self._overflow(floor)

    def to_float(self, ints: np.ndarray) -> np.ndarray:
        """Exact float64 images of integer counts."""
        return np.asarray(ints, dtype=np.float64) * self.lsb

    def _overflow(self, ints: np.ndarray) -> np.ndarray:
        if self.overflow == "WRAP":
            modulus = 1 << self.width
            wrapped = ints & (modulus - 1)
            if self.signed:
                wrapped = np.where(wrapped >= modulus >> 1, wrapped - modulus, wrapped)
            return wrapped
        return np.clip(ints, self.min_int, self.max_int)

    def to_dict(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed,
                "rounding": self.rounding, "overflow": self.overflow}


def exact_sum_format(bound: int, frac: int) -> FixedFormat:
    """The narrowest signed format with `frac` fractional bits holding any integer in [-bound, bound]."""
    width = max(int(bound).bit_length() + 1, 2)
    return FixedFormat(width, width - frac, signed=True)
