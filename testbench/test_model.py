"""Generic cocotb 2.x testbench for the RTL of `codesign synth` / `write_rtl` (ports clk, model_inp, model_out).

The stimulus is a JSON file named by ``$CODESIGN_TB_STIMULUS`` (written by `codesign.verify.runner`)::

    {"inputs": [hex words], "expected": [hex words], "latency": L, "ii": II, "max_latency": W,
     "background": hex, "marker": hex, "expected_marker": hex}

Phase 1 measures the latency: the background word is held for W cycles (the pipeline fills), the
marker word is applied once, and the rising edges are counted until `model_out` shows the marker's
expected output.  Phase 2 streams the inputs, one every II cycles, and compares the output read L
rising edges after each input was sampled with its expected word.  Inputs are written, and outputs
read, at falling edges.  The result (observed latency, output words, mismatching indices) goes to
``$CODESIGN_TB_RESULTS`` as JSON; any mismatch or latency difference fails the test.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


def _read(signal) -> int | None:
    """The signal's value as an unsigned int, or None while it holds X or Z (Icarus before the pipeline fills)."""
    value = signal.value
    return value.to_unsigned() if value.is_resolvable else None


@cocotb.test()
async def stream_and_compare(dut) -> None:
    """Measure the latency with a marker, then stream every vector and compare every output word."""
    stim = json.loads(open(os.environ["CODESIGN_TB_STIMULUS"]).read())
    inputs = [int(w, 16) for w in stim["inputs"]]
    expected = [int(w, 16) for w in stim["expected"]]
    latency, ii, wait = int(stim["latency"]), int(stim["ii"]), int(stim["max_latency"])
    background, marker, want_marker = (int(stim[k], 16) for k in ("background", "marker", "expected_marker"))
    inp, out, falling = dut.model_inp, dut.model_out, FallingEdge(dut.clk)
    Clock(dut.clk, 10, unit="ns").start(start_high=False)
    start = time.perf_counter()

    # phase 1: background, one marker (held II cycles), background
    inp.value = background
    for _ in range(wait):
        await falling
    inp.value = marker
    observed = None
    for k in range(wait + 1):  # after the k-th rising edge following the one that sampled the marker
        await falling
        if k + 1 == ii:
            inp.value = background
        if observed is None and _read(out) == want_marker:
            observed = k
    # phase 2: input j is sampled at rising edge j*ii; its output is read after rising edge j*ii + latency
    got: list[int | None] = []
    n_cycles = len(inputs) * ii + latency
    inp.value = inputs[0]
    for c in range(n_cycles):
        await falling
        if c + 1 < len(inputs) * ii and (c + 1) % ii == 0:
            inp.value = inputs[(c + 1) // ii]
        if c >= latency and (c - latency) % ii == 0:
            got.append(_read(out))
    loop_s = time.perf_counter() - start
    mismatches = [j for j, (g, e) in enumerate(zip(got, expected)) if g != e]
    result = {
        "observed_latency": observed,
        "report_latency": latency,
        "vectors": len(inputs),
        "mismatches": mismatches,
        "got": [None if g is None else f"{g:x}" for g in got],
        "loop_s": round(loop_s, 3),
        "cycles": n_cycles + 2 * wait,
    }
    with open(os.environ["CODESIGN_TB_RESULTS"], "w") as f:
        json.dump(result, f)
    assert observed == latency, f"latency observed {observed} cycles, report says {latency}"
    assert not mismatches, f"{len(mismatches)} of {len(inputs)} output words differ (first: {mismatches[:10]})"
