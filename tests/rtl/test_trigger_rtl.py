"""The whole trigger as one da4ml design: raw hardware inputs in; network outputs, score and working-point bits
out, equal bit for bit to `TriggerChain.emulate_counts` (exact interpreter here; Verilator in tests/verify)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codesign.fixed import Dense, FixedFormat, Graph, Quantize
from codesign.fixed.trigger import InputScaling, Score, TriggerChain
from codesign.rtl import write_trigger_rtl
from codesign.rtl.trigger import trace_trigger
from codesign.verify.vectors import raw_edge_vectors, trigger_counts


def small_chain(seed: int = 0, n_in: int = 6, n_out: int = 3, thresholds=(40, 90, 300)) -> TriggerChain:
    """A two-layer network behind offsets and shifts of every kind (negative offsets, right, zero and left
    shifts), a saturating RND_CONV input cast, and a sum-of-squares score with three working points."""
    rng = np.random.default_rng(seed)
    fin, wfmt = FixedFormat(8, 5, True, "RND_CONV", "SAT"), FixedFormat(6, 1, True)

    def dense(name: str, n: int, m: int) -> Dense:
        return Dense(name, rng.integers(-32, 32, (n, m)), wfmt, rng.integers(-32, 32, m), wfmt)

    graph = Graph(f"trig{seed}", (n_in,), fin, [
        Quantize("q_in", fin), dense("d0", n_in, 8), Quantize("a0", FixedFormat(7, 3, False, "RND_CONV", "SAT"), True),
        dense("d1", 8, n_out), Quantize("q_out", FixedFormat(9, 5, True, "RND_CONV", "SAT")),
    ])
    offsets = np.array([0, 12, -7, 3, 0, 100][:n_in], np.int64)
    shifts = np.array([0, 2, -2, 5, 1, -1][:n_in], np.int64)
    scaling = InputScaling(FixedFormat(14, 11, True), offsets, shifts)
    score = Score(FixedFormat(10, 7, False, "TRN", "SAT"))
    return TriggerChain(scaling, graph, score, dict(zip(("Loose", "Medium", "Tight"), thresholds)))


@pytest.fixture(scope="module")
def chain() -> TriggerChain:
    return small_chain()


def test_shifted_score_and_combinational_design_equal_emulator(chain, tmp_path):
    """A score shifted by 8 bits (floor on the integer sum of squares, saturating cast), traced as one
    combinational stage (latency 1: inputs and result registered at the ports) and pipelined: all equal."""
    shifted = TriggerChain(chain.scaling, chain.graph, Score(FixedFormat(8, 0, False, "TRN", "SAT"), shift=8),
                           {"Loose": 20, "Tight": 200})
    raw = raw_edge_vectors(shifted, 4000, np.random.default_rng(2))
    counts = shifted.scaling.raw_format.quantize(raw).astype(np.int64)
    want = trigger_counts(shifted, counts)
    scores = want["score"].ravel()
    assert scores.max() == shifted.score.format.max_int and {19, 20, 21, 199, 200, 201} <= set(scores.tolist())
    combinational = write_trigger_rtl(shifted, tmp_path / "comb", clock_mhz=40.0, combinational=True)
    pipelined = write_trigger_rtl(shifted, tmp_path / "pipe", clock_mhz=600.0)
    assert combinational.latency_cycles == 1 and len(combinational.stage_depths) == 1
    assert pipelined.latency_cycles > 1
    # the least-depth trace: no deeper than the pipelined design's total depth
    assert combinational.stage_depths[0] <= sum(pipelined.stage_depths)
    for rtl in (combinational, pipelined):
        got = rtl.predict_counts(counts)
        for name, values in want.items():
            np.testing.assert_array_equal(got[name], values, err_msg=f"{name}, {rtl.latency_cycles} cycles")


#: The committed GELATO's adder levels (scaling 2, first layer 5, mu 4, mu's cast 3, squares 3, their sum 2): at
#: most 19 keep 20% of 25 ns free even at the delay model's upper end (19 * 1.0 ns + 0.45 ns = 19.45 ns).
GELATO_MAX_LEVELS = 19


def test_committed_gelato_is_one_combinational_stage_within_25_ns(tmp_path):
    """The committed GELATO's whole trigger (score shifted by 8) traced as one combinational stage: equal to the
    emulator on raw edge vectors, at most GELATO_MAX_LEVELS deep, so within the 25 ns period with the delay
    model's margin at its nominal figure and at its upper end."""
    from codesign.estimate.timing import delay_model, stage_timing
    from codesign.zoo.loading import load_model

    chain = load_model("gelato").chain
    assert chain.score.shift == 8 and list(chain.thresholds) == ["Loose", "Tight"]
    rtl = write_trigger_rtl(chain, tmp_path / "rtl", clock_mhz=40.0, combinational=True)
    assert rtl.latency_cycles == 1 and len(rtl.stage_depths) == 1
    assert rtl.stage_depths[0] <= GELATO_MAX_LEVELS
    timing = stage_timing(rtl.stage_depths, 40.0, delay_model("xcvu9p"))
    stage, budget = timing["stages"][0], 25 * (1 - timing["target_margin"])
    assert timing["warning"] is None and stage["delay_ns"] + stage["uncertainty_ns"] <= budget
    counts = chain.scaling.raw_format.quantize(raw_edge_vectors(chain, 3000, np.random.default_rng(5))).astype(np.int64)
    want, got = trigger_counts(chain, counts), rtl.predict_counts(counts)
    assert want["wp_Tight"].any() and not want["wp_Tight"].all()  # the vectors reach both sides of Tight
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)


