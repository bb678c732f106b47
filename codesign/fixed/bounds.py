"""Which saturating casts of a fixed-point graph can saturate, proved by mixed-integer linear programming.

The formats bound every value by interval arithmetic, which is loose: it lets every weight meet its
worst input at once.  Whether a cast can overflow for *some* input is a mixed-integer linear program
(MILP) over the network: affine ops are linear, a saturating cast is a clamp (two ReLUs, one binary
each) and its rounding moves a value by at most one LSB.  The input grid is relaxed to the continuous
box of the input format, which only widens what is reachable, so "infeasible" is a proof: no input
drives that element past that end, and SAT written WRAP there is an equivalent design, not a fault
the vectors miss.  "Feasible" gives an input (a witness) that drives it past the end: synth's vectors
include such inputs, since uniform random, corner and hill-climbing inputs rarely get there (on
AXOL1TL they reach |mu| of 53; the witnesses reach 96 of a +-64 format).

scipy's HiGHS solves the programs (`scipy.optimize.milp`); the lowering is hand-written because no
library turns a QKeras-style fixed-point chain into a MILP.  Supported: chains of `Dense`, `Scale`,
`Quantize` and `Reshape` with exact accumulators; other graphs raise `NotImplementedError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Dense, Graph, Quantize, Reshape, Scale

# HiGHS' feasibility tolerance is 1e-7 (relative): relaxed bounds are widened by this much to stay sound
_MARGIN = 1e-6
# branch-and-bound nodes per feasibility question: a deterministic budget (a time limit would not be)
NODE_LIMIT = 20_000


@dataclass
class _Program:
    """Variables (with bounds), integrality and linear rows of a MILP, built op by op."""

    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integral: list[int] = field(default_factory=list)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)

    def variable(self, low: float, high: float, integral: bool = False) -> int:
        self.lower.append(low)
        self.upper.append(high)
        self.integral.append(int(integral))
        return len(self.lower) - 1

    def row(self, coefficients: dict[int, float], low: float, high: float) -> None:
        self.rows.append((coefficients, low, high))

    def solve(self, objective: dict[int, float], relaxed: bool, extra: tuple | None = None):
        """scipy's result for minimising `objective` (a linear program when `relaxed`), with one `extra`
        row ``(coefficients, low, high)`` added for this solve only."""
        rows = self.rows + ([extra] if extra else [])
        n = len(self.lower)
        c = np.zeros(n)
        for j, v in objective.items():
            c[j] = v
        row_index = [i for i, (coefficients, _, _) in enumerate(rows) for _ in coefficients]
        columns = [j for coefficients, _, _ in rows for j in coefficients]
        values = [v for coefficients, _, _ in rows for v in coefficients.values()]
        matrix = csr_matrix((values, (row_index, columns)), shape=(len(rows), n))
        constraint = LinearConstraint(matrix, [r[1] for r in rows], [r[2] for r in rows])
        return milp(c, integrality=np.zeros(n) if relaxed else np.array(self.integral),
                    bounds=Bounds(self.lower, self.upper), constraints=constraint,
                    options={"node_limit": NODE_LIMIT})


@dataclass(frozen=True)
class Range:
    low: float
    high: float

    def within(self, low: float, high: float) -> bool:
        return self.low >= low and self.high <= high


@dataclass(frozen=True)
class Saturation:
    """Can element `element` of cast `cast`'s input go past the format's `side` end?

    `reachable` is True with `witness` (real inputs in the input box, flattened) reaching it, False
    when proved impossible, None when the node budget ran out first."""

    cast: str
    element: int
    side: str  # "high" or "low"
    reachable: bool | None
    witness: np.ndarray | None = None


@dataclass
class _Model:
    program: _Program
    inputs: list[int]
    casts: dict[str, tuple[Quantize, list[int], list[Range]]]  # name -> (op, input variables, relaxed ranges)


def _build(graph: Graph) -> _Model:
    program = _Program()
    fmt = graph.input_format
    inputs = [program.variable(fmt.min_value, fmt.max_value) for _ in range(int(np.prod(graph.input_shape)))]
    values, casts, incoming = inputs, {}, fmt
    for op in graph.ops:
        if isinstance(op, (Dense, Scale)):
            if getattr(op, "accum", None) is not None or getattr(op, "result", None) is not None:
                raise NotImplementedError(f"{op.name}: explicit accumulator or result format")
            values = _affine(program, op, values)
        elif isinstance(op, Quantize):
            reach = [_relaxed_range(program, v, op) for v in values]
            casts[op.name] = (op, values, reach)
            values = [_cast(program, op, incoming, v, r) for v, r in zip(values, reach)]
        elif not isinstance(op, Reshape):
            raise NotImplementedError(f"{op.name}: {type(op).__name__} has no MILP model")
        incoming = op.output_format
    return _Model(program, inputs, casts)


def saturations(graph: Graph, per_side: int | None = None) -> list[Saturation]:
    """For every saturating cast (and, for a ReLU cast, its upper end only) and each end: the elements
    whose relaxed range passes the end by half an LSB or more (less rounds back onto it), most
    promising first, decided by a MILP each; after `per_side` witnesses (or `per_side` elements the node
    budget could not decide) of one end the rest are skipped (None: decide every element)."""
    model = _build(graph)
    found = []
    for name, (op, variables, reach) in model.casts.items():
        fmt = op.output_format
        if fmt.overflow == "WRAP":
            continue
        for side in ("high",) if op.relu else ("high", "low"):
            excess = [(r.high - fmt.max_value) if side == "high" else (fmt.min_value - r.low) for r in reach]
            witnesses = undecided = 0
            for k in np.argsort(excess)[::-1]:
                if excess[k] < fmt.lsb / 2 or (per_side is not None and max(witnesses, undecided) >= per_side):
                    break
                found.append(_decide(model, name, int(k), side, fmt, reach[k]))
                witnesses += found[-1].reachable is True
                undecided += found[-1].reachable is None
    return found


def _decide(model: _Model, name: str, k: int, side: str, fmt: FixedFormat, reach: Range) -> Saturation:
    """The deepest witness of a few depths past the end (1/8, 1/32, 1/128 of the format's span: a deep one
    survives the rounding of the inputs to their grid), else by half an LSB; infeasible at half an LSB
    proves the end unreachable."""
    variable = model.casts[name][1][k]
    span = fmt.max_value - fmt.min_value
    for depth in (span / 8, span / 32, span / 128, fmt.lsb / 2):
        limit = (fmt.max_value + depth, np.inf) if side == "high" else (-np.inf, fmt.min_value - depth)
        if limit[0] > reach.high or limit[1] < reach.low:
            continue
        result = model.program.solve({}, relaxed=False, extra=({variable: 1.0}, *limit))
        if result.status == 0:
            return Saturation(name, k, side, True, np.asarray(result.x)[model.inputs])
        if result.status != 2:  # not proved infeasible: the node budget ran out
            return Saturation(name, k, side, None)
    return Saturation(name, k, side, False)


def _relaxed_range(program: _Program, variable: int, op: Quantize) -> Range:
    """The variable's interval bounds, tightened by linear programs where they pass the cast's ends (sound,
    and tight enough for the big-M constants)."""
    fmt = op.output_format
    interval = Range(program.lower[variable], program.upper[variable])
    if interval.within(0.0 if op.relu else fmt.min_value, fmt.max_value) or (op.relu and interval.high <= 0):
        return interval
    low = program.solve({variable: 1.0}, relaxed=True).fun
    high = -program.solve({variable: -1.0}, relaxed=True).fun
    span = _MARGIN * max(1.0, abs(low), abs(high))
    return Range(low - span, high + span)


def _affine(program: _Program, op: Dense | Scale, values: list[int]) -> list[int]:
    """New variables equal to the exact affine sums (real values), bounded by interval arithmetic."""
    weights = op.weight * op.weight_format.lsb
    biases = op.bias * op.bias_format.lsb
    outputs = []
    for k in range(len(biases)):
        column = {values[k]: float(weights[k])} if isinstance(op, Scale) else {
            v: float(w) for v, w in zip(values, weights[:, k]) if w != 0}
        low = biases[k] + sum(w * (program.lower[v] if w > 0 else program.upper[v]) for v, w in column.items())
        high = biases[k] + sum(w * (program.upper[v] if w > 0 else program.lower[v]) for v, w in column.items())
        span = _MARGIN * max(1.0, abs(low), abs(high))
        out = program.variable(float(low) - span, float(high) + span)
        program.row({**column, out: -1.0}, -float(biases[k]), -float(biases[k]))
        outputs.append(out)
    return outputs


def _cast(program: _Program, op: Quantize, incoming: FixedFormat, value: int, reach: Range) -> int:
    """A variable for ``cast(relu?(value))``: a clamp to the format's ends, then the rounding's error."""
    fmt = op.output_format
    floor = 0.0 if op.relu else fmt.min_value
    if fmt.overflow == "WRAP" and not reach.within(-np.inf if op.relu else fmt.min_value, fmt.max_value):
        raise NotImplementedError(f"{op.name}: a wrapping cast that can overflow")
    clamped = _clamp(program, value, reach, floor, fmt.max_value)
    below, above = _rounding_error(fmt, incoming.frac)
    if below == above == 0.0:
        return clamped
    out = program.variable(max(program.lower[clamped] - below, floor), min(program.upper[clamped] + above, fmt.max_value))
    program.row({out: 1.0, clamped: -1.0}, -below, above)
    return out


def _rounding_error(fmt: FixedFormat, incoming_frac: int) -> tuple[float, float]:
    """How far below and above its input a cast's rounding can move a value (0 when no bit is dropped).
    Clamping first is exact: rounding is monotone and both ends lie on the grid."""
    if incoming_frac <= fmt.frac:
        return 0.0, 0.0
    if fmt.rounding == "TRN":
        return fmt.lsb, 0.0
    if fmt.rounding in ("RND", "RND_CONV"):
        return fmt.lsb / 2, fmt.lsb / 2
    return fmt.lsb, fmt.lsb


def _clamp(program: _Program, value: int, reach: Range, low: float, high: float) -> int:
    """``min(max(value, low), high)`` as ``low + relu(value - low) - relu(value - high)``."""
    if reach.within(low, high):
        return value
    if reach.high <= low or reach.low >= high:
        constant = low if reach.high <= low else high
        return program.variable(constant, constant)
    out = program.variable(low, high)
    coefficients = {out: 1.0, _relu(program, value, -low, Range(reach.low - low, reach.high - low)): -1.0}
    if reach.high > high:
        coefficients[_relu(program, value, -high, Range(reach.low - high, reach.high - high))] = 1.0
    program.row(coefficients, low, low)
    return out


def _relu(program: _Program, value: int, offset: float, reach: Range) -> int:
    """``max(0, value + offset)`` with one binary, big-M constants from the range of ``value + offset``."""
    if reach.low >= 0:
        out = program.variable(reach.low, reach.high)
        program.row({value: 1.0, out: -1.0}, -offset, -offset)
        return out
    if reach.high <= 0:
        return program.variable(0.0, 0.0)
    out = program.variable(0.0, reach.high)
    active = program.variable(0.0, 1.0, integral=True)
    program.row({out: 1.0, value: -1.0}, offset, np.inf)  # out >= t
    program.row({out: 1.0, active: -reach.high}, -np.inf, 0.0)  # out <= u * active
    program.row({out: 1.0, value: -1.0, active: -reach.low}, -np.inf, offset - reach.low)  # out <= t - l (1 - active)
    return out
