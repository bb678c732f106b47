"""`codesign synth` end to end: report schema, bit-exactness, determinism, atomicity, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from codesign.atomic import MARKER
from codesign.cli import main
from codesign.errors import CodesignError
from codesign.synth import synthesize
from tests.flow.conftest import save_small_model

REPORT_KEYS = {"model", "part", "clock_mhz", "latency_cycles", "latency_ns", "ii", "resources", "utilization_pct",
               "bit_exact", "metrics", "tools"}


def _files(folder: Path, patterns) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for pattern in patterns for p in sorted(folder.glob(pattern))}


@pytest.fixture(scope="module")
def small_project(small_h5, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "small_xcvu9p"
    report = synthesize(str(small_h5), part="xcvu9p", output=out, progress=lambda _: None)
    return out, report


def test_report_schema_and_checks(small_project):
    out, report = small_project
    on_disk = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(on_disk)
    assert on_disk["bit_exact"]["mismatches"] == 0 and on_disk["bit_exact"]["vectors"] >= 10_000
    paths = on_disk["bit_exact"]["paths"]
    assert set(paths) == {"emulator_vs_qkeras_float64", "emulator_vs_hls_csim", "emulator_vs_rtl_interpreter"}
    assert all(p["bit_exact"] and p["mismatches"] == 0 and p["max_deviation_lsb"] == 0 for p in paths.values())
    for name in ("lut", "ff", "dsp", "bram"):
        assert on_disk["resources"][name]["source"] in ("yosys", "da4ml", "vivado")
    assert on_disk["resources"]["lut"]["value"] > 0 and on_disk["utilization_pct"]["lut"] > 0
    assert on_disk["latency_cycles"] >= 1 and on_disk["latency_ns"] == on_disk["latency_cycles"] * 25.0
    assert {"hls4ml", "da4ml", "yosys"} <= set(on_disk["tools"])
    assert (out / "report.md").read_text().startswith("# small on xcvu9p")
    assert list((out / "hls" / "firmware").glob("*.cpp")) and list((out / "rtl" / "src").glob("*.v"))
    assert (out / MARKER).is_file() and "lint" in on_disk["timings_s"]
    assert f"OutputDir: {out.absolute() / 'hls'}\n" in (out / "hls" / "hls4ml_config.yml").read_text()
    assert (out / "rtl" / "src" / "m_small.v").is_file()  # `small` is a Verilog keyword
    assert on_disk["rtl"]["covers"] == "network" and on_disk["rtl"]["top_module"] == "m_small"
    check_report_ports(out, on_disk)


def check_report_ports(out: Path, report: dict) -> None:
    """report.md names the top module and every port group with the bit ranges of the generated Verilog;
    every figure line says where it comes from; no line is printed twice."""
    from tests.rtl.test_trigger_rtl import check_port_map, port_widths

    rtl = report["rtl"]
    top = out / rtl["top_file"]
    check_port_map(rtl["port_map"], top)
    md = (out / "report.md").read_text()
    widths = port_widths(top)
    assert f"Top module `{rtl['top_module']}`" in md
    assert f"`model_inp[{widths['model_inp'] - 1}:0]`" in md and f"`model_out[{widths['model_out'] - 1}:0]`" in md
    for g in rtl["port_map"]:
        assert f"| `{g['port']}[{g['msb']}:{g['lsb']}]` | {g['name']} | {g['elements']} | {g['format']} |" in md
    assert "Yosys word-level estimate" in md and f"yosys {report['tools']['yosys']}" in md
    assert "codesign delay model" in md and "adder levels" in md
    assert "| BRAM | 0 |" in md
    lines = [line for line in md.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), [line for line in lines if lines.count(line) > 1]


def test_too_fast_clock_warns_in_report_and_console(small_h5, tmp_path):
    messages: list[str] = []
    report = synthesize(small_h5, part="xcvu9p", clock_mhz=1000.0, output=tmp_path / "fast", vectors=200,
                        progress=messages.append)
    assert report["timing"]["warning"] and report["timing"]["worst_margin"] < 0.2
    assert any(m.startswith("warning: timing:") for m in messages)
    assert "**WARNING**: timing:" in (tmp_path / "fast" / "report.md").read_text()


def test_two_runs_are_identical(small_project, small_h5, tmp_path, monkeypatch):
    first, _ = small_project
    monkeypatch.delenv("CODESIGN_PROJECTS", raising=False)
    monkeypatch.chdir(tmp_path)  # no -o: ./vivado_projects/<model>_<part> in the working folder
    report = synthesize(str(small_h5), part="xcvu9p", progress=lambda _: None)
    second = tmp_path / "vivado_projects" / "small_xcvu9p"
    assert Path(report["project"]).absolute() == second and (second / "report.json").is_file()
    patterns = ("graph.json", "hls/firmware/*.cpp", "hls/firmware/*.h", "hls/firmware/weights/*.h", "rtl/src/*.v",
                "hls/build_prj.tcl")
    a, b = _files(first, patterns), _files(second, patterns)
    assert a and a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_a_mismatch_fails_and_leaves_no_project(small_h5, tmp_path, monkeypatch):
    import codesign.synth as synth

    real = synth.emulate

    def off_by_one_lsb(graph, x):
        out = real(graph, x)
        out[7, 0] += graph.output_format.lsb
        return out

    monkeypatch.setattr(synth, "emulate", off_by_one_lsb)
    out = tmp_path / "broken"
    with pytest.raises(CodesignError, match="emulator_vs_hls_csim: 1 of .* vectors differ"):
        synthesize(str(small_h5), part="xcvu9p", output=out, progress=lambda _: None)
    assert not out.exists() and not list(tmp_path.glob(".broken*"))
    saved = np.load(tmp_path / "broken.mismatches.csim.npz")
    assert saved["index"].tolist() == [7]


def test_unknown_part_is_a_one_line_error(small_h5, tmp_path, capsys):
    assert main(["synth", str(small_h5), "--part", "xc9999", "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip()
    assert "xc9999" in err and "xcvu9p" in err and err.count("\n") == 0
    assert not (tmp_path / "p").exists()


def test_unsupported_layer_is_named(tmp_path, capsys):
    import keras

    h5 = save_small_model(tmp_path / "bad.h5", extra_layer=keras.layers.LayerNormalization(name="norm"))
    assert main(["synth", str(h5), "-o", str(tmp_path / "p")]) == 2
    assert "layer norm (LayerNormalization) is not supported" in capsys.readouterr().err


@pytest.mark.parametrize("target, message", [("nosuchmodel", "no model card"), ("missing.h5", "does not exist")])
def test_missing_models(target, message, tmp_path, capsys):
    assert main(["synth", target, "-o", str(tmp_path / "p")]) == 2
    assert message in capsys.readouterr().err


def test_default_axol1tl(tmp_path, monkeypatch):
    """The committed AXOL1TL: trigger chain included, one clock at 40 MHz, no DSPs.  A Loose threshold
    one LSB off in the trigger C++ (no random vector scores on it) is caught by the boundary vectors."""
    import codesign.hls.trigger as hls_trigger

    real = hls_trigger.write_trigger

    def loose_off_by_one(chain, *args, **kwargs):
        import dataclasses

        return real(dataclasses.replace(chain, thresholds={**chain.thresholds, "Loose": chain.thresholds["Loose"] + 1}),
                    *args, **kwargs)

    monkeypatch.setattr(hls_trigger, "write_trigger", loose_off_by_one)
    with pytest.raises(CodesignError, match=r"trigger_emulator_vs_trigger_csim: \d+ of") as caught:
        synthesize("axol1tl", part="xcvu9p", output=tmp_path / "off", vectors=1000, progress=lambda _: None)
    assert int(str(caught.value).split("trigger_emulator_vs_trigger_csim: ")[1].split()[0]) >= 10
    monkeypatch.setattr(hls_trigger, "write_trigger", real)
    report = synthesize("axol1tl", part="xcvu9p", output=tmp_path / "axo", progress=lambda _: None)
    assert report["bit_exact"]["mismatches"] == 0
    assert "trigger_emulator_vs_trigger_csim" in report["bit_exact"]["paths"]
    # the whole trigger in one design: two 25 ns stages (the network alone fits one), no DSP
    assert report["latency_cycles"] == 2 and report["resources"]["dsp"]["value"] == 0
    assert report["timing"]["warning"] is None and report["rtl"]["covers"] == "trigger"
    assert report["bit_exact"]["paths"]["trigger_emulator_vs_rtl_interpreter"]["bit_exact"]
    check_report_ports(tmp_path / "axo", report)
    md = (tmp_path / "axo" / "report.md").read_text()
    assert [w["name"] for w in report["working_points"]] == ["Loose", "Medium", "Tight"]
    for w in report["working_points"]:
        assert f"| {w['name']} | {w['threshold_lsb']} |" in md
    assert report["metrics"]["signals"]["zprime_ee"]["auc_firmware"] > 0.9
    library, = (tmp_path / "axo" / "hls").glob("lib*_trigger.so")
    assert b".partial-" not in library.read_bytes()  # no temporary build path inside


def test_batchnorm_model_reports_its_deviation_from_qkeras(tmp_path):
    """hls4ml's BN layer and the RTL equal the emulator bit for bit; against QKeras (float BN) the report
    gives the mismatches and the largest deviation in output LSBs and never calls that path bit-exact."""
    from tests.fixed.test_batchnorm import bn_net

    h5 = tmp_path / "bn.h5"
    bn_net().save(h5, save_format="h5")
    report = synthesize(str(h5), part="xcvu13p", output=tmp_path / "bn", progress=lambda _: None)
    paths = report["bit_exact"]["paths"]
    assert report["bit_exact"]["mismatches"] == 0 and report["part"] == "xcvu13p"
    assert paths["emulator_vs_hls_csim"]["bit_exact"] and paths["emulator_vs_rtl_interpreter"]["bit_exact"]
    qkeras = paths["emulator_vs_qkeras_float64"]
    assert not qkeras["bit_exact"] and 0 < qkeras["mismatches"] < 0.01 * qkeras["vectors"]
    assert 1 <= qkeras["max_deviation_lsb"] <= 64
    assert "emulator_vs_qkeras_float64" in (tmp_path / "bn" / "report.md").read_text().split("NOT bit-exact")[0]


def test_a_lowering_fault_changing_every_path_is_caught_by_qkeras(small_h5, tmp_path, monkeypatch):
    """Activation casts lowered as truncating instead of QKeras' ties-to-even: emulator, C-sim and RTL all
    follow the wrong graph and agree with each other; only QKeras itself tells."""
    import codesign.fixed.lower as lower
    from codesign.fixed.graph import Quantize

    real = lower._activation_op

    def truncating(quantizer, name, where):
        op = real(quantizer, name, where)
        return Quantize(op.name, op.output_format.with_modes("TRN", op.output_format.overflow), op.relu)

    monkeypatch.setattr(lower, "_activation_op", truncating)
    with pytest.raises(CodesignError, match="emulator_vs_qkeras_float64: [0-9]+ of [0-9]+ vectors differ"):
        synthesize(str(small_h5), part="xcvu9p", output=tmp_path / "trn", progress=lambda _: None)
    assert not (tmp_path / "trn").exists() and (tmp_path / "trn.mismatches.qkeras.npz").is_file()


@pytest.mark.slow
def test_accumulators_wider_than_64_bits_pass_every_check(tmp_path):
    """Three 16-bit QDense layers in a row (accumulators of 34, 51 and 69 bits): QKeras, C-sim and RTL agree."""
    from tests.fixed.test_wide_accumulators import three_dense

    h5 = tmp_path / "three.h5"
    three_dense().save(h5, save_format="h5")
    report = synthesize(str(h5), part="xcvu9p", output=tmp_path / "three", vectors=2000, progress=lambda _: None)
    assert report["bit_exact"]["mismatches"] == 0
    assert all(p["bit_exact"] for p in report["bit_exact"]["paths"].values())


@pytest.mark.slow
def test_combinational_design_report(small_h5, tmp_path):
    """--combinational: one stage (no register inside the logic; inputs and result registered at the ports,
    latency 1), every path bit-exact, and the report's combinational section with Yosys' LUT/CARRY levels
    (full flow) and the delay model's estimate against the 25 ns period."""
    report = synthesize(str(small_h5), part="xcvu9p", output=tmp_path / "comb", vectors=500, estimate="full",
                        combinational=True, progress=lambda _: None)
    assert report["bit_exact"]["mismatches"] == 0 and all(p["bit_exact"] for p in report["bit_exact"]["paths"].values())
    assert report["latency_cycles"] == 1 and len(report["timing"]["stages"]) == 1
    comb = report["combinational"]
    assert comb["registers_inside_logic"] == 0 and comb["adder_levels"] == report["timing"]["stages"][0]["adder_levels"]
    assert comb["lut_carry_levels"] >= 1 and "ltp" in comb["lut_carry_levels_source"]
    model = report["timing"]["model"]  # the mapped-cell view of the same path, from the same delay model
    assert comb["delay_ns_from_lut_carry_levels"] == pytest.approx(
        model["overhead_ns"] + comb["lut_carry_levels"] * model["cell_ns"], abs=1e-3)
    assert comb["fits"] and comb["delay_ns"] <= 25 * (1 - comb["target_margin"]) and comb["period_ns"] == 25
    upper = comb["adder_levels"] * (model["adder_ns"] + model["adder_uncertainty_ns"]) + model["overhead_ns"]
    assert comb["delay_ns_at_upper_bound"] == pytest.approx(upper, abs=1e-3)
    assert comb["fits_at_upper_bound"] == (comb["margin_at_upper_bound"] >= comb["target_margin"])
    assert comb["margin_at_upper_bound"] == pytest.approx((25 - upper) / 25, abs=1e-4)
    md = (tmp_path / "comb" / "report.md").read_text()
    assert f"{comb['adder_levels']} adder levels (da4ml), {comb['lut_carry_levels']} LUT/CARRY levels" in md
    assert "Combinational: no register inside the logic" in md and f"upper end {comb['delay_ns_at_upper_bound']:g} ns" in md


def test_unique_rate_targets_in_working_points():
    """GELATO's working points are set on the unique rate: the report names that target, with the card's
    training-time rates beside the thresholds."""
    from codesign.synth import _working_points
    from codesign.zoo.card import METRICS_FILE
    from codesign.zoo.loading import load_model

    model = load_model("gelato")
    points = _working_points(model, json.loads((model.card.folder / METRICS_FILE).read_text()))
    assert [(w["name"], w["target_unique_rate_khz"], w["target_rate_khz"]) for w in points] == \
        [("Loose", 5.0, None), ("Tight", 0.5, None)]
    assert all(w["rate_hz"]["value"] > 0 and w["pure_rate_hz"]["value"] <= w["rate_hz"]["value"] for w in points)
