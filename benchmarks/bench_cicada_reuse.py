"""What time-multiplexing CICADA's Dense 252->16 over the 4 clocks of II = 4 would cost, against the unrolled CMVM.

    python benchmarks/bench_cicada_reuse.py [--model cicada]

Issue 11 asks what reuse buys in our flow.  The unrolled layer is da4ml's constant-matrix multiply: each constant
product becomes shifts and adds, adders shared across a column, and a zero weight costs nothing.  Over II = 4 one
quarter of the products (63 inputs x 16 outputs = 1,008) runs per clock, so each multiplier sees four different
weights: either a generic 10x8-bit LUT multiplier, or a multiplier by one of four constants chosen by the clock's
phase.  Each piece is synthesised alone with Yosys `synth_xilinx -nodsp` (xc7, the CTP7's family; DSPs are not
allowed) and scaled to the layer: 1,008 multipliers (the muxed constants measured on the model's own weight
quadruples), 16 adder trees of 63 products, 16 accumulators of the deployed `ap_fixed<26,14>` and 63 10-bit 4:1
input multiplexers.  The unrolled layer's figure is da4ml's cost of the same layer traced alone (adder bits,
about LUTs; the whole v2 trigger's Yosys word-level estimate is 0.85 of its da4ml cost).  Pipeline registers,
control and the phase counter are left out of the reuse side, so it is a lower bound.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np

II = 4
#: Weight quadruples measured per design (they share one Yosys run).
SAMPLES = 64


def _verilog(quads: np.ndarray, a_bits: int, w_bits: int, p_bits: int, n_tree: int, acc_bits: int) -> str:
    """Modules: a generic multiplier, SAMPLES multipliers by one of four constants, a tree of n_tree products."""
    muls = []
    for i, quad in enumerate(quads):
        cases = "".join(f"      2'd{k}: w = {w_bits}'sd{v};\n" if v >= 0 else f"      2'd{k}: w = -{w_bits}'sd{-v};\n"
                        for k, v in enumerate(quad.tolist()))
        muls.append(f"""module muxed{i}(input [{a_bits - 1}:0] a, input [1:0] phase, output signed [{p_bits - 1}:0] p);
  reg signed [{w_bits - 1}:0] w;
  always @* begin
    case (phase)
{cases}    endcase
  end
  assign p = $signed({{1'b0, a}}) * w;
endmodule
""")
    insts = "\n".join(f"  muxed{i} m{i}(a[{(i + 1) * a_bits - 1}:{i * a_bits}], phase, "
                      f"p[{(i + 1) * p_bits - 1}:{i * p_bits}]);" for i in range(len(quads)))
    terms = " + ".join(f"$signed(x[{(i + 1) * p_bits - 1}:{i * p_bits}])" for i in range(n_tree))
    return "\n".join([
        f"""module generic(input [{a_bits - 1}:0] a, input signed [{w_bits - 1}:0] w, output signed [{p_bits - 1}:0] p);
  assign p = $signed({{1'b0, a}}) * w;
endmodule
""", *muls,
        f"""module muxed(input [{len(quads) * a_bits - 1}:0] a, input [1:0] phase, output [{len(quads) * p_bits - 1}:0] p);
{insts}
endmodule
""",
        f"""module tree(input [{n_tree * p_bits - 1}:0] x, output signed [{acc_bits - 1}:0] s);
  assign s = {terms};
endmodule
"""])


def _luts(verilog: str, top: str, workdir: Path) -> int:
    """LUTs of module `top` of `verilog` after Yosys' full Xilinx flow without DSPs (YoWASP sees only `workdir`)."""
    from codesign.estimate.tool import find_yosys, run_yosys

    workdir.mkdir()
    (workdir / "reuse.v").write_text(verilog)
    script = (f"read_verilog reuse.v\nsynth_xilinx -family xc7 -nodsp -top {top} -flatten -noiopad -noclkbuf\n"
              "tee -q -o stat.txt stat\n")
    run_yosys(find_yosys(), script, workdir)
    text = (workdir / "stat.txt").read_text()
    return sum(int(line.split()[0]) for line in text.splitlines()
               if len(line.split()) == 2 and line.split()[1] in {f"LUT{k}" for k in range(1, 7)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cicada", help="zoo model or folder (default: cicada)")
    args = parser.parse_args()
    from codesign.fixed.graph import Dense, Graph
    from codesign.rtl.trace import trace_graph
    from codesign.zoo.loading import load_model

    graph = load_model(args.model).graph
    index = next(i for i, op in enumerate(graph.ops) if isinstance(op, Dense))
    dense = graph.ops[index]
    n_in, n_out = dense.weight.shape
    a_bits, w_bits = graph.ops[index - 1].output_format.width, dense.weight_format.width
    p_bits, acc_bits = a_bits + w_bits + 1, dense.accum_format.width if dense.accum else dense.exact_format.width
    per_clock = n_in // II
    rng = np.random.default_rng(0)
    picks = rng.integers(0, per_clock, SAMPLES), rng.integers(0, n_out, SAMPLES)
    quads = np.stack([dense.weight[picks[0] + k * per_clock, picks[1]] for k in range(II)], axis=1).astype(int)

    with tempfile.TemporaryDirectory() as tmp:
        verilog = _verilog(quads, a_bits, w_bits, p_bits, per_clock, acc_bits)
        generic = _luts(verilog, "generic", Path(tmp) / "generic")
        muxed = _luts(verilog, "muxed", Path(tmp) / "muxed") / SAMPLES
        tree = _luts(verilog, "tree", Path(tmp) / "tree")

    def cost(upto: int) -> float:
        ops = copy.deepcopy(graph.ops[:upto])
        return trace_graph(Graph(graph.name, graph.input_shape, graph.input_format, ops)).cost

    unrolled = cost(index + 1) - cost(index)
    mux_in = per_clock * a_bits  # a 4:1 multiplexer of one bit is one LUT6
    rest = n_out * tree + n_out * acc_bits + mux_in
    print(f"{args.model} {dense.name}: {n_in}x{n_out}, {np.count_nonzero(dense.weight)} nonzero weights "
          f"({np.mean(dense.weight == 0):.0%} zero), {a_bits}-bit inputs x {w_bits}-bit weights")
    print(f"unrolled CMVM (da4ml cost of the layer alone): {unrolled:,.0f}")
    print(f"II={II}: {per_clock * n_out} multipliers per clock; Yosys synth_xilinx -nodsp LUTs: generic {generic}, "
          f"muxed constants {muxed:.1f} (mean of {SAMPLES} weight quadruples), {per_clock}-input tree {tree}")
    for name, mul in (("generic", generic), ("muxed constants", muxed)):
        total = per_clock * n_out * mul + rest
        print(f"time-multiplexed, {name}: {per_clock * n_out} x {mul:.1f} + {n_out} trees x {tree} + {n_out} "
              f"accumulators x {acc_bits} + {mux_in} input mux = {total:,.0f} LUT (lower bound), "
              f"{total / unrolled:.2f}x the unrolled layer")


if __name__ == "__main__":
    main()
