"""Saturation by MILP (`codesign.fixed.bounds`): sound against brute force over every input, and the
witnesses in synth's vectors catch a saturating cast written as wrapping."""

from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy as np

from codesign.fixed import Dense, Graph, emulate_ints
from codesign.fixed.bounds import saturations
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.graph import Quantize
from codesign.hls import edge_case_vectors


def _small_graph(seed: int) -> Graph:
    """3 inputs (32 values each) -> Dense 5 -> saturating ReLU cast -> Dense 2 -> saturating cast, with
    rounding in both casts; random weights large enough that some ends are reachable and some are not."""
    rng = np.random.default_rng(seed)
    weights = FixedFormat(6, 2)
    ops = [
        Dense("d0", rng.integers(-31, 32, (3, 5)), weights, rng.integers(-8, 9, 5), weights),
        Quantize("a0", FixedFormat(5, 3, signed=False, rounding="RND_CONV", overflow="SAT"), relu=True),
        Dense("d1", rng.integers(-31, 32, (5, 2)), weights, rng.integers(-8, 9, 2), weights),
        Quantize("out", FixedFormat(6, 4, rounding="RND", overflow="SAT")),
    ]
    return Graph(f"small{seed}", (3,), FixedFormat(5, 3), ops)


def _grid_ranges(graph: Graph) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per cast, the exact min and max of each element of its input over every input on the grid."""
    fmt = graph.input_format
    grid = np.array(list(itertools.product(range(fmt.min_int, fmt.max_int + 1), repeat=3)))
    ranges = {}
    for i, op in enumerate(graph.ops):
        if isinstance(op, Quantize):
            prefix = Graph("prefix", graph.input_shape, fmt, [copy.copy(o) for o in graph.ops[:i]])
            values = prefix.output_format.to_float(emulate_ints(prefix, grid))
            ranges[op.name] = values.min(axis=0), values.max(axis=0)
    return ranges


def test_saturation_verdicts_agree_with_every_input():
    """On random small graphs: an end some grid input passes is found reachable; an end proved unreachable
    is passed by no grid input; witnesses lie in the input box.  The family has ends of both kinds."""
    kinds = [verdict for seed in range(8) for verdict in _check_against_grid(_small_graph(seed))]
    assert True in kinds and False in kinds


def _check_against_grid(graph: Graph) -> list[bool | None]:
    casts = {op.name: op for op in graph.ops if isinstance(op, Quantize)}
    verdicts = {(s.cast, s.element, s.side): s for s in saturations(graph)}
    assert all(s.reachable is not None for s in verdicts.values())
    for name, (low, high) in _grid_ranges(graph).items():
        fmt, relu = casts[name].output_format, casts[name].relu
        for k in range(len(low)):
            for side, past in (("high", high[k] - fmt.max_value), ("low", fmt.min_value - low[k])):
                if side == "low" and relu:
                    continue
                verdict = verdicts.get((name, k, side))
                if past >= fmt.lsb / 2:  # some input visibly saturates: the MILP must have found the end reachable
                    assert verdict is not None and verdict.reachable, (name, k, side, past)
                if verdict is not None and verdict.reachable is False:  # proved unreachable: no input gets there
                    assert past < fmt.lsb / 2, (name, k, side, past)
    witnesses = [s.witness for s in verdicts.values() if s.reachable]
    for x in witnesses:
        assert np.all(x >= graph.input_format.min_value - 1e-9) and np.all(x <= graph.input_format.max_value + 1e-9)
    return [s.reachable for s in verdicts.values()]


def test_every_saturating_cast_of_axol1tl_written_wrapping_is_caught_by_ten_vectors():
    """Issue 17's target: uniform, corner and hill-climbing vectors never saturated AXOL1TL's mu; the MILP
    witnesses do, so SAT -> WRAP of every cast shows on >= 10 of synth's vectors."""
    from codesign.zoo.loading import load_model

    graph = load_model("axol1tl").graph
    x = graph.input_format.quantize(edge_case_vectors(graph, 2000, np.random.default_rng(0))).astype(np.int64)
    reference = emulate_ints(graph, x)
    for i, op in enumerate(graph.ops):
        if isinstance(op, Quantize) and op.output_format.overflow != "WRAP" and i > 0:
            ops = [copy.copy(o) for o in graph.ops]
            ops[i].output_format = dataclasses.replace(op.output_format, overflow="WRAP")
            mutant = emulate_ints(Graph(graph.name, graph.input_shape, graph.input_format, ops), x)
            assert (mutant != reference).any(axis=1).sum() >= 10, op.name
