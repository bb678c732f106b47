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
    assert set(on_disk["bit_exact"]["paths"]) == {"emulator_vs_hls_csim", "emulator_vs_rtl_interpreter"}
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


def test_two_runs_are_identical(small_project, small_h5, tmp_path):
    first, _ = small_project
    second = tmp_path / "again"
    synthesize(str(small_h5), part="xcvu9p", output=second, progress=lambda _: None)
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

    h5 = save_small_model(tmp_path / "bad.h5", extra_layer=keras.layers.Dropout(0.1, name="drop"))
    assert main(["synth", str(h5), "-o", str(tmp_path / "p")]) == 2
    assert "layer drop (Dropout) is not supported" in capsys.readouterr().err


@pytest.mark.parametrize("target, message", [("nosuchmodel", "no model card"), ("missing.h5", "does not exist")])
def test_missing_models(target, message, tmp_path, capsys):
    assert main(["synth", target, "-o", str(tmp_path / "p")]) == 2
    assert message in capsys.readouterr().err


def test_default_axol1tl(tmp_path):
    """The committed AXOL1TL: trigger chain included, one clock at 40 MHz, no DSPs."""
    report = synthesize("axol1tl", part="xcvu9p", output=tmp_path / "axo", progress=lambda _: None)
    assert report["bit_exact"]["mismatches"] == 0
    assert "trigger_emulator_vs_trigger_csim" in report["bit_exact"]["paths"]
    assert report["latency_cycles"] == 1 and report["resources"]["dsp"]["value"] == 0
    assert report["metrics"]["signals"]["zprime_ll"]["auc_firmware"] > 0.9
    library, = (tmp_path / "axo" / "hls").glob("lib*_trigger.so")
    assert b".partial-" not in library.read_bytes()  # no temporary build path inside


def test_batchnorm_model_is_folded_and_synthesised(tmp_path):
    from tests.conftest import bn_model

    h5 = tmp_path / "bn.h5"
    bn_model().save(h5, save_format="h5")
    report = synthesize(str(h5), part="xcvu13p", output=tmp_path / "bn", progress=lambda _: None)
    assert report["bit_exact"]["mismatches"] == 0 and report["part"] == "xcvu13p"
    assert "folded BatchNormalization bn1 into d1" in report["input_note"]
