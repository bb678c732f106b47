"""`codesign handoff`: the firmware engineers' bundle, a folder and a `.tar.gz` of it.

The bundle is the project `codesign synth` writes (run here, into the bundle) less its build products,
plus what someone without codesign needs:

    hls/ rtl/ graph.json report.json report.md   the synth project (HLS project with the trigger wrapper, da4ml RTL)
    vectors/inputs.hex, expected.hex             edge-case vectors (and real events when given), the emulator's outputs
    tb/testbench.cpp                             plain C++ testbench of the HLS top on the vectors
    cmssw/                                       the CMSSW emulator library (`codesign.handoff.cmssw`)
    vitis_hls.tcl                                C-simulation, C-synthesis (and co-simulation) in Vitis HLS
    vivado/synth_ooc.tcl                         out-of-context Vivado synthesis of the RTL with its clock constraint
    Makefile                                     `make check`: testbench and emulator on the vectors (g++ only)
    INTERFACE.md, manifest.json                  the interface specification; versions and SHA-256 of every file
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError
from codesign.handoff import cmssw
from codesign.handoff.manifest import write_manifest
from codesign.handoff.spec import interface_markdown, rtl_fields
from codesign.handoff.testbench import WORDS_H, testbench_cpp
from codesign.handoff.vectors import make_vectors, ports
from codesign.identifiers import cpp_name

DEFAULT_VECTORS = 2000
#: Build products and files that are neither sources nor reproducible (hls.project.SOURCE_EXCLUDES and more).
PRUNE = ("*.so", "*.o", "hls4ml_config.yml", "keras_model.keras", "*_trigger_bridge.cpp", ".codesign-output")
PRUNE_DIRS = ("rtl/yosys",)


def tarball_path(bundle: Path) -> Path:
    return bundle.parent / f"{bundle.name}.tar.gz"


def handoff(target: str, output: Path, part: str = "xcvu9p", clock_mhz: float = 40.0, vectors: int = DEFAULT_VECTORS,
            events: Path | None = None, mapping: Path | None = None, version: str = "v1", seed: int = 0,
            progress=print) -> dict:
    """Write the bundle of `target` into `output` and `output.tar.gz`; returns the manifest's summary."""
    from codesign.emulate import read_inputs
    from codesign.synth import synthesize
    from codesign.zoo.loading import load_model

    if vectors < 1:
        raise CodesignError(f"--vectors must be positive, got {vectors}")
    output = Path(output)
    inputs_ = (target,) + ((events,) if events else ())
    check_output(output, folder=True, inputs=inputs_)
    check_output(tarball_path(output), folder=False, inputs=inputs_)
    model = load_model(target)
    library = cpp_name(f"{model.name}_{version}")
    real = read_inputs(Path(events), model, mapping) if events else None
    with atomic_path(tarball_path(output), folder=False) as tar_tmp, atomic_path(output, folder=True) as tmp:
        report = synthesize(target, part, clock_mhz, output=tmp, progress=progress)
        report.pop("project", None)
        _prune(tmp)
        progress("hand-off: vectors, testbench, CMSSW emulator, scripts, interface, manifest")
        n_vectors = _write_bundle(model, report, tmp, library, vectors, real, seed)
        write_manifest(tmp, report, {"bundle_format": 1, "vectors": n_vectors, "emulator_library": f"{library}.so"})
        _write_tarball(tmp, output.name, tar_tmp)
    return {"bundle": str(output), "tarball": str(tarball_path(output)), "vectors": n_vectors,
            "emulator_library": f"{library}.so", "latency_cycles": report["latency_cycles"]}


def _prune(folder: Path) -> None:
    for pattern in PRUNE:
        for path in folder.rglob(pattern):
            path.unlink()
    for name in PRUNE_DIRS:
        shutil.rmtree(folder / name, ignore_errors=True)


