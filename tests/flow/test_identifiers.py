"""Generated identifiers are legal and distinct, and synth's Verilator lint catches RTL that does not compile."""

from __future__ import annotations

import pytest

from codesign.errors import CodesignError
from codesign.identifiers import MAX_LENGTH, cpp_name, verilog_module
from codesign.verify.runner import lint


@pytest.mark.parametrize("name, module", [
    ("small", "m_small"), ("module", "m_module"), ("input", "m_input"), ("mux", "m_mux"), ("int", "m_int"),
    ("axol1tl", "axol1tl"), ("3layers", "m_3layers"), ("my model-v2", "my_model_v2"), ("a__b", "a_b"),
    ("héllo", "h_llo"), ("", "model"), ("___", "model"),
])
def test_verilog_module_names(name, module):
    assert verilog_module(name) == module


def test_long_names_are_cut_and_stay_distinct():
    a, b = verilog_module("x" * 300 + "a"), verilog_module("x" * 300 + "b")
    assert len(a) == len(b) == MAX_LENGTH and a != b


def test_cpp_names_avoid_both_languages():
    assert cpp_name("class") == "m_class" and cpp_name("module") == "m_module" and cpp_name("nnet") == "m_nnet"


def test_lint_rejects_a_keyword_module_and_accepts_a_legal_one(tmp_path):
    bad = tmp_path / "small.v"
    bad.write_text("module small (input clk, output out);\n  assign out = clk;\nendmodule\n")
    with pytest.raises(CodesignError, match="does not compile"):
        lint([bad], "small")
    good = tmp_path / "m_small.v"
    good.write_text("module m_small (input clk, output out);\n  assign out = clk;\nendmodule\n")
    lint([good], "m_small")
