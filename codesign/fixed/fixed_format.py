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

Counts are carried as integer-valued float32 arrays while every value fits in `FLOAT32_BITS` (23) bits,
else as float64 while every value fits in `FLOAT_BITS` (52) bits: then every product and sum is exact
(one bit below the significand, so a rounding's ``+ 0.5`` is exact too), and numpy's float kernels (BLAS
for matrix products, `rint` for ties-to-even) are several times faster than its int64 ones, float32's
twice as fast as float64's (half the memory, twice the SIMD lanes).  Wider values
(accumulators of wide layers) are carried as int64 up to `INT64_BITS` bits and as Python integers
(numpy object arrays) beyond: `requantize` takes either kind and stays exact; `count_dtype` picks one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

ROUNDING_MODES = ("TRN", "RND", "RND_CONV")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_SYM")
MAX_WIDTH = 1024  # ap_fixed's own limit
_HLS_TYPE = re.compile(r"(ap_fixed|ap_ufixed|ap_int|ap_uint)<(-?\d+(?:,-?\w+)*)>")
FLOAT32_BITS = 23  # counts this wide are exact integer-valued float32
FLOAT_BITS = 52  # counts this wide are exact integer-valued float64
INT64_BITS = 62  # counts this wide (with headroom for one addition) are exact int64


def count_dtype(width: int):
    """The fastest exact array type for counts (and their sums of two) of at most `width` bits."""
    if width <= FLOAT32_BITS:
        return np.float32
    if width <= FLOAT_BITS:
        return np.float64
    return np.int64 if width <= INT64_BITS else object


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

    @classmethod
    def parse(cls, text: str) -> FixedFormat:
        """An HLS type: ``ap_fixed<W,I[,Q[,O]]>``, ``ap_ufixed<...>``, ``ap_int<W>``, ``ap_uint<W>`` (ap_types'
        defaults ``AP_TRN``, ``AP_WRAP`` when not stated); ValueError for anything else."""
        match = _HLS_TYPE.fullmatch(text.replace(" ", ""))
        if match is None:
            raise ValueError(f"{text!r} is not an HLS type like ap_fixed<16,6> or ap_ufixed<10,6,AP_RND_CONV,AP_SAT>")
        kind, args = match.group(1), match.group(2).split(",")
        if kind.endswith("int"):
            if len(args) != 1:
                raise ValueError(f"{text!r}: {kind} takes one width")
            return cls(int(args[0]), int(args[0]), kind == "ap_int")
        if not 2 <= len(args) <= 4 or any(not a.startswith("AP_") for a in args[2:]):
            raise ValueError(f"{text!r}: {kind} takes <width, integer[, AP_rounding[, AP_overflow]]>")
        modes = [a[3:] for a in args[2:]] + ["TRN", "WRAP"][len(args) - 2:]
        return cls(int(args[0]), int(args[1]), kind == "ap_fixed", *modes)

    def with_modes(self, rounding: str = "TRN", overflow: str = "WRAP") -> FixedFormat:
        return FixedFormat(self.width, self.integer, self.signed, rounding, overflow)

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Real values to counts of this format (rounding, then overflow handling)."""
        values = np.asarray(values, dtype=np.float64)
        if self.frac < 0 and self.rounding == "TRN":  # floor(v / 2**k) = floor(floor(v) / 2**k): no underflow to -0
            values = np.floor(values)
        return self._overflow(self._round(values * 2.0**self.frac))

    def requantize(self, counts: np.ndarray, frac: int, relu: bool = False) -> np.ndarray:
        """Counts with `frac` fractional bits to this format, exactly as an ap_fixed cast (after a ReLU when
        `relu`: ``max(x, 0)``).

        Integer arrays (int64 or object) stay integer, on an exact integer path; float32 stays float32 (its
        counts must fit `FLOAT32_BITS`); anything else is float64.  `counts` is never modified.
        """
        counts = np.asarray(counts)
        if counts.dtype.kind in "iuO":
            out = self._int_requantize(np.maximum(counts, 0) if relu else counts, frac)
            return out.astype(np.int64) if counts.dtype != object and self.width <= INT64_BITS else out
        dtype = np.dtype(np.float32 if counts.dtype == np.float32 else np.float64)
        scaled = np.multiply(counts, dtype.type(2.0 ** (self.frac - frac)), dtype=dtype)  # exact: power of two
        if frac > self.frac:
            self._round(scaled)
        # a ReLU commutes with every rounding (monotone, 0 stays 0): after it, before the overflow
        return self._overflow(scaled, relu)

    def _int_requantize(self, counts: np.ndarray, frac: int) -> np.ndarray:
        drop = frac - self.frac
        if drop < 0 and counts.dtype != object and counts.size:
            largest = int(np.abs(counts).max())
            if largest.bit_length() - drop > INT64_BITS:  # the left shift would overflow int64
                counts = counts.astype(object)
        if drop <= 0:
            scaled = counts << -drop
        else:
            scaled = counts >> drop  # floor
            if self.rounding != "TRN":
                rest, half = counts - (scaled << drop), 1 << (drop - 1)
                up = rest >= half if self.rounding == "RND" else (rest > half) | ((rest == half) & (scaled & 1 == 1))
                scaled = scaled + up.astype(scaled.dtype)
        lo, hi = self.min_int, self.max_int
        if scaled.dtype != object:  # int64 values lie inside int64's range whatever the format's
            lo, hi = max(lo, -(2**63)), min(hi, 2**63 - 1)
        if self.overflow != "WRAP":
            return np.minimum(np.maximum(scaled, lo), hi)
        if scaled.dtype != object and self.width >= 63:
            return scaled
        low = -(1 << (self.width - 1)) if self.signed else 0
        return ((scaled - low) & ((1 << self.width) - 1)) + low

    def to_float(self, counts: np.ndarray) -> np.ndarray:
        """Float64 images of counts (exact up to 53 significant bits)."""
        return np.asarray(counts).astype(np.float64) * self.lsb

    def _round(self, scaled: np.ndarray) -> np.ndarray:
        """Round a float array in place (and return it)."""
        if self.rounding == "RND":
            scaled += 0.5
        return (np.rint if self.rounding == "RND_CONV" else np.floor)(scaled, out=scaled)  # rint: ties to even

    def _overflow(self, counts: np.ndarray, relu: bool = False) -> np.ndarray:
        """Overflow handling of a float array, after ``max(x, 0)`` when `relu`; in place except for WRAP."""
        if self.overflow == "WRAP":
            if relu:
                np.maximum(counts, 0, out=counts)
            modulus = 2.0**self.width
            low = -(2.0 ** (self.width - 1)) if self.signed else 0.0
            return counts - modulus * np.floor((counts - low) / modulus)
        # numpy 1.26's maximum/minimum with a scalar do not vectorise; with an array they do (2x faster, fill included)
        bound = np.empty_like(counts)
        bound.fill(max(self.min_int, 0) if relu else self.min_int)
        np.maximum(counts, bound, out=counts)
        bound.fill(self.max_int)
        return np.minimum(counts, bound, out=counts)

    def to_dict(self) -> dict:
        return {"width": self.width, "integer": self.integer, "signed": self.signed,
                "rounding": self.rounding, "overflow": self.overflow}


def exact_sum_format(bound: int, frac: int) -> FixedFormat:
    """The narrowest signed format with `frac` fractional bits holding any integer in [-bound, bound]."""
    width = max(int(bound).bit_length() + 1, 2)
    return FixedFormat(width, width - frac, signed=True)