def _write_bundle(model, report: dict, tmp: Path, library: str, n_random: int, real, seed: int) -> int:
    from codesign.hls.compare import edge_case_vectors
    from codesign.synth import raw_edge_vectors

    rng = np.random.default_rng(seed)
    trigger = model.chain is not None
    x = raw_edge_vectors(model.chain, n_random, rng) if trigger else edge_case_vectors(model.graph, n_random, rng)
    x = x.reshape(len(x), -1)
    if real is not None:
        x = np.concatenate([x, real.reshape(len(real), -1)])
    vectors = make_vectors(model, x)
    vectors.write(tmp / "vectors")
    inputs, outputs = ports(model)
    project = cpp_name(model.graph.name)
    top = f"{project}_trigger" if trigger else project
    sources = [f"{project}.cpp"] + ([f"{project}_trigger.cpp"] if trigger else [])
    (tmp / "tb").mkdir()
    (tmp / "tb" / "testbench.cpp").write_text(testbench_cpp(project, inputs, outputs, trigger))
    (tmp / "tb" / "codesign_words.h").write_text(WORDS_H)
    firmware = tmp / "hls" / "firmware"
    cmssw.write_emulator(tmp / "cmssw", library, firmware, sources, top, inputs, outputs, trigger, WORDS_H)
    module = report["rtl"]["top_module"]
    (tmp / "Makefile").write_text(_makefile(sources))
    (tmp / "vitis_hls.tcl").write_text(_vitis_tcl(top, sources, report))
    (tmp / "vivado").mkdir()
    (tmp / "vivado" / "synth_ooc.tcl").write_text(_vivado_tcl(module, report))
    fields = rtl_fields(tmp, model)
    (tmp / "INTERFACE.md").write_text(
        interface_markdown(model, report, top, module, inputs, outputs, fields, library, len(x)))
    return len(x)


def _makefile(sources: list[str]) -> str:
    srcs = " ".join(f"hls/firmware/{s}" for s in sources)
    return f"""# Generated by codesign. Needs only g++ (C++17, with its assembler and linker) and make.
# make check   the HLS C++ testbench and the CMSSW emulator on the bundled vectors, bit for bit (non-zero exit on a mismatch)
CXX ?= g++
FW := hls/firmware

check: tb/testbench
\t./tb/testbench vectors/inputs.hex vectors/expected.hex
\t$(MAKE) -C cmssw check

tb/testbench: tb/testbench.cpp tb/codesign_words.h {srcs}
\t$(CXX) -O1 -std=c++14 -Wno-unknown-pragmas -I$(FW) -I$(FW)/ap_types -Itb tb/testbench.cpp {srcs} -o $@

.PHONY: check
"""


def _vitis_tcl(top: str, sources: list[str], report: dict) -> str:
    srcs = " ".join(f"$here/hls/firmware/{s}" for s in sources)
    return f"""# Generated by codesign: vitis_hls -f vitis_hls.tcl (from any folder; COSIM=1 adds RTL co-simulation).
# C-simulation of tb/testbench.cpp on the bundled vectors, then C-synthesis of {top}.
set here [file dirname [file normalize [info script]]]
set cflags "-std=c++14 -I$here/hls/firmware"
set vectors "$here/vectors/inputs.hex $here/vectors/expected.hex"
open_project -reset codesign_{top}
set_top {top}
foreach source [list {srcs}] {{ add_files $source -cflags $cflags }}
add_files -tb $here/tb/testbench.cpp -cflags "$cflags -I$here/tb"
open_solution -reset solution1 -flow_target vivado
set_part {report['part_full_name']}
create_clock -period {1e3 / report['clock_mhz']:g} -name default
csim_design -argv $vectors
csynth_design
if {{[info exists ::env(COSIM)] && $::env(COSIM)}} {{ cosim_design -argv $vectors }}
exit
"""


def _vivado_tcl(module: str, report: dict) -> str:
    from codesign.estimate.vendor import vivado_ooc_tcl

    usage = "# vivado -mode batch -source vivado/synth_ooc.tcl   (reports in vivado/reports/)\n"
    return usage + vivado_ooc_tcl(module, report["part_full_name"], report["clock_mhz"], "$here/../rtl/src",
                                  "$here/reports")


def _write_tarball(folder: Path, name: str, target: Path) -> None:
    """A reproducible .tar.gz of `folder` under `name/` (sorted, no times, no owners)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(folder.rglob("*")):
            if path.name == ".codesign-output":
                continue
            info = tar.gettarinfo(path, arcname=f"{name}/{path.relative_to(folder)}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    with open(target, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(buffer.getvalue())

