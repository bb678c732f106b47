"""Vendor tools when present: Vitis HLS C-synthesis and Vivado out-of-context synthesis, read from their XML.

Reports are read from XML only (never from text tables): Vitis/Vivado HLS `csynth.xml` (the `profile`
schema: `ReportVersion/Version`, `UserAssignments`, `PerformanceEstimates`, `AreaEstimates/Resources`) and
Vivado's `report_utilization -format xml` (`RptDoc`: sections of tables whose rows are `tablecell`s with a
`contents` attribute).  Both give the synth report's resource schema (`value`, `source`, `version`).
A missing tool, a missing report or a report without the expected fields is a one-line CodesignError.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from codesign.errors import CodesignError, first_error_line

HLS_TOOLS = ("vitis_hls", "vivado_hls")
#: Vivado utilisation rows -> the report's resource names (UltraScale names first, 7-series after).
VIVADO_ROWS = {"CLB LUTs": "lut", "Slice LUTs": "lut", "CLB Registers": "ff", "Slice Registers": "ff",
               "DSPs": "dsp", "Block RAM Tile": "bram", "URAM": "uram"}
HLS_RESOURCES = {"LUT": "lut", "FF": "ff", "DSP": "dsp", "DSP48E": "dsp", "BRAM_18K": "bram18", "URAM": "uram"}


def find_hls_tool() -> str:
    """The first of vitis_hls / vivado_hls on PATH."""
    for name in HLS_TOOLS:
        if shutil.which(name):
            return name
    raise CodesignError("--vendor needs vitis_hls or vivado_hls on PATH (source the Xilinx settings64.sh first); "
                        "without it, leave out --vendor for the Yosys estimates")


def _xml(path: Path, what: str) -> ET.Element:
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{what} {path} does not exist; the tool run did not finish (see its log)")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise CodesignError(f"{what} {path} is not well-formed XML ({err}); rerun the tool") from None


def _text(root: ET.Element, path: str, report: Path) -> str:
    node = root.find(path)
    if node is None or node.text is None or not node.text.strip():
        raise CodesignError(f"HLS report {report} has no {path}; it is not a csynth.xml report")
    return node.text.strip()


def _number(text: str, where: str, report: Path) -> float:
    try:
        return float(text)
    except ValueError:
        raise CodesignError(f"HLS report {report}: {where} is {text!r}, not a number") from None


def parse_csynth_xml(path: Path, tool: str = "vitis_hls") -> dict:
    """Latency, II, clock and resources of a Vitis/Vivado HLS `csynth.xml` (written by `tool`), in the synth
    report schema."""
    root = _xml(path, "HLS report")
    if root.tag != "profile":
        raise CodesignError(f"HLS report {path} has root <{root.tag}>, not <profile>; give a csynth.xml")
    version = _text(root, "ReportVersion/Version", path)
    source = {"source": tool, "version": version}
    latency = "PerformanceEstimates/SummaryOfOverallLatency/"
    resources = {}
    area = root.find("AreaEstimates/Resources")
    for child in area if area is not None else []:
        if child.tag in HLS_RESOURCES and child.text and child.text.strip():
            resources[HLS_RESOURCES[child.tag]] = {"value": int(_number(child.text, child.tag, path)), **source}
    if "lut" not in resources or "ff" not in resources:
        raise CodesignError(f"HLS report {path} has no AreaEstimates/Resources LUT and FF; it is incomplete")
    worst = _text(root, latency + "Worst-caseLatency", path)
    return {
        "tool": source,
        "top": _text(root, "UserAssignments/TopModelName", path),
        "part": _text(root, "UserAssignments/Part", path),
        "clock_period_ns": _number(_text(root, "UserAssignments/TargetClockPeriod", path), "TargetClockPeriod", path),
        "estimated_clock_period_ns": _number(
            _text(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod", path),
            "EstimatedClockPeriod", path),
        "latency_cycles": int(_number(worst, "Worst-caseLatency", path)),
        "ii": int(_number(_text(root, latency + "Interval-max", path), "Interval-max", path)),
        "resources": resources,
    }


def parse_vivado_utilization_xml(path: Path, version: str) -> dict:
    """Used LUT, FF, DSP, BRAM (and URAM) of a Vivado `report_utilization -format xml` report."""
    root = _xml(path, "Vivado report")
    if root.tag != "RptDoc":
        raise CodesignError(f"Vivado report {path} has root <{root.tag}>, not <RptDoc>; give report_utilization -format xml")
    source = {"source": "vivado", "version": version}
    resources: dict[str, dict] = {}
    for table in root.iter("table"):
        rows = [[cell.get("contents", "").strip() for cell in row.findall("tablecell")] for row in table.findall("tablerow")]
        if not rows or "Used" not in rows[0]:
            continue
        used = rows[0].index("Used")
        for row in rows[1:]:
            name = VIVADO_ROWS.get(row[0]) if row else None
            if name and name not in resources and len(row) > used:
                resources[name] = {"value": _vivado_number(row[used], row[0], path), **source}
    if "lut" not in resources or "ff" not in resources:
        raise CodesignError(f"Vivado report {path} has no LUT and register rows with a Used column; it is incomplete")
    return resources


def _vivado_number(text: str, row: str, path: Path) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CodesignError(f"Vivado report {path}: {row} Used is {text!r}, not a number") from None
    return int(value) if value.is_integer() else value


def run_csynth(project: Path, timeout_s: float = 7200) -> dict:
    """C-synthesis of an hls4ml project with the HLS tool on PATH; its csynth.xml parsed."""
    tool = find_hls_tool()
    command = [tool, "-f", "build_prj.tcl", "csim=0", "synth=1", "cosim=0", "validation=0", "export=0", "vsynth=0"]
    run = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=timeout_s)
    if run.returncode != 0:
        raise CodesignError(f"{tool} C-synthesis in {project} failed: {first_error_line(run.stdout + run.stderr, 'ERROR')}")
    reports = sorted(Path(project).glob("*_prj/solution1/syn/report/*_csynth.xml"))
    top = [r for r in reports if r.name.count("_csynth") == 1]
    if not top:
        raise CodesignError(f"{tool} wrote no csynth.xml under {project}; see vitis_hls.log there")
    return parse_csynth_xml(min(top, key=lambda r: len(r.name)), tool)


def vivado_ooc_tcl(module: str, part: str, clock_mhz: float, sources: str, reports: str) -> str:
    """A Vivado batch script: out-of-context synthesis of the da4ml RTL in `sources` (its `src/` folder, a Tcl
    expression) with its clock constraint, reports (XML utilisation included) into `reports`."""
    return f"""# Generated by codesign: out-of-context synthesis of the da4ml RTL ({module}) at {clock_mhz:g} MHz.
