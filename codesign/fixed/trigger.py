"""The trigger around a network: input scaling, anomaly score and working-point comparators.

These are the hand-written firmware blocks of `firmware/` (HLS C++); this module is their bit-exact
emulation.  The semantics are those of the HLS code, step by step:

* scaling, per feature i: ``x_nn = (nn_t)((x - offset[i]) >> shift[i])`` where `x` is the raw
  hardware input (`raw_format`), ``x - offset`` is exact (one more integer bit), a right shift
  keeps that type (bits below its LSB are dropped, i.e. floor), a negative shift is the left shift
  ``<< -shift[i]`` (exact: the difference type has that many more integer bits), and the cast to
  the network's input format rounds and saturates as that format says.  No multipliers.
* score (`Score.kind`): ``sum_of_squares``, ``sum_i mu_i^2`` computed exactly (``2 f`` fractional bits
  for outputs of ``f``), shifted right by `shift` bits inside that type (floor: on the integer counts,
  ``sum_i count_i^2 >> shift``), then cast once to `score_format` (the deployed AXOL1TL uses
  `ap_ufixed<18,14>` and no shift, GELATO an integer score shifted by 8; we saturate so a huge anomaly can
  never wrap to a small score); or ``output``, the network's single output cast to `score_format` (CICADA,
  whose network regresses the score itself).
* comparators: working point `wp` fires when ``score > threshold[wp]``, thresholds in score LSBs
  (for `ap_ufixed<18,14>` that is score x 16, the unit of the CMS menu).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from codesign.fixed.emulator import emulate_ints
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Graph
from codesign.fixed.scaling import DEFAULT_HEADROOM_BITS, DEFAULT_QUANTILE, MAX_SHIFT, Feature, fit_scaling


@dataclass(frozen=True)
class InputScaling:
    """Per-feature ``(x - offset) >> shift`` from hardware units to the network's input format."""

    raw_format: FixedFormat
    offsets: np.ndarray  # int64, in units of 1 (integers, as the firmware's ap_fixed<W,W> offsets)
    shifts: np.ndarray  # int64, -MAX_SHIFT..MAX_SHIFT; negative = left shift

    def __post_init__(self) -> None:
        if self.offsets.shape != self.shifts.shape:
            raise ValueError("offsets and shifts must have one entry per input feature")
        if np.any(np.abs(self.shifts) > MAX_SHIFT):
            raise ValueError(f"shifts must lie in -{MAX_SHIFT}..{MAX_SHIFT} (a negative shift is a left shift)")

    @property
    def difference_format(self) -> FixedFormat:
        """The exact type of ``x - offset`` and of its shifts: one more integer bit than the raw input
        (and the offset), plus one per bit of the largest left shift."""
        integer = max(self.raw_format.integer, int(np.abs(self.offsets).max(initial=0)).bit_length() + 1) + 1
        integer += max(0, -int(self.shifts.min(initial=0)))
        return FixedFormat(integer + self.raw_format.frac, integer, True)

    @classmethod
    def from_data(cls, raw: np.ndarray, raw_format: FixedFormat, network_format: FixedFormat,
                  features: Sequence[Feature], quantile: float = DEFAULT_QUANTILE,
                  headroom_bits: int = DEFAULT_HEADROOM_BITS) -> InputScaling:
        """Offsets and shifts from the statistics of present objects (`codesign.fixed.scaling`)."""
        return cls(raw_format, *fit_scaling(raw, network_format, features, quantile, headroom_bits))

    def apply(self, raw_ints: np.ndarray, network_format: FixedFormat) -> np.ndarray:
        """Raw inputs (counts of raw_format) to counts of `network_format`."""
        frac = self.raw_format.frac
        difference = np.asarray(raw_ints, np.float64) - self.offsets * 2.0**frac
        shifted = np.floor(difference * 2.0**-self.shifts)  # arithmetic right shift; exact left shift
        return network_format.requantize(shifted, frac)


#: How the score is made from the network outputs (see the module docstring).
SCORE_KINDS = ("sum_of_squares", "output")