def test_trace_equals_emulator_on_raw_edge_vectors(chain, tmp_path):
    """Saturating inputs, rounding ties, scores on each threshold and +-1 LSB, random raw words: all equal,
    pipelined for a fast clock (several stages) as for a slow one."""
    raw = raw_edge_vectors(chain, 4000, np.random.default_rng(1))
    counts = chain.scaling.raw_format.quantize(raw).astype(np.int64)
    want = trigger_counts(chain, counts)
    scores = want["score"].ravel()
    for t in chain.thresholds.values():
        assert {t - 1, t, t + 1} <= set(scores.tolist())  # the comparator boundaries are exercised
    assert scores.max() == chain.score.format.max_int  # the score saturates on some vectors
    for mhz in (40.0, 600.0):
        rtl = write_trigger_rtl(chain, tmp_path / f"mhz{mhz:g}", clock_mhz=mhz)
        got = rtl.predict_counts(counts)
        assert list(got) == ["network", "score", "wp_Loose", "wp_Medium", "wp_Tight"]
        for name, values in want.items():
            np.testing.assert_array_equal(got[name], values, err_msg=f"{name} at {mhz} MHz")
    assert rtl.latency_cycles > 1 and rtl.covers == "trigger"


def test_output_score_trace_equals_emulator(tmp_path):
    """Score kind `output` (CICADA): the single network output cast to a coarser unsigned score format, so
    rounding ties and negative outputs saturating to 0 occur; bit for bit on raw edge vectors."""
    base = small_chain(seed=3, n_out=1, thresholds=(2, 9, 14))
    score = Score(FixedFormat(4, 1, False, "RND_CONV", "SAT"), kind="output")
    chain = TriggerChain(base.scaling, base.graph, score, base.thresholds)
    raw = raw_edge_vectors(chain, 3000, np.random.default_rng(2))
    counts = chain.scaling.raw_format.quantize(raw).astype(np.int64)
    want = trigger_counts(chain, counts)
    net = want["network"].ravel()
    assert np.any(net < 0) and np.any(net % 2 == 1) and want["score"].max() == score.format.max_int
    np.testing.assert_array_equal(want["score"].ravel(), score.format.requantize(net.astype(float), 4))
    got = write_trigger_rtl(chain, tmp_path / "rtl", clock_mhz=200.0).predict_counts(counts)
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=name)
    with pytest.raises(ValueError, match="one output"):
        TriggerChain(base.scaling, small_chain(n_out=2).graph, score).emulate_counts(counts[:2])


def narrow_chain(out_bits: int) -> TriggerChain:
    """`small_chain`'s network with `out_bits`-bit saturating outputs in [-16, 16) and a score shifted by 2 bits."""
    base = small_chain(seed=4, thresholds=(3, 50, 120))
    out = FixedFormat(out_bits, 5, True, "RND_CONV", "SAT")
    graph = Graph(f"narrow{out_bits}", base.graph.input_shape, base.graph.input_format,
                  [*base.graph.ops[:-1], Quantize("q_out", out)])
    return TriggerChain(base.scaling, graph, Score(FixedFormat(9, 6, False, "TRN", "SAT"), shift=2), base.thresholds)


