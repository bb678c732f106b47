"""The delay model: levels per stage from the clock, per-stage slack, and the warning below a 20% margin."""

from __future__ import annotations

import pytest

from codesign.errors import CodesignError
from codesign.estimate.timing import (DELAY_MODELS, TARGET_MARGIN, cell_path_timing, delay_model, levels_per_stage,
                                      stage_timing)


def test_models_per_family_with_sources():
    assert delay_model("xcvu9p").family == "xcup" and delay_model("xc7vx690t-ffg1927-2").family == "xc7"
    for model in DELAY_MODELS.values():
        assert model.adder_ns > model.adder_uncertainty_ns > 0 and model.source
        # a mapped cell level (one LUT and its net) is shorter than an adder level (a LUT feeding a carry chain)
        assert model.adder_ns > model.cell_ns > model.cell_uncertainty_ns > 0
    assert DELAY_MODELS["xcup"].cell_ns < DELAY_MODELS["xc7"].cell_ns


def test_cell_path_against_the_clock():
    """Yosys' mapped levels give a second estimate of the longest path: overhead + levels * cell delay."""
    model = delay_model("xc7vx690t")
    path = cell_path_timing(12, 160.0, model)
    assert path["delay_ns"] == pytest.approx(model.overhead_ns + 12 * model.cell_ns)
    assert path["uncertainty_ns"] == pytest.approx(12 * model.cell_uncertainty_ns)
    assert path["slack_ns"] == pytest.approx(6.25 - path["delay_ns"])
    assert path["margin"] == pytest.approx(path["slack_ns"] / 6.25, abs=1e-4)


@pytest.mark.parametrize("family", sorted(DELAY_MODELS))
@pytest.mark.parametrize("mhz", [40.0, 160.0, 240.0, 400.0])
def test_pipelined_stages_keep_the_target_margin(family, mhz):
    """A full stage at the levels the pipeliner allows is estimated inside the clock with >= 20% margin."""
    model = DELAY_MODELS[family]
    levels = levels_per_stage(mhz, model)
    timing = stage_timing([levels], mhz, model)
    if model.stage_ns(1) > (1 - TARGET_MARGIN) * 1e3 / mhz:  # not even one level fits (7-series at 400 MHz)
        assert levels == 1 and timing["warning"]
        return
    assert timing["warning"] is None and timing["worst_margin"] >= TARGET_MARGIN
    assert stage_timing([levels + 1], mhz, model)["worst_margin"] < TARGET_MARGIN  # the largest such count
    assert levels_per_stage(mhz / 2, model) >= 2 * levels


def test_too_fast_clock_warns():
    """At 1 GHz not even one adder level fits with margin: slack and margin say so, and a warning names it."""
    model = delay_model("xcvu9p")
    timing = stage_timing([levels_per_stage(1000.0, model)], 1000.0, model)
    assert timing["worst_slack_ns"] == pytest.approx(1.0 - model.stage_ns(1))
    assert timing["worst_margin"] < TARGET_MARGIN
    assert "margin" in timing["warning"] and "1 ns clock" in timing["warning"]


def test_bad_clock_is_a_user_error():
    with pytest.raises(CodesignError, match="clock"):
        levels_per_stage(0.0, delay_model("xcvu9p"))
