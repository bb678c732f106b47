"""Detection power of synth's vectors: inject one fault at a time, count the vectors that catch it.

    python benchmarks/bench_mutation.py [--model axol1tl] [--vectors 10000] [--clock-mhz 40]

Uses the zoo model's trigger chain and exactly the vectors `codesign synth` uses (network:
`edge_case_vectors`; whole chain: `raw_edge_vectors`, with threshold and sensitivity vectors).
Faults: every weight and bias of a few random positions per layer +-1 LSB; each cast's rounding
(to TRN, to RND) and overflow (to WRAP) mode and its binary point (+-1 bit); input-scaling shifts and
offsets +-1 of a few features; each comparator threshold +-1 LSB and `>` written `>=`; adders of the
RTL turned into subtractors (and back), evaluated on the pipelined logic.  Mode changes that cannot
alter any value (a cast that drops no bits, or whose input range fits: proved by `fixed.bounds`'
MILP where the formats alone do not show it) are equivalent, not faults, and are not listed.  A fault caught by no
vector means the vectors cannot tell it from the right design; the target is >= 10 vectors each.
Also shown: how many of the uniform random vectors alone catch it.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

TARGET = 10


def network_faults(graph, rng):
    """(name, mutated graph) pairs."""
    from codesign.fixed.graph import Dense, Graph, Quantize, Scale

    saturating = _casts_that_can_saturate(graph)

    def mutated(index, **changes):
        ops = [copy.copy(op) for op in graph.ops]
        for key, value in changes.items():
            setattr(ops[index], key, value)
        return Graph(graph.name, graph.input_shape, graph.input_format, ops)

    incoming = graph.input_format
    for i, op in enumerate(graph.ops):
        before, incoming = incoming, op.output_format
        if isinstance(op, (Dense, Scale)):
            for _ in range(3):
                pos = tuple(int(rng.integers(n)) for n in op.weight.shape)
                for delta in (1, -1):
                    weight = op.weight.copy()
                    weight[pos] += delta
                    yield f"{op.name} weight{list(pos)} {delta:+d} LSB", mutated(i, weight=weight)
            j = int(rng.integers(len(op.bias)))
            for delta in (1, -1):
                bias = op.bias.copy()
                bias[j] += delta
                yield f"{op.name} bias[{j}] {delta:+d} LSB", mutated(i, bias=bias)
        elif isinstance(op, Quantize):
            fmt = op.output_format
            low = 0.0 if op.relu else before.min_value
            if before.frac > fmt.frac:  # else no rounding happens: changing the mode is no fault (equivalent)
                for rounding in ("TRN", "RND", "RND_CONV"):
                    if rounding != fmt.rounding:
                        yield f"{op.name} rounding {fmt.rounding}->{rounding}", mutated(
                            i, output_format=dataclasses.replace(fmt, rounding=rounding))
            if fmt.overflow != "WRAP" and (before.max_value > fmt.max_value or low < fmt.min_value) and op.name in saturating:
                yield f"{op.name} overflow {fmt.overflow}->WRAP", mutated(
                    i, output_format=dataclasses.replace(fmt, overflow="WRAP"))
            for delta in (1, -1):
                yield f"{op.name} binary point {delta:+d} bit", mutated(
                    i, output_format=dataclasses.replace(fmt, integer=fmt.integer + delta))


def _casts_that_can_saturate(graph) -> set[str]:
    """Names of the casts some input drives past an end (every cast when the MILP cannot model the graph)."""
    from codesign.fixed.bounds import saturations

    try:
        verdicts = saturations(graph, per_side=1)
    except NotImplementedError:
        return {op.name for op in graph.ops}
    return {v.cast for v in verdicts if v.reachable is not False}


def input_faults(graph):
    """(name, another input format) pairs: the cast of real inputs to the network's input format."""
    fmt = graph.input_format
    for rounding in ("TRN", "RND", "RND_CONV"):
        if rounding != fmt.rounding:
            yield f"input cast rounding {fmt.rounding}->{rounding}", dataclasses.replace(fmt, rounding=rounding)
    if fmt.overflow != "WRAP":
        yield f"input cast overflow {fmt.overflow}->WRAP", dataclasses.replace(fmt, overflow="WRAP")


def chain_faults(chain, rng):
    """(name, function raw counts -> (network counts, score counts, pass bits)) pairs."""
    from codesign.fixed.trigger import InputScaling

    def runner(scaling=chain.scaling, thresholds=chain.thresholds, strict=True):
        return lambda raw: _run_chain(chain, raw, scaling, thresholds, strict)

    n_in = len(chain.scaling.shifts)
    for feature in rng.choice(n_in, size=4, replace=False):
        for delta in (1, -1):
            shifts = chain.scaling.shifts.copy()
            shifts[feature] = max(shifts[feature] + delta, 0)
            if shifts[feature] != chain.scaling.shifts[feature]:
                yield f"input shift[{feature}] {delta:+d}", runner(InputScaling(chain.scaling.raw_format, chain.scaling.offsets, shifts))
            offsets = chain.scaling.offsets.copy()
            offsets[feature] += delta
            yield f"input offset[{feature}] {delta:+d}", runner(InputScaling(chain.scaling.raw_format, offsets, chain.scaling.shifts))
    for wp, threshold in chain.thresholds.items():
        for delta in (1, -1):
            yield f"threshold {wp} {delta:+d} LSB", runner(thresholds={**chain.thresholds, wp: threshold + delta})
    yield "comparators > written >=", runner(strict=False)


