"""FPGA parts and their capacities, read from the one table `parts.csv` beside this module."""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from codesign.errors import CodesignError

#: Capacity columns of `parts.csv`, also the resource keys of estimates.
RESOURCES = ("lut", "ff", "dsp", "bram36")


@dataclass(frozen=True)
class Part:
    """A device: short name, Yosys `synth_xilinx -family`, capacities and a typical full part string."""

    name: str
    family: str
    lut: int
    ff: int
    dsp: int
    bram36: int
    full_part: str
    note: str = ""

    def capacity(self) -> dict[str, int]:
        """Capacities keyed like estimates: lut, ff, dsp, bram36."""
        return {key: getattr(self, key) for key in RESOURCES}

    def utilization_pct(self, resources: Mapping[str, float]) -> dict[str, float]:
        """Percent of this part used, for each of lut, ff, dsp, bram36 present in `resources`."""
        return {key: 100.0 * float(resources[key]) / cap for key, cap in self.capacity().items() if key in resources}


@functools.cache
def parts() -> dict[str, Part]:
    """All known parts by short name, in table order."""
    text = resources.files(__package__).joinpath("parts.csv").read_text()
    table = {}
    for row in csv.DictReader(text.splitlines()):
        table[row["part"]] = Part(
            name=row["part"], family=row["family"], full_part=row["full_part"], note=row["note"],
            **{key: int(row[key]) for key in RESOURCES},
        )
    return table


def get_part(name: str) -> Part:
    """The part for a short name (`xcvu9p`) or a full part string (`xcvu9p-flga2104-2L-e`, `xc7vx690tffg1927-2`)."""
    wanted = name.strip().lower()
    for short in sorted(parts(), key=len, reverse=True):
        if re.fullmatch(re.escape(short) + r"([-a-z].*)?", wanted):
            return parts()[short]
    raise CodesignError(f"unknown part {name!r}; known parts: {', '.join(parts())}")
