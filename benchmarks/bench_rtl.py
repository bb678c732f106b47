"""RTL generation speed and cost: trace, pipeline, write, interpreter events/s; the price of ties-to-even.

    python benchmarks/bench_rtl.py [--events 100000]

On a 57-32-16-8 QKeras MLP with random 6-bit weights (the size of the AXOL1TL encoder).  The same
graph is then traced with half-up (`RND`) and truncating (`TRN`) activations to show what the
ties-to-even (`RND_CONV`) casts cost in da4ml's LUT estimate and in adder levels.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def qkeras_mlp(sizes=(57, 32, 16, 8), weight_bits: int = 6, seed: int = 0):
    import keras
    import numpy as np
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(seed)
    inp = keras.Input((sizes[0],))
    x = QActivation(quantized_bits(12, 6, alpha=1), name="q_in")(inp)
    for n, width in enumerate(sizes[1:]):
        wq = quantized_bits(weight_bits, 0, alpha=1)
        x = QDense(width, kernel_quantizer=wq, bias_quantizer=wq, name=f"d{n}")(x)
        last = n == len(sizes) - 2
        x = QActivation(quantized_bits(12, 5, alpha=1) if last else quantized_relu(8, 3), name=f"a{n}")(x)
    model = keras.Model(inp, x, name="mlp")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-1, 1, w.shape) for w in layer.get_weights()])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("CODESIGN_CACHE", tempfile.mkdtemp(prefix="codesign-bench-"))

    import numpy as np

    from codesign.fixed import Graph, Quantize, emulate_ints, lower_keras
    from codesign.rtl import latency_cutoff, run_logic, trace_graph, write_rtl
    from codesign.cache import configure_numba_cache

    print(f"numba cache: {configure_numba_cache()}")
    graph = lower_keras(qkeras_mlp())[0]
    start = time.perf_counter()
    comb = trace_graph(graph)
    print(f"trace: {time.perf_counter() - start:.1f} s (first trace in the process), {len(comb.ops)} ops,"
          f" {comb.latency[1]:.0f} adder levels, {comb.cost:.0f} LUT-equivalents")

    x = np.random.default_rng(1).integers(graph.input_format.min_int, graph.input_format.max_int + 1,
                                          size=(args.events, *graph.input_shape))
    start = time.perf_counter()
    reference = emulate_ints(graph, x)
    print(f"emulator: {args.events / (time.perf_counter() - start):,.0f} events/s")
    start = time.perf_counter()
    assert np.array_equal(run_logic(comb, graph, x), reference)
    print(f"interpreter, combinational: {args.events / (time.perf_counter() - start):,.0f} events/s"
          " (exact interpreter, bit-exact)")

    with tempfile.TemporaryDirectory() as tmp:
        for mhz in (40, 240, 400):
            start = time.perf_counter()
            project = write_rtl(graph, Path(tmp) / f"mhz{mhz}", clock_mhz=mhz)
            elapsed = time.perf_counter() - start
            start = time.perf_counter()
            assert np.array_equal(project.predict_ints(x), reference)
            rate = args.events / (time.perf_counter() - start)
            print(f"{mhz:4d} MHz (cutoff {latency_cutoff(mhz)} levels): pipeline + write {elapsed:.2f} s,"
                  f" {project.latency_cycles} cycles, depths {project.stage_depths}, {project.cost['luts']} LUTs,"
                  f" {project.cost['registers']} FFs; pipeline interpreter {rate:,.0f} events/s")

    print("\nactivation rounding   LUT-equivalents   adder levels")
    for rounding in ("RND_CONV", "RND", "TRN"):
        ops = [Quantize(op.name, op.output_format.with_modes(rounding, op.output_format.overflow), op.relu)
               if isinstance(op, Quantize) else op for op in graph.ops]
        variant = trace_graph(Graph(f"{graph.name}_{rounding}", graph.input_shape, graph.input_format, ops))
        print(f"{rounding:20s} {variant.cost:17.0f} {variant.latency[1]:14.0f}"
              f"   ({variant.cost / comb.cost - 1:+.1%} vs RND_CONV)")


if __name__ == "__main__":
    main()
