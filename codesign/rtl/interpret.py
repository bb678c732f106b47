"""An exact integer interpreter of da4ml logic (`CombLogic` / `Pipeline`), right for any register width.

Why not da4ml's own C++ interpreter (`CombLogic.predict`): in da4ml 0.5.2 its `DType::int_min()` is
computed as ``1 << (width - 1)`` in 32-bit ``int``, so for a signed value wider than 32 bits the
wrap applied to every stage input (and to every cast, ReLU and mux result) uses a wrong range and
negative values come back as large positive ones.  The first stage of a pipeline has narrow inputs,
but the registers between later stages carry accumulators of 33+ bits, so the interpreter reports
differences on RTL that is right.  This module evaluates the same operations on integer counts:
int64 when every intermediate fits in 62 bits, Python integers (numpy object arrays) beyond.

Semantics per opcode follow da4ml's Python evaluation and its Verilog (every result is wrapped to
the operation's own width, as the register or wire holding it does); a lookup (opcode 8) reads the
table as the Verilog ROM does, padded to every bit pattern of its key and indexed by those bits.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from da4ml.cmvm.types import CombLogic, Op, Pipeline, _minimal_kif

from codesign.errors import CodesignError

#: The widest intermediate (in bits) evaluated in int64; wider logic runs on Python integers.
INT64_BITS = 62


def _kif(op: Op) -> tuple[int, int, int]:
    k, i, f = _minimal_kif(op.qint)
    return int(k), int(i), int(f)


def _shift(v: np.ndarray, s: int) -> np.ndarray:
    """``floor(v * 2**s)``: a left shift, or an arithmetic (flooring) right shift."""
    return v << s if s >= 0 else v >> -s


def _wrap(v: np.ndarray, k: int, i: int, f: int) -> np.ndarray:
    """Keep the low ``k + i + f`` bits, two's complement when `k` (the register's own wrap)."""
    bits = k + i + f
    if bits <= 0:
        return v * 0
    low = -(1 << (bits - 1)) if k else 0
    return ((v - low) & ((1 << bits) - 1)) + low


def _const(op: Op, f: int) -> int:
    count = Fraction(op.data) * Fraction(op.qint.step) * Fraction(2) ** f
    if count.denominator != 1:
        raise CodesignError(f"da4ml constant {op.data} x {op.qint.step} is off its own grid")
    return int(count)


def _needs_bits(stage: CombLogic) -> int:
    """An upper bound on the bits of any value formed while evaluating `stage`."""
    kifs = [_kif(op) for op in stage.ops]
    widest = 0
    for op, (k, i, f) in zip(stage.ops, kifs):
        extra = 0
        if op.opcode in (0, 1):
            f0, f1 = kifs[op.id0][2], kifs[op.id1][2]
            extra = max(f0, f1 - int(op.data)) - f + 2
        elif op.opcode == 7:
            extra = sum(kifs[op.id0]) + sum(kifs[op.id1])
        widest = max(widest, k + i + f + max(extra, 0) + 2)
    return widest


def run_stage(stage: CombLogic, ints: np.ndarray, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate one stage on inputs ``ints * 2**exps`` (ints: (N, n_in), exps: (n_in,)).

    Returns (ints, exps) of the outputs in the same representation: exact, no float anywhere.
    """
    dtype = np.int64 if _needs_bits(stage) <= INT64_BITS else object
    ints = np.asarray(ints).astype(dtype)
    kifs = [_kif(op) for op in stage.ops]
    buf: list[np.ndarray] = []
    for op, (k, i, f) in zip(stage.ops, kifs):
        code = op.opcode
        if code == -1:
            shift = int(exps[op.id0]) + int(stage.inp_shifts[op.id0]) + f
            v = _shift(ints[:, op.id0], shift)
        elif code in (0, 1):
            f0, f1, data = kifs[op.id0][2], kifs[op.id1][2], int(op.data)
            common = max(f0, f1 - data)
            a, b = _shift(buf[op.id0], common - f0), _shift(buf[op.id1], common - f1 + data)
            v = _shift(a + b if code == 0 else a - b, f - common)
        elif code in (2, -2, 3, -3):
            v = buf[op.id0] if code > 0 else -buf[op.id0]
            if abs(code) == 2:
                v = np.maximum(v, 0)
            v = _shift(v, f - kifs[op.id0][2])
        elif code == 4:
            v = _shift(buf[op.id0], f - kifs[op.id0][2]) + _const(op, f)
        elif code == 5:
            v = np.full(len(ints), _const(op, f), dtype=dtype)
        elif code in (6, -6):
            cond_id, shift = int(op.data) & 0xFFFFFFFF, (int(op.data) >> 32) & 0xFFFFFFFF
            shift = shift - (1 << 32) if shift >= 1 << 31 else shift
            ck, ci, cf = kifs[cond_id]
            cond = buf[cond_id] < 0 if ck else buf[cond_id] >= (1 << (ci + cf - 1))
            v1 = buf[op.id1] if code == 6 else -buf[op.id1]
            v = np.where(cond, _shift(buf[op.id0], f - kifs[op.id0][2]), _shift(v1, f - kifs[op.id1][2] + shift))
        elif code == 7:
            v = _shift(buf[op.id0] * buf[op.id1], f - kifs[op.id0][2] - kifs[op.id1][2])
        elif code == 8:  # a ROM indexed by the key's bits (two's complement), as da4ml's Verilog `lookup_table`
            table = stage.lookup_tables[op.data].padded_table(stage.ops[op.id0].qint).astype(np.int64)
            v = table[(buf[op.id0] & (len(table) - 1)).astype(np.int64)].astype(dtype)
        else:
            raise CodesignError(f"da4ml opcode {code} is not supported by codesign's RTL interpreter")
        buf.append(_wrap(v.astype(dtype), k, i, f))
    out = np.zeros((len(ints), stage.shape[1]), dtype=dtype)
    out_exps = np.zeros(stage.shape[1], dtype=np.int64)
    for j, (idx, shift, neg) in enumerate(zip(stage.out_idxs, stage.out_shifts, stage.out_negs)):
        if idx < 0:
            continue
        out[:, j] = -buf[idx] if neg else buf[idx]
        out_exps[j] = int(shift) - kifs[idx][2]
    return out, out_exps


def run_pipeline(logic: CombLogic | Pipeline, counts: np.ndarray, frac_in: int, frac_out) -> np.ndarray:
    """Counts (N, n_in) with `frac_in` fractional bits through every stage; counts with `frac_out` (one
    number, or one per output).

    int64 when the outputs fit, else Python integers; raises if an output is off the `frac_out` grid.
    """
    ints = np.asarray(counts)
    exps = np.full(ints.shape[1], -frac_in, dtype=np.int64)
    for stage in logic.solutions if isinstance(logic, Pipeline) else (logic,):
        ints, exps = run_stage(stage, ints, exps)
    columns = []
    for j, shift in enumerate(exps + np.asarray(frac_out, dtype=np.int64)):
        column = _shift(ints[:, j], int(shift))
        if shift < 0 and np.any(_shift(column, -int(shift)) != ints[:, j]):
            raise AssertionError("da4ml logic returned values off the output format's grid")
        columns.append(column)
    out = np.column_stack(columns) if columns else ints
    if out.dtype == object and _fits_int64(out):
        out = out.astype(np.int64)
    return out


def _fits_int64(values: np.ndarray) -> bool:
    return not values.size or (int(values.min()) >= -(2**63) and int(values.max()) < 2**63)