def _run_chain(chain, raw, scaling, thresholds, strict):
    from codesign.fixed.emulator import emulate_ints

    graph = chain.graph
    x = scaling.apply(raw, graph.input_format).reshape(len(raw), *graph.input_shape)
    out = emulate_ints(graph, x).reshape(len(raw), -1)
    score = chain.score.apply(out, graph.output_format)
    bits = [score > t if strict else score >= t for t in thresholds.values()]
    return np.column_stack([out, score, *bits])


def rtl_faults(pipeline, rng, count: int):
    """(name, pipeline with one adder turned into a subtractor or back) pairs."""
    adders = [(s, i) for s, stage in enumerate(pipeline.solutions) for i, op in enumerate(stage.ops) if op.opcode in (0, 1)]
    for k in rng.choice(len(adders), size=min(count, len(adders)), replace=False):
        s, i = adders[k]
        stage = pipeline.solutions[s]
        op = stage.ops[i]
        ops = list(stage.ops)
        ops[i] = op._replace(opcode=1 - op.opcode)
        stages = list(pipeline.solutions)
        stages[s] = stage._replace(ops=ops)
        yield f"RTL stage {s} op {i} {'add->sub' if op.opcode == 0 else 'sub->add'}", pipeline._replace(solutions=tuple(stages))


def caught(reference: np.ndarray, mutated: np.ndarray) -> np.ndarray:
    return (reference.reshape(len(reference), -1) != mutated.reshape(len(mutated), -1)).any(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="axol1tl")
    parser.add_argument("--vectors", type=int, default=10_000)
    parser.add_argument("--clock-mhz", type=float, default=40.0)
    parser.add_argument("--rtl-faults", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from codesign.fixed.emulator import emulate_ints
    from codesign.hls.compare import edge_case_vectors
    from codesign.rtl import write_rtl
    from codesign.rtl.trace import run_logic
    from codesign.verify.vectors import raw_edge_vectors
    from codesign.zoo.loading import load_model

    model = load_model(args.model)
    graph, chain = model.graph, model.chain
    rng = np.random.default_rng(args.seed)
    x_real = edge_case_vectors(graph, args.vectors, rng)
    x = graph.input_format.quantize(x_real).astype(np.int64)
    raw = chain.scaling.raw_format.quantize(raw_edge_vectors(chain, args.vectors, rng)).astype(np.int64)
    n_random_net, n_random_raw = args.vectors, args.vectors // 2  # both sets start with their uniform vectors
    reference, raw_reference = emulate_ints(graph, x), _run_chain(chain, raw, chain.scaling, chain.thresholds, True)
    rows = []
    for name, faulty in network_faults(graph, np.random.default_rng(args.seed + 1)):
        hit = caught(reference, emulate_ints(faulty, x))
        rows.append((name, int(hit.sum()), int(hit[:n_random_net].sum()), len(x)))
    for name, fmt in input_faults(graph):
        hit = caught(reference, emulate_ints(graph, fmt.quantize(x_real).astype(np.int64)))
        rows.append((name, int(hit.sum()), int(hit[:n_random_net].sum()), len(x)))
    for name, run in chain_faults(chain, np.random.default_rng(args.seed + 2)):
        hit = caught(raw_reference, run(raw))
        rows.append((name, int(hit.sum()), int(hit[:n_random_raw].sum()), len(raw)))
    with tempfile.TemporaryDirectory() as tmp:
        rtl = write_rtl(graph, Path(tmp) / "rtl", clock_mhz=args.clock_mhz)
    for name, pipeline in rtl_faults(rtl.pipeline, np.random.default_rng(args.seed + 3), args.rtl_faults):
        hit = caught(reference, run_logic(pipeline, graph, x))
        rows.append((name, int(hit.sum()), int(hit[:n_random_net].sum()), len(x)))
    width = max(len(r[0]) for r in rows)
    print(f"{args.model}: {len(rows)} faults; network vectors {len(x)}, trigger-chain vectors {len(raw)}")
    print(f"| {'fault':<{width}} | caught by | of uniform random only | vectors |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for name, n, n_random, total in rows:
        print(f"| {name:<{width}} | {n} | {n_random} | {total} |")
    weak = [r for r in rows if r[1] < TARGET]
    print(f"faults caught by fewer than {TARGET} vectors: {len(weak)}" + "".join(f"\n  {r[0]}: {r[1]}" for r in weak))


if __name__ == "__main__":
    main()