set here [file dirname [file normalize [info script]]]
set rtl {sources}
read_verilog [concat [glob $rtl/*.v] [glob -nocomplain $rtl/static/*.v]]
foreach mem [glob -nocomplain $rtl/memfiles/*.mem] {{ add_files $mem }}
read_xdc -mode out_of_context $rtl/{module}.xdc
synth_design -top {module} -part {part} -mode out_of_context
file mkdir {reports}
report_utilization -file {reports}/utilization.rpt
report_utilization -format xml -file {reports}/utilization.xml
report_timing_summary -file {reports}/timing.rpt
"""


def run_vivado_ooc(rtl: Path, module: str, part: str, clock_mhz: float, timeout_s: float = 7200) -> dict | None:
    """Out-of-context Vivado synthesis of an RTL project when `vivado` is on PATH (else None), parsed."""
    if shutil.which("vivado") is None:
        return None
    rtl = Path(rtl).absolute()
    script = rtl / "vivado_ooc.tcl"
    script.write_text(vivado_ooc_tcl(module, part, clock_mhz, "$here/src", "$here/vivado_reports"))
    version = subprocess.run(["vivado", "-version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    run = subprocess.run(["vivado", "-mode", "batch", "-nojournal", "-source", str(script)], cwd=rtl,
                         capture_output=True, text=True, timeout=timeout_s)
    if run.returncode != 0:
        raise CodesignError(f"vivado synthesis in {rtl} failed: {first_error_line(run.stdout + run.stderr, 'ERROR')}")
    return {"tool": {"source": "vivado", "version": version},
            "resources": parse_vivado_utilization_xml(rtl / "vivado_reports" / "utilization.xml", version)}
