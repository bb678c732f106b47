"""Part table, utilization, and real Yosys synthesis of tiny designs in both flows."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from codesign.errors import CodesignError
from codesign.estimate import FLOWS, find_yosys, get_part, parts, synthesize

ADDER = """
module add8 (input clk, input [7:0] a, input [7:0] b, output reg [8:0] y);
  always @(posedge clk) y <= a + b;
endmodule
"""

MULTIPLIER = """
module mul8 (input clk, input signed [7:0] a, input signed [7:0] b, output reg signed [15:0] y);
  always @(posedge clk) y <= a * b;
endmodule
"""

SHIFTER = """
module shl (input clk, input [7:0] a, input [2:0] s, output reg [14:0] y);
  always @(posedge clk) y <= a << s;
endmodule
"""

ROM = """
module rom (input clk, input [5:0] a, output reg [7:0] y);
  reg [7:0] words [0:63];
  reg [7:0] q;
  initial $readmemh("rom.mem", words);
  always @(*) q = words[a];
  always @(posedge clk) y <= q;
endmodule
"""


def shift_add_tree(inputs: int = 6, width: int = 8) -> str:
    """A registered sum of shifted inputs (constant multiplication by shift-and-add, as da4ml emits it)."""
    ports = ", ".join(f"input signed [{width - 1}:0] x{i}" for i in range(inputs))
    terms = " + ".join(f"(x{i} <<< {i % 3})" if i % 2 else f"-(x{i} <<< {i % 4})" for i in range(inputs))
    return (f"module tree (input clk, {ports}, output reg signed [{width + 6}:0] y);\n"
            f"  always @(posedge clk) y <= {terms};\nendmodule\n")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_part_table_has_the_trigger_parts():
    table = parts()
    assert {"xcvu9p", "xcvu13p", "xc7vx690t"} <= set(table)
    vu9p = get_part("xcvu9p")
    assert (vu9p.lut, vu9p.ff, vu9p.dsp, vu9p.bram36, vu9p.family) == (1_182_240, 2_364_480, 6_840, 2_160, "xcup")
    assert get_part("xc7vx690t").family == "xc7"
    assert all(p.family in {"xc7", "xcu", "xcup"} and p.lut > 0 and p.ff == 2 * p.lut for p in table.values())


@pytest.mark.parametrize("name, short", [
    ("xcvu9p-flga2104-2L-e", "xcvu9p"),
    ("XCVU13P-FLGA2577-2-E", "xcvu13p"),
    ("xc7vx690tffg1927-2", "xc7vx690t"),
    (" xc7vx690t ", "xc7vx690t"),
])
def test_full_part_strings_resolve(name, short):
    assert get_part(name).name == short


@pytest.mark.parametrize("name", ["xcvu9", "xcku1150", "xc7vx690", "ep4ce22", ""])
def test_unknown_part_lists_known_ones(name):
    with pytest.raises(CodesignError) as err:
        get_part(name)
    message = str(err.value)
    assert "\n" not in message and all(known in message for known in parts())


def test_utilization_pct():
    part = get_part("xcvu9p")
    used = part.utilization_pct({"lut": 11_822.4, "ff": 0, "dsp": 684, "bram36": 1080, "carry": 5})
    assert used == pytest.approx({"lut": 1.0, "ff": 0.0, "dsp": 10.0, "bram36": 50.0})


@pytest.fixture(scope="module")
def yosys():
    try:
        return find_yosys()
    except CodesignError as err:
        pytest.skip(str(err))


@pytest.mark.parametrize("flow", FLOWS)
def test_registered_adder(yosys, tmp_path, flow):
    result = synthesize([write(tmp_path, "add8.v", ADDER)], "add8", get_part("xcvu9p"), tmp_path / "work", flow=flow)
    assert 1 <= result.lut <= 16 and result.ff == 9 and result.dsp == 0 and result.bram36 == 0
    assert 2 <= result.carry <= 3
    assert result.source == "yosys" and result.version[0].isdigit() and result.flow == flow
    assert result.unpriced == {}
    if flow == "full":
        assert 2 <= result.logic_levels <= 6
        assert get_part("xcvu9p").utilization_pct(result.resources())["ff"] == pytest.approx(100 * 9 / 2_364_480)


@pytest.mark.parametrize("flow", FLOWS)
def test_multiplier_uses_one_dsp(yosys, tmp_path, flow):
    source = [write(tmp_path, "mul8.v", MULTIPLIER)]
    result = synthesize(source, "mul8", get_part("xc7vx690t"), tmp_path / "w", flow=flow)
    assert result.dsp == 1 and result.lut <= 2


def test_fast_flow_tracks_full_on_a_shift_add_tree(yosys, tmp_path):
    # 7-series: Yosys 0.23 maps this multi-operand sum on xcup to ~2x the LUTs through MUXF7-9 wide LUTs
    source = [write(tmp_path, "tree.v", shift_add_tree())]
    fast, full = (synthesize(source, "tree", get_part("xc7vx690t"), tmp_path / flow, flow=flow) for flow in FLOWS)
    assert fast.ff == full.ff == 15
    assert abs(fast.lut - full.lut) <= 0.2 * full.lut


@pytest.mark.parametrize("flow", FLOWS)
def test_rom_reads_its_data_file(yosys, tmp_path, flow):
    words = random.Random(3).choices(range(256), k=64)
    table = write(tmp_path, "rom.mem", "".join(f"{word:02X}\n" for word in words))
    result = synthesize([write(tmp_path, "rom.v", ROM)], "rom", get_part("xcvu9p"), tmp_path / "w", flow=flow,
                        data_files=[table])
    assert result.lut == 8 and result.ff == 8


def test_fast_flow_reports_cells_it_cannot_price(yosys, tmp_path):
    result = synthesize([write(tmp_path, "shl.v", SHIFTER)], "shl", get_part("xcvu9p"), tmp_path / "w", flow="fast")
    assert result.unpriced == {"$shl": 1} and result.ff == 15


def test_bad_verilog_names_the_first_error(yosys, tmp_path):
    bad = write(tmp_path, "bad.v", "module bad (input a, output y);\n  assign y = a +;\nendmodule\n")
    with pytest.raises(CodesignError, match=r"Yosys failed: .*ERROR.*(bad\.v|syntax)") as err:
        synthesize([bad], "bad", get_part("xcvu9p"), tmp_path / "w")
    assert "\n" not in str(err.value)


def test_missing_top_and_files_and_flow(yosys, tmp_path):
    adder = write(tmp_path, "add8.v", ADDER)
    with pytest.raises(CodesignError, match="ERROR"):
        synthesize([adder], "nonesuch", get_part("xcvu9p"), tmp_path / "w")
    with pytest.raises(CodesignError, match="no such"):
        synthesize([tmp_path / "absent.v"], "add8", get_part("xcvu9p"), tmp_path / "w")
    with pytest.raises(CodesignError, match="unknown synthesis flow"):
        synthesize([adder], "add8", get_part("xcvu9p"), tmp_path / "w", flow="vivado")


def test_timeout_stops_yosys(yosys, tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "cache"))  # a run, not the outputs of an earlier one
    with pytest.raises(CodesignError, match="did not finish"):
        synthesize([write(tmp_path, "add8.v", ADDER)], "add8", get_part("xcvu9p"), tmp_path / "w",
                   timeout_s=0.001, flow="full")


def test_same_bytes_reuse_the_run_other_bytes_run_again(yosys, tmp_path, monkeypatch):
    """A second estimate of the same sources comes from the first run's outputs (same counts, log in the new
    workdir); one changed byte runs Yosys again."""
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "cache"))
    part = get_part("xcvu9p")
    first = synthesize([write(tmp_path, "add8.v", ADDER)], "add8", part, tmp_path / "one")
    again = synthesize([write(tmp_path, "add8.v", ADDER)], "add8", part, tmp_path / "two")
    assert not first.cached and again.cached and (tmp_path / "two" / "yosys.log").is_file()
    assert (again.lut, again.ff, again.carry, again.cells) == (first.lut, first.ff, first.carry, first.cells)
    wider_adder = ADDER.replace("[7:0]", "[8:0]").replace("[8:0] y", "[9:0] y")
    wider = synthesize([write(tmp_path, "add8.v", wider_adder)], "add8", part, tmp_path / "three")
    assert not wider.cached and wider.ff == 10


@pytest.mark.slow
@pytest.mark.parametrize("flow", FLOWS)
def test_da4ml_lookup_table_rom_maps_to_luts(yosys, tmp_path, flow):
    """da4ml's `lookup_table` (a `$readmemh` ROM with rom_style "distributed", which synth_xilinx alone cannot map):
    a 512-entry table of squares becomes LUTs (and MUXF7/8), registered; no DSP, no block RAM."""
    from importlib.resources import files

    module = files("da4ml") / "codegen" / "rtl" / "verilog" / "source" / "lookup_table.v"
    table = write(tmp_path, "squares.mem", "".join(f"{(k - 512 * (k >= 256)) ** 2:05X}\n" for k in range(512)))
    top = write(tmp_path, "top.v", "module top (input clk, input [8:0] a, output reg [16:0] y);\n"
                '  wire [16:0] q;\n  lookup_table #(9, 17, "squares.mem") rom (a, q);\n'
                "  always @(posedge clk) y <= q;\nendmodule\n")
    source = [top, write(tmp_path, "lookup_table.v", module.read_text())]
    result = synthesize(source, "top", get_part("xcvu9p"), tmp_path / "w", flow=flow, data_files=[table])
    assert 16 <= result.ff <= 17 and result.dsp == 0 and result.bram36 == 0 and 16 <= result.lut <= 17 * 16  # bit 1 of a square is 0
    if flow == "full":
        assert 1 <= result.logic_levels <= 6