@dataclass(frozen=True)
class Score:
    """The network outputs' sum of squares, shifted right by `shift` bits (floor), or the network's single
    output (`kind`), cast once to `format`."""

    format: FixedFormat
    shift: int = 0
    kind: str = "sum_of_squares"

    def __post_init__(self) -> None:
        if self.kind not in SCORE_KINDS:
            raise ValueError(f"unknown score kind {self.kind!r}; choose one of {', '.join(SCORE_KINDS)}")
        if not 0 <= self.shift <= MAX_SHIFT:
            raise ValueError(f"the score shift must lie in 0..{MAX_SHIFT}, got {self.shift}")
        if self.kind == "output" and self.shift:
            raise ValueError("a score shift applies to a sum of squares, not to the network's output")

    def sum_format(self, out_format: FixedFormat, n_out: int) -> FixedFormat:
        """The exact unsigned type of ``sum_i mu_i^2`` (and of its right shift, which keeps the type)."""
        largest = max(abs(out_format.min_int), abs(out_format.max_int)) ** 2 * n_out
        width = max(1, int(largest).bit_length())
        return FixedFormat(width, width - 2 * out_format.frac, signed=False)

    def apply(self, out_ints: np.ndarray, out_format: FixedFormat) -> np.ndarray:
        """Output counts (N, n) to score counts (N,): the single output, or ``(sum_i count_i^2) >> shift`` on
        the ``2 f`` grid; then the cast."""
        out = np.asarray(out_ints, np.float64)
        if self.kind == "output":
            if out.shape[1] != 1:
                raise ValueError(f"score kind 'output' needs a network with one output, not {out.shape[1]}")
            return self.format.requantize(out[:, 0], out_format.frac)
        return self.format.requantize(np.floor((out**2).sum(axis=1) * 2.0**-self.shift), 2 * out_format.frac)


@dataclass
class TriggerChain:
    """scaling -> network -> score -> comparators: what runs in the trigger firmware."""

    scaling: InputScaling
    graph: Graph
    score: Score
    thresholds: dict[str, int] = field(default_factory=dict)  # working point -> score LSBs

    def emulate_counts(self, raw_ints: np.ndarray) -> dict[str, np.ndarray]:
        """Raw input counts (N, n_in) to counts: ``network`` (N, n_out) of the output format, ``score``
        (N,) of the score format, and one 0/1 array per working point (the firmware's integer outputs)."""
        raw_ints = np.asarray(raw_ints)
        x = self.scaling.apply(raw_ints, self.graph.input_format).reshape(len(raw_ints), *self.graph.input_shape)
        out = emulate_ints(self.graph, x).reshape(len(raw_ints), -1)
        score = self.score.apply(out, self.graph.output_format)
        result = {"network": out, "score": score}
        for name, threshold in self.thresholds.items():
            result[name] = (score > threshold).astype(np.int64)
        return result

    def emulate(self, raw: np.ndarray) -> dict[str, np.ndarray]:
        """Bit-exact outputs for raw hardware inputs (real values on the raw grid).

        Returns float64 exact images: ``network`` (the network outputs), ``score``, and one boolean
        array per working point.
        """
        counts = self.emulate_counts(self.scaling.raw_format.quantize(raw))
        result = {
            "network": self.graph.output_format.to_float(counts.pop("network")),
            "score": self.score.format.to_float(counts.pop("score")),
        }
        return result | {name: bits.astype(bool) for name, bits in counts.items()}

    def to_dict(self) -> dict:
        """Everything but the graph (which has its own JSON), for a project's `trigger.json`."""
        return {"raw_format": self.scaling.raw_format.to_dict(), "offsets": self.scaling.offsets.tolist(),
                "shifts": self.scaling.shifts.tolist(), "score_format": self.score.format.to_dict(),
                "score_shift": self.score.shift, "score_kind": self.score.kind, "thresholds": dict(self.thresholds)}

    @classmethod
    def from_dict(cls, data: dict, graph: Graph) -> TriggerChain:
        """The inverse of `to_dict`, around `graph`."""
        scaling = InputScaling(FixedFormat(**data["raw_format"]), np.array(data["offsets"], np.int64),
                               np.array(data["shifts"], np.int64))
        score = Score(FixedFormat(**data["score_format"]), shift=int(data.get("score_shift", 0)),
                      kind=data.get("score_kind", "sum_of_squares"))
        return cls(scaling, graph, score,
                   {str(k): int(v) for k, v in data["thresholds"].items()})
