"""One delay model for pipelined adder logic: ns per adder level per FPGA family, stage delays, slack, warnings.

da4ml counts logic depth in adder levels (one carry-chain addition, or a multiplexer costed like one).  A
stage of `n` levels between two registers is estimated as ``overhead + n * adder_ns``, where `overhead` is
the launching flip-flop's clock-to-out, the capturing one's setup and one routing hop.  Every report
uses this model (`DELAY_MODELS`); the RTL is pipelined with it (`levels_per_stage`), keeping
`TARGET_MARGIN` of the period free, and a stage whose estimated margin is below that is a warning.

Sources of the figures (and why the uncertainty is large):

* 7-series cell delays: Yosys' Xilinx cell models (`share/xilinx/cells_sim.v`, specify blocks), taken
  from Project X-Ray's Artix-7 timing database (prjxray-db `CLBLL_L.sdf`): LUT6 input to output 0.127-
  0.642 ns (0.472 ns for I2, the middle), CARRY4 S[0] to CO[3] 0.508 ns, CI to CO[3] 0.114 ns per
  further 4 bits, CI to O[3] 0.313 ns, FDRE clock-to-out 0.303 ns.  A 12-bit adder level is then
  0.472 + 0.508 + 0.114 + 0.313 = 1.41 ns of cells; with ~0.5 ns of routing per level (Vivado's typical
  net delay, not a datasheet figure) about 1.9 ns on Artix-7 -1.  Virtex-7 -2 is faster; we use
  1.5 ns per level, +-0.5 ns.
* UltraScale+ (-2): da4ml's author sets the latency cutoff (levels per stage) equal to the clock period
  in ns on VU13P -2, i.e. ~1 ns per level including routing (shared/reference/l1-systems.md, unverified
  against Vivado); UltraScale+ cells (CARRY8, 8 bits per cell) and routing are faster than 7-series, so
  cells alone give ~0.5 ns.  We use 0.75 ns per level, +-0.25 ns (the range spans both).

A second view, from the technology-mapped netlist: Yosys' `ltp` (full flow) counts the mapped cells (LUT,
CARRY4/CARRY8, MUXF) on the longest register-to-register path.  A cell level is estimated as a LUT and one routing
hop: 7-series -2 0.47 ns LUT6 (prjxray, as above) + ~0.5 ns net, 1.0 ns +-0.5; UltraScale+ -2 about half of
that (LUT6 ~0.1-0.2 ns, shorter nets), 0.5 ns +-0.25.  A carry cell chained from the one before it (CI to
CO, 0.11 ns on 7-series, no routing) is far faster than a level: paths through long chains are overestimated,
which the uncertainty only partly spans.

Neither figure is sign-off timing: place and route decides.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import floor

from codesign.errors import CodesignError

#: The share of the clock period the nominal estimate keeps free; a stage with less margin is a warning.
TARGET_MARGIN = 0.20


@dataclass(frozen=True)
class DelayModel:
    """Nominal ns per adder level and per-stage register overhead, with their uncertainty and source."""

    family: str  # Yosys synth_xilinx -family: xcup, xc7
    speed_grade: str
    adder_ns: float
    adder_uncertainty_ns: float
    overhead_ns: float  # clock-to-out + setup + one routing hop
    cell_ns: float  # one level of mapped cells (LUT + routing) on Yosys' longest path
    cell_uncertainty_ns: float
    source: str

    def stage_ns(self, levels: int) -> float:
        return self.overhead_ns + levels * self.adder_ns

    def cell_path_ns(self, cell_levels: int) -> float:
        return self.overhead_ns + cell_levels * self.cell_ns

    def to_dict(self) -> dict:
        return asdict(self)


DELAY_MODELS = {
    "xcup": DelayModel("xcup", "-2", 0.75, 0.25, 0.45, 0.5, 0.25,
                       "da4ml practice (~1 ns/level incl. routing, VU13P -2) and cell delays scaled from 7-series; "
                       "codesign/estimate/timing.py"),
    "xc7": DelayModel("xc7", "-2", 1.5, 0.5, 0.85, 1.0, 0.5,
                      "Yosys cells_sim.v specify delays (prjxray-db Artix-7 CLBLL_L.sdf) + ~0.5 ns routing per level; "
                      "codesign/estimate/timing.py"),
}


def delay_model(part: str) -> DelayModel:
    """The delay model of a part (short name or full part string)."""
    from codesign.estimate.parts import get_part

    family = get_part(part).family
    if family not in DELAY_MODELS:
        raise CodesignError(f"no delay model for FPGA family {family!r}; known: {', '.join(DELAY_MODELS)}")
    return DELAY_MODELS[family]


def levels_per_stage(clock_mhz: float, model: DelayModel) -> int:
    """Adder levels per pipeline stage that keep `TARGET_MARGIN` of the period free (at least one)."""
    if not clock_mhz > 0:
        raise CodesignError(f"the clock must be positive, got {clock_mhz} MHz")
    budget = 1e3 / clock_mhz * (1 - TARGET_MARGIN) - model.overhead_ns
    return max(1, floor(budget / model.adder_ns))


def stage_timing(stage_levels: list[int] | tuple[int, ...], clock_mhz: float, model: DelayModel) -> dict:
    """Per-stage estimated delay, slack and margin against the clock; a warning when a margin is below target."""
    period = 1e3 / clock_mhz
    stages = []
    for levels in stage_levels:
        delay = model.stage_ns(levels)
        spread = levels * model.adder_uncertainty_ns
        stages.append({"adder_levels": int(levels), "delay_ns": round(delay, 3), "uncertainty_ns": round(spread, 3),
                       "slack_ns": round(period - delay, 3), "margin": round((period - delay) / period, 4)})
    worst = min(stages, key=lambda s: s["margin"])
    warning = None
    if worst["margin"] < TARGET_MARGIN:
        warning = (f"timing: a stage of {worst['adder_levels']} adder levels is estimated at {worst['delay_ns']:g} ns "
                   f"(+-{worst['uncertainty_ns']:g}) for a {period:g} ns clock: margin {worst['margin']:.0%} "
                   f"< {TARGET_MARGIN:.0%}; use a slower clock or check with Vivado")
    return {"clock_period_ns": round(period, 4), "model": model.to_dict(), "stages": stages,
            "worst_delay_ns": worst["delay_ns"], "worst_slack_ns": worst["slack_ns"], "worst_margin": worst["margin"],
            "target_margin": TARGET_MARGIN, "warning": warning}


def cell_path_timing(cell_levels: int, clock_mhz: float, model: DelayModel) -> dict:
    """The longest register-to-register path from its mapped cell levels (Yosys `ltp`), against the clock."""
    period = 1e3 / clock_mhz
    delay = model.cell_path_ns(cell_levels)
    return {"cell_levels": int(cell_levels), "delay_ns": round(delay, 3),
            "uncertainty_ns": round(cell_levels * model.cell_uncertainty_ns, 3), "slack_ns": round(period - delay, 3),
            "margin": round((period - delay) / period, 4)}
