"""The whole trigger (scaling, network, score, comparators) compiled as C simulation vs the emulator,
bit for bit: right, zero and left (negative) shifts, offsets at the extremes, ties of the input cast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qkeras import quantized_bits, quantized_relu

from codesign.fixed import lower_keras
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.trigger import MAX_SHIFT, InputScaling, Score, TriggerChain
from codesign.hls import compare, write_project
from codesign.hls.trigger import compile_trigger, write_trigger
from codesign.verify.vectors import raw_edge_vectors
from tests.hls.test_hls import PART, Spec, _model

RAW = FixedFormat(18, 13, True)
SCORE = Score(FixedFormat(18, 14, False, "TRN", "SAT"))
N_IN = 20
RAW_LIMIT = RAW.max_int >> RAW.frac  # the largest integer offset inside the raw range
SCALINGS = {  # name -> (offsets, shifts)
    "mixed": ([RAW_LIMIT, -RAW_LIMIT - 1, 511, -512, 0, 72, 288, 18, -7, 3, 0, 1, 2, -3, 4, 100, -100, 0, 29, 1000],
              [-MAX_SHIFT, MAX_SHIFT, -1, 0, -2, 2, 4, 1, -3, 0, 3, -4, 5, 6, -5, 7, 8, -8, 0, 12]),
    "right": ([0, 72, -72, 29] * 5, [i % (MAX_SHIFT + 1) for i in range(N_IN)]),
    "left": ([RAW_LIMIT, -RAW_LIMIT - 1, 0, 5] * 5, [-(1 + i % MAX_SHIFT) for i in range(N_IN)]),
}


@pytest.fixture(scope="module")
def network():
    """(model, graph): a 20-input network with AXOL1TL's input format."""
    model = _model("trig", Spec(N_IN, (8,), (6, 2), quantized_relu(10, 6), quantized_bits(8, 5, alpha=1), fused=True))
    graph, _ = lower_keras(model)
    assert graph.input_format.hls() == "ap_fixed<8,6,AP_RND_CONV,AP_SAT>"
    return model, graph


#: GELATO's score: the integer sum of squares >> 8, saturating
SHIFTED_SCORE = Score(FixedFormat(12, 8, False, "TRN", "SAT"), shift=8)  # outputs of 2 fractional bits


@pytest.mark.parametrize("name, score", [("mixed", SHIFTED_SCORE), ("right", SCORE), ("left", SCORE)],
                         ids=["mixed-shifted-score", "right", "left"])
def test_trigger_csim_equals_emulator(network, name: str, score: Score, tmp_path: Path):
    model, graph = network
    offsets, shifts = (np.array(v, np.int64) for v in SCALINGS[name])
    chain = TriggerChain(InputScaling(RAW, offsets, shifts), graph, score)
    raw = raw_edge_vectors(chain, 20_000, np.random.default_rng(3))
    chain.thresholds = {"low": int(np.median(chain.emulate(raw)["score"]) / score.format.lsb), "high": 3}
    hls = write_project(model, graph, tmp_path / "prj", PART, 5.0, compile_csim=False)  # one library per chain
    write_trigger(chain, hls.path, hls.name, list(chain.thresholds))
    csim = compile_trigger(chain, hls.path, hls.name, 2)

    want, got = chain.emulate(raw), csim.predict(raw)
    want_all = np.column_stack([want["network"], want["score"], want["low"], want["high"]])
    got_all = np.column_stack([got["network"], got["score"], got["pass"]])
    result = compare(want_all, got_all, raw, save_to=tmp_path / "mismatches.npz")
    assert result.equal, result.summary()

    # the vectors reach what matters: the whole reachable range of every scaled input (both
    # saturation ends where the raw range reaches them), ties of the cast wherever the shift allows
    # one, and both sides of a comparator
    net, raw_ints = graph.input_format, RAW.quantize(raw)
    x = chain.scaling.apply(raw_ints, net)
    every_raw = np.arange(RAW.min_int, RAW.max_int + 1)[:, None] * np.ones(N_IN)
    reachable = chain.scaling.apply(every_raw, net)  # each feature's image of the whole raw range
    distinct = np.array([len(np.unique(column)) for column in x.T])
    assert np.all(distinct >= [min(len(np.unique(column)), 200) for column in reachable.T])
    assert np.all(x.min(axis=0) == reachable.min(axis=0)) and np.all(x.max(axis=0) == reachable.max(axis=0))
    drop = RAW.frac - net.frac
    shifted = np.floor((raw_ints - offsets * 2.0**RAW.frac) * 2.0**-shifts)
    ties = (np.mod(shifted, 2**drop) == 2 ** (drop - 1)) & (x > net.min_int) & (x < net.max_int)
    assert np.all(ties[:, shifts > -drop].any(axis=0))
    assert 0 < want["low"].mean() < 1