@pytest.mark.parametrize("wide", [False, True], ids=["lookup", "shift-and-add"])
def test_squares_equal_emulator(wide, tmp_path):
    """In a combinational design, outputs of at most LOOKUP_BITS bits are squared by one lookup table each (a ROM
    file beside the RTL, no product), wider ones (and every one of a pipelined design) by shift-and-add (every
    product has a one-bit operand: no DSP); the whole trigger equals the emulator on raw edge vectors (outputs
    saturating at both ends, scores on the thresholds), combinational and pipelined."""
    from codesign.rtl.trigger import LOOKUP_BITS

    chain = narrow_chain(LOOKUP_BITS + wide)
    comb = trace_trigger(chain, 0, LOOKUP_BITS)
    tables, products = [op for op in comb.ops if op.opcode == 8], [op for op in comb.ops if op.opcode == 7]
    assert (len(tables), bool(products)) == ((0, True) if wide else (3, False))
    for op in products:
        assert min(sum(_kif(comb.ops[k])) for k in (op.id0, op.id1)) == 1
    raw = raw_edge_vectors(chain, 4000, np.random.default_rng(3))
    counts = chain.scaling.raw_format.quantize(raw).astype(np.int64)
    want = trigger_counts(chain, counts)
    out = chain.graph.output_format
    assert want["network"].min() == out.min_int and want["network"].max() == out.max_int
    assert {2, 3, 4, 49, 50, 51} <= set(want["score"].ravel().tolist())
    for name, kwargs in (("comb", {"combinational": True}), ("pipe", {"clock_mhz": 600.0})):
        rtl = write_trigger_rtl(chain, tmp_path / name, **kwargs)
        assert bool(list((tmp_path / name).glob("src/memfiles/*.mem"))) == (name == "comb" and not wide)
        got = rtl.predict_counts(counts)
        for key, values in want.items():
            np.testing.assert_array_equal(got[key], values, err_msg=f"{key}, {name}")


def test_lookup_squares_are_shallower():
    from codesign.rtl.trigger import LOOKUP_BITS

    depth = [trace_trigger(narrow_chain(bits), 0, LOOKUP_BITS).latency[1] for bits in (LOOKUP_BITS, LOOKUP_BITS + 1)]
    assert depth[0] < depth[1]


def _kif(op):
    from da4ml.cmvm.types import _minimal_kif

    k, i, f = _minimal_kif(op.qint)
    return int(k), int(i), int(f)


def port_widths(top: Path) -> dict[str, int]:
    """Port name -> width, parsed from a da4ml top module's Verilog."""
    text = top.read_text()
    return {name: int(msb) + 1 for msb, name in re.findall(r"(?:input|output)\s+(?:reg\s+)?\[(\d+):0\]\s+(\w+)", text)}


def check_port_map(port_map: list[dict], top: Path) -> None:
    """Groups tile each port from bit 0 to its top bit, element by element, as the Verilog declares it."""
    widths = port_widths(top)
    for port in ("model_inp", "model_out"):
        groups = [g for g in port_map if g["port"] == port]
        assert groups and groups[0]["lsb"] == 0
        for before, after in zip(groups, groups[1:]):
            assert after["lsb"] == before["msb"] + 1
        assert groups[-1]["msb"] == widths[port] - 1
        for g in groups:
            offsets = [o for o, w, _, _ in g["element_bits"]]
            assert offsets[0] == g["lsb"] and sum(w for _, w, _, _ in g["element_bits"]) == g["msb"] - g["lsb"] + 1


def test_port_map_matches_the_verilog(chain, tmp_path):
    rtl = write_trigger_rtl(chain, tmp_path / "rtl", clock_mhz=40.0)
    check_port_map(rtl.port_map(), rtl.top_file)
    names = [g["name"] for g in rtl.port_map()]
    assert names == ["raw_inputs", "network", "score", "wp_Loose", "wp_Medium", "wp_Tight"]
    assert [g["msb"] - g["lsb"] + 1 for g in rtl.port_map()[-3:]] == [1, 1, 1]
