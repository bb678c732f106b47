"""Vendor report parsers on hand-written fixtures, and the tool-absent path of `synth --vendor`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.errors import CodesignError
from codesign.estimate.vendor import parse_csynth_xml, parse_vivado_utilization_xml

FIXTURES = Path(__file__).parent / "fixtures"


def test_csynth_xml():
    r = parse_csynth_xml(FIXTURES / "csynth.xml", "vitis_hls")
    assert r["tool"] == {"source": "vitis_hls", "version": "2023.2"}
    assert (r["top"], r["part"], r["clock_period_ns"]) == ("axol1tl_trigger", "xcvu9p-flga2104-2L-e", 25.0)
    assert (r["latency_cycles"], r["ii"], r["estimated_clock_period_ns"]) == (3, 1, 12.345)
    assert {k: v["value"] for k, v in r["resources"].items()} == {"lut": 23456, "ff": 4711, "dsp": 0, "bram18": 0,
                                                                   "uram": 0}
    assert all(v["source"] == "vitis_hls" and v["version"] == "2023.2" for v in r["resources"].values())


def test_vivado_utilization_xml():
    r = parse_vivado_utilization_xml(FIXTURES / "vivado_utilization.xml", "v2023.2")
    assert {k: v["value"] for k, v in r.items()} == {"lut": 11650, "ff": 2310, "bram": 0.5, "dsp": 0}
    assert all(v["source"] == "vivado" and v["version"] == "v2023.2" for v in r.values())


@pytest.mark.parametrize("text, message", [
    (None, "does not exist"),
    ("<profile><ReportVersion>", "not well-formed"),
    ("<RptDoc/>", "not <profile>"),
    ("<profile><ReportVersion><Version>2023.2</Version></ReportVersion></profile>", "no AreaEstimates"),
])
def test_bad_csynth_reports(tmp_path, text, message):
    path = tmp_path / "csynth.xml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(CodesignError, match=message):
        parse_csynth_xml(path)


def test_csynth_without_latency(tmp_path):
    text = (FIXTURES / "csynth.xml").read_text().replace("<Worst-caseLatency>3</Worst-caseLatency>", "")
    (tmp_path / "c.xml").write_text(text)
    with pytest.raises(CodesignError, match="Worst-caseLatency"):
        parse_csynth_xml(tmp_path / "c.xml")


def test_vivado_report_without_luts(tmp_path):
    text = (FIXTURES / "vivado_utilization.xml").read_text().replace("CLB LUTs", "Something else")
    (tmp_path / "u.xml").write_text(text)
    with pytest.raises(CodesignError, match="no LUT"):
        parse_vivado_utilization_xml(tmp_path / "u.xml", "v2023.2")


@pytest.mark.skipif(any(shutil.which(t) for t in ("vitis_hls", "vivado_hls")), reason="an HLS tool is installed")
def test_synth_vendor_without_the_tool(tmp_path, capsys):
    out = tmp_path / "project"
    assert main(["synth", "axol1tl", "--vendor", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vitis_hls or vivado_hls on PATH" in err[0]
    assert not out.exists()
