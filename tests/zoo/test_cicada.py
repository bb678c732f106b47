"""The deployed CICADA student architectures (v2 conv, v1 dense) through the graph, emulator and RTL (issue 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codesign.fixed import Conv2D, FixedFormat, emulate, emulate_ints, lower_keras
from codesign.hls import edge_case_vectors
from codesign.rtl import run_logic, trace_graph
from codesign.verify.qkeras_reference import qkeras_float64
from codesign.zoo.cicada import student


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_student_formats_and_emulator_equals_qkeras(version):
    model = student(version, seed=1)
    graph, note = lower_keras(model)
    assert graph.input_format == FixedFormat(10, 10, False, "RND_CONV", "SAT") and "input quantizer" in note
    assert graph.output_format == FixedFormat(16, 8, False, "RND_CONV", "SAT")
    convs = [op for op in graph.ops if isinstance(op, Conv2D)]
    assert len(convs) == (version == "v2")
    if convs:
        assert convs[0].weight_format.hls() == "ap_fixed<12,4,AP_RND_CONV,AP_SAT>" and graph.output_shapes[2] == (9, 7, 4)
    x = edge_case_vectors(graph, 3000, np.random.default_rng(0))
    scores = emulate(graph, x)
    np.testing.assert_array_equal(scores, qkeras_float64(model, x))
    assert len(np.unique(scores)) > 100  # the random weights give a spread of scores, not a saturated constant


def test_v2_rtl_equals_emulator():
    graph, _ = lower_keras(student("v2", seed=2))
    x = graph.input_format.quantize(edge_case_vectors(graph, 2000, np.random.default_rng(1)))
    np.testing.assert_array_equal(run_logic(trace_graph(graph), graph, x), emulate_ints(graph, x))


@pytest.mark.slow
def test_v2_synth_and_verify_at_160_mhz(tmp_path: Path):
    """The CTP7's part and clock: bit-exact on every path, 0 DSP, latency below the deployed 500 ns."""
    from codesign.synth import synthesize
    from codesign.verify.verify import verify

    path = tmp_path / "cicada_v2.h5"
    student("v2", seed=1).save(path)
    report = synthesize(str(path), part="xc7vx690t", clock_mhz=160.0, output=tmp_path / "prj", progress=lambda s: None)
    assert report["bit_exact"]["mismatches"] == 0 and len(report["bit_exact"]["paths"]) == 3
    assert report["latency_ns"] < 500 and report["ii"] <= 4 and report["resources"]["dsp"]["value"] == 0
    result = verify(tmp_path / "prj", vectors=10_000, progress=lambda s: None)
    assert result["mismatches"] == 0 and result["vectors"] > 10_000
