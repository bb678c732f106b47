"""Fitting the trigger's input scaling to data, and checking it, over present objects only.

A trigger input is a fixed layout of object slots (MET, e/gamma 1-4, ...), zero-padded where an
object is absent.  Statistics over all events are dominated by those zeros (offset 0, shift 0 on
rarely filled slots, saturated angles), so every feature is described by a `Feature`: which
column says whether its object is present, the hardware range of its raw values, and whether it
is scaled from that range (angles: never saturate) or from data (energies).

Rules, for a network input format with range [m, M] (e.g. [-32, 31.75] for ``ap_fixed<8,6>``) and
`headroom_bits` h, so a feature's typical span fills [m, M] / 2**h and anomalies have room above:

* range features: offset = middle of the hardware range, shift = the smallest that maps the whole
  range into [m, M] / 2**h, so no present value ever saturates (0 for a constant feature);
* data features: offset = median over present objects, shift = the smallest that maps the
  `quantile`-th percentile of ``|x - offset|`` over present objects into [m, M] / 2**h; negative
  (left) shifts where the spread is small; a spread below one raw unit counts as one;
* a data feature with fewer than `MIN_PRESENT` present objects gets the range default:
  offset = the range's low end, shift = the smallest that maps the whole range into [m, M].

Shifts lie in [-MAX_SHIFT, MAX_SHIFT] (the firmware's `ap_fixed<5,5>`-like shift constants).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from codesign.fixed.fixed_format import FixedFormat

if TYPE_CHECKING:
    from codesign.fixed.trigger import InputScaling

MAX_SHIFT = 15
DEFAULT_QUANTILE = 99.5
DEFAULT_HEADROOM_BITS = 2
MIN_PRESENT = 20
MIN_SPREAD = 1.0  # raw units (GeV for energies)


@dataclass(frozen=True)
class Feature:
    """One input column: its name, the hardware range of its raw values when its object is present,
    whether it is scaled from that range, and which column marks its object present."""

    name: str
    low: float
    high: float
    from_range: bool  # scale from the hardware range (angles, constants), else from data
    presence: int | None = None  # column whose value > 0 means "present"; None: always present

    def present(self, raw: np.ndarray) -> np.ndarray:
        """Boolean mask of the events (rows of `raw`) in which this feature's object is present."""
        if self.presence is None:
            return np.ones(len(raw), bool)
        return np.asarray(raw[:, self.presence]) > 0


def fit_scaling(raw: np.ndarray, network_format: FixedFormat, features: Sequence[Feature],
                quantile: float = DEFAULT_QUANTILE, headroom_bits: int = DEFAULT_HEADROOM_BITS,
                ) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, shifts) for raw inputs (n, len(features)) in hardware units, by the module's rules."""
    raw = np.asarray(raw, np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(features):
        raise ValueError(f"raw inputs must be (n, {len(features)}), got {raw.shape}")
    offsets, shifts = np.zeros(len(features), np.int64), np.zeros(len(features), np.int64)
    for i, feature in enumerate(features):
        values = raw[feature.present(raw), i]
        if not feature.from_range and len(values) >= MIN_PRESENT:
            offsets[i] = np.round(np.median(values))
            spread = max(float(np.percentile(np.abs(values - offsets[i]), quantile)), MIN_SPREAD)
            shifts[i] = _smallest_shift(-spread, spread, network_format, headroom_bits)
        elif feature.from_range:
            offsets[i] = np.round((feature.low + feature.high) / 2)
            shifts[i] = _smallest_shift(feature.low - offsets[i], feature.high - offsets[i], network_format,
                                        headroom_bits)
        else:
            offsets[i] = np.floor(feature.low)
            shifts[i] = _smallest_shift(feature.low - offsets[i], feature.high - offsets[i], network_format, 0)
    return offsets, shifts


def _smallest_shift(low: float, high: float, network_format: FixedFormat, headroom_bits: int) -> int:
    """The smallest shift s in [-MAX_SHIFT, MAX_SHIFT] with [low, high] / 2**s inside the format's
    range divided by 2**headroom_bits.

    With no headroom, a value inside [min_value, max_value] never saturates: the floor of the shift
    and the rounding of the cast both stay between the range's ends, which lie on both grids."""
    ratio = max(high / network_format.max_value if high > 0 else 0.0,
                low / network_format.min_value if low < 0 else 0.0)
    if ratio == 0:
        return 0
    return int(np.clip(np.ceil(np.log2(ratio)) + headroom_bits, -MAX_SHIFT, MAX_SHIFT))


def saturated_fraction(scaling: InputScaling, raw: np.ndarray, network_format: FixedFormat,
                       features: Sequence[Feature]) -> np.ndarray:
    """Per feature, the fraction of present objects whose scaled value saturates the network input
    format (the cast clips it); NaN for a feature never present in `raw`."""
    raw_ints = scaling.raw_format.quantize(np.asarray(raw, np.float64))
    unbounded = FixedFormat(scaling.difference_format.integer + network_format.frac + 1,
                            scaling.difference_format.integer + 1, True, network_format.rounding, "SAT")
    clipped = scaling.apply(raw_ints, network_format) != scaling.apply(raw_ints, unbounded)
    fractions = np.full(len(features), np.nan)
    for i, feature in enumerate(features):
        present = feature.present(raw)
        if present.any():
            fractions[i] = clipped[present, i].mean()
    return fractions


def saturation_by_feature(scaling: InputScaling, raw: np.ndarray, network_format: FixedFormat,
                          features: Sequence[Feature]) -> dict[str, float]:
    """`saturated_fraction` as {feature name: fraction} for the features where any present object saturates."""
    fractions = saturated_fraction(scaling, raw, network_format, features)
    return {f.name: float(x) for f, x in zip(features, fractions) if x > 0}
