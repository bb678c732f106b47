"""`codesign verify`: the generated RTL, simulated with cocotb + Verilator, equals the emulator bit for bit,
the latency measured in simulation equals the report, and corrupted RTL is caught."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign.errors import CodesignError
from codesign.verify.verify import graph_from_json, load_design, verify

CLOCK_MHZ = 400.0  # several pipeline stages for the tiny model


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A QKeras 6-8-4-2 MLP with random weights, saved as .h5."""
    import keras
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(3)
    inp = keras.Input((6,))
    x = QActivation(quantized_bits(8, 3, alpha=1), name="q_in")(inp)
    for n, width in enumerate((8, 4, 2)):
        wq = quantized_bits(6, 0, alpha=1)
        x = QDense(width, kernel_quantizer=wq, bias_quantizer=wq, name=f"d{n}")(x)
        x = QActivation(quantized_bits(10, 4, alpha=1) if n == 2 else quantized_relu(7, 3), name=f"a{n}")(x)
    model = keras.Model(inp, x, name="tiny")
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.uniform(-1, 1, w.shape) for w in layer.get_weights()])
    path = tmp_path_factory.mktemp("tiny") / "tiny.h5"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def tiny_report(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return verify(tiny_h5, vectors=1000, clock_mhz=CLOCK_MHZ, project=tmp_path_factory.mktemp("v") / "out", progress=lambda s: None)


def fake_project(tiny_h5: Path, folder: Path) -> Path:
    """A synth-like project folder (report.json, graph.json, rtl/) around the tiny model's RTL."""
    design = load_design(tiny_h5, CLOCK_MHZ)
    folder.mkdir()
    shutil.copytree(design.folder / "rtl", folder / "rtl")
    (folder / "graph.json").write_text(design.graph.to_json())
    (folder / "report.json").write_text(json.dumps({"latency_cycles": design.latency_cycles, "ii": design.ii}))
    return folder


def test_tiny_model_bit_exact_and_latency(tiny_report: dict):
    r = tiny_report
    assert r["mismatches"] == 0 and r["vectors"] >= 1000
    assert r["latency_cycles_observed"] == r["latency_cycles_report"] > 1  # measured with the marker vector
    assert r["simulator"] == "verilator" and r["simulator_version"].startswith("verilator")
    saved = json.loads(Path(r["path"]).read_text())
    assert saved["mismatches"] == 0 and saved["vectors"] == r["vectors"] and "build_s" in saved and "run_s" in saved


def test_build_is_cached_and_golden_vectors(tiny_h5: Path, tiny_report: dict, tmp_path: Path):
    out = tmp_path / "out"
    again = verify(tiny_h5, vectors=200, clock_mhz=CLOCK_MHZ, project=out, golden=True, progress=lambda s: None)
    assert again["cached_build"] and again["build_s"] == 0 and again["mismatches"] == 0
    assert again["golden"] == str(out / "verify_vectors.hex") and again["path"] == str(out / "verify.json")
    rows = [line.split() for line in (out / "verify_vectors.hex").read_text().splitlines()[1:]]
    assert len(rows) == again["vectors"] and all(row[2] == row[3] for row in rows)


def test_output_folder_is_atomic(tiny_h5: Path, tiny_report: dict, tmp_path: Path, monkeypatch):
    """`-o` follows every output's rules: a folder codesign wrote is replaced whole, and only once the new one is
    complete; an interrupted write leaves neither a partial folder nor created parents."""
    import importlib

    from codesign.atomic import MARKER

    V = importlib.import_module("codesign.verify.verify")  # the package exports the function of that name

    out = tmp_path / "out"
    verify(tiny_h5, vectors=50, clock_mhz=CLOCK_MHZ, project=out, progress=lambda s: None)
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "verify.json"])
    (out / "old.txt").write_text("from an earlier run")
    before = (out / "verify.json").read_bytes()

    def interrupted(path, *args):
        Path(path).write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(V, "_write_hex", interrupted)
    for target in (out, tmp_path / "new" / "out"):
        with pytest.raises(KeyboardInterrupt):
            verify(tiny_h5, vectors=50, clock_mhz=CLOCK_MHZ, project=target, golden=True, progress=lambda s: None)
    assert (out / "verify.json").read_bytes() == before and (out / "old.txt").is_file()
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".*"))
    monkeypatch.undo()
    verify(tiny_h5, vectors=50, clock_mhz=CLOCK_MHZ, project=out, progress=lambda s: None)
    assert not (out / "old.txt").exists()


def test_corrupted_weight_is_detected(tiny_h5: Path, tiny_report: dict, tmp_path: Path):
    """Change one shift (a weight's power of two) of the first layer's adders: verify must fail and save the vectors."""
    project = fake_project(tiny_h5, tmp_path / "proj")
    stage = next((project / "rtl" / "src").glob("*_stage0.v"))
    text, n = re.subn(r"(shift_adder #\((?:\d+, ){5})(-?\d+)", lambda m: f"{m[1]}{int(m[2]) + 1}", stage.read_text(), count=1)
    assert n == 1
    stage.write_text(text)
    with pytest.raises(CodesignError, match="vectors differ"):
        verify(project, vectors=1000, progress=lambda s: None)
    report = json.loads((project / "verify.json").read_text())
    assert report["mismatches"] > 0
    saved = np.load(project / "verify_mismatches.npz")
    assert len(saved["index"]) == min(report["mismatches"], 100)
    assert not np.array_equal(saved["expected_counts"], saved["rtl_counts"])
    lines = (project / "verify_mismatches.hex").read_text().splitlines()
    assert lines[0].startswith("#") and len(lines) == len(saved["index"]) + 1 and len(lines[1].split()) == 4


def test_extra_pipeline_register_is_detected(tiny_h5: Path, tiny_report: dict, tmp_path: Path):
    """One more output register: the latency measured in simulation is one more than the report."""
    project = fake_project(tiny_h5, tmp_path / "proj")
    top = next(p for p in (project / "rtl" / "src").glob("*.v") if not re.search(r"_(stage\d+|wrapper)\.v$", p.name))
    text = top.read_text()
    width = int(re.search(r"output reg \[(\d+):0\] model_out", text)[1]) + 1
    text = re.sub(r"model_out <= (\w+);", r"extra_q <= \1;\n        model_out <= extra_q;", text)
    top.write_text(text.replace("    always @(posedge clk)", f"    reg [{width - 1}:0] extra_q;\n    always @(posedge clk)"))
    with pytest.raises(CodesignError, match=r"latency \d+ cycles vs report"):
        verify(project, vectors=100, progress=lambda s: None)
    report = json.loads((project / "verify.json").read_text())
    assert report["latency_cycles_observed"] == report["latency_cycles_report"] + 1


def test_broken_verilog_is_a_user_error(tiny_h5: Path, tiny_report: dict, tmp_path: Path):
    project = fake_project(tiny_h5, tmp_path / "proj")
    stage = next((project / "rtl" / "src").glob("*_stage0.v"))
    stage.write_text(stage.read_text().replace("endmodule", "endmodule oops"))
    with pytest.raises(CodesignError, match="Verilator build of tiny failed"):
        verify(project, vectors=10, progress=lambda s: None)


def test_project_and_cli(tiny_h5: Path, tiny_report: dict, tmp_path: Path, capsys):
    """A synth-style project folder through the `verify` verb (the build is the cached one)."""
    from codesign.verify.cli import add_parser

    project = fake_project(tiny_h5, tmp_path / "proj")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["verify", str(project), "--vectors", "300"])
    args.run(args)
    assert "bit-exact" in capsys.readouterr().out
    assert json.loads((project / "verify.json").read_text())["cached_build"]


def test_graph_json_round_trip(tiny_h5: Path):
    graph = load_design(tiny_h5, CLOCK_MHZ).graph
    assert graph_from_json(graph.to_json()).to_json() == graph.to_json()


def test_user_errors(tmp_path: Path):
    with pytest.raises(CodesignError, match="simulator"):
        verify(tmp_path, simulator="modelsim")
    with pytest.raises(CodesignError, match="neither a synth project"):
        verify(tmp_path)
    with pytest.raises(CodesignError, match="positive"):
        verify(tmp_path, vectors=0)


@pytest.mark.skipif(shutil.which("iverilog") is not None, reason="Icarus Verilog is installed")
def test_icarus_missing_is_a_user_error(tiny_h5: Path, tiny_report: dict, tmp_path: Path):
    with pytest.raises(CodesignError, match="iverilog"):
        verify(tiny_h5, vectors=10, simulator="icarus", clock_mhz=CLOCK_MHZ, project=tmp_path / "out", progress=lambda s: None)


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog (iverilog) is not on PATH")
def test_icarus(tiny_h5: Path, tiny_report: dict, tmp_path: Path):
    r = verify(tiny_h5, vectors=200, simulator="icarus", clock_mhz=CLOCK_MHZ, project=tmp_path / "out", progress=lambda s: None)
    assert r["mismatches"] == 0 and r["latency_cycles_observed"] == r["latency_cycles_report"]


@pytest.mark.slow
def test_axol1tl_10000_vectors(tmp_path: Path):
    r = verify("axol1tl", vectors=10_000, project=tmp_path / "out", progress=lambda s: None)
    assert r["mismatches"] == 0 and r["vectors"] > 10_000
    assert r["latency_cycles_observed"] == r["latency_cycles_report"]


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(n_in=st.integers(2, 8), hidden=st.integers(1, 8), n_out=st.integers(1, 3), seed=st.integers(0, 2**16),
       clock_mhz=st.sampled_from([40.0, 200.0, 500.0]), rounding=st.sampled_from(["TRN", "RND", "RND_CONV"]),
       overflow=st.sampled_from(["WRAP", "SAT"]))
def test_random_graphs_bit_exact(n_in, hidden, n_out, seed, clock_mhz, rounding, overflow):
    """Random two-layer graphs, cast modes and clocks: the simulated RTL equals the emulator (project mode)."""
    import tempfile

    from codesign.fixed import Dense, FixedFormat, Graph, Quantize
    from codesign.rtl import write_rtl

    rng = np.random.default_rng(seed)
    fin, wfmt = FixedFormat(8, 3, True, "RND_CONV", "SAT"), FixedFormat(6, 1, True)

    def dense(name: str, n: int, m: int) -> Dense:
        return Dense(name, rng.integers(-32, 32, (n, m)), wfmt, rng.integers(-32, 32, m), wfmt)

    graph = Graph(f"rand{seed}", (n_in,), fin, [
        Quantize("q_in", fin), dense("d0", n_in, hidden), Quantize("a0", FixedFormat(7, 3, False, rounding, overflow), True),
        dense("d1", hidden, n_out), Quantize("q_out", FixedFormat(9, 4, True, rounding, overflow)),
    ])
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        project.mkdir()
        rtl = write_rtl(graph, project / "rtl", clock_mhz=clock_mhz)
        (project / "graph.json").write_text(graph.to_json())
        (project / "report.json").write_text(json.dumps({"latency_cycles": rtl.latency_cycles, "ii": rtl.ii}))
        try:
            r = verify(project, vectors=300, progress=lambda s: None)
        except CodesignError as err:
            if "same output" in str(err):  # a constant network (all-zero ReLU layer): no latency marker
                return
            raise
        assert r["mismatches"] == 0 and r["latency_cycles_observed"] == rtl.latency_cycles


def test_batchnorm_graph_round_trip():
    from tests.fixed.test_batchnorm import bn_net

    from codesign.fixed import lower_keras

    graph, _ = lower_keras(bn_net())
    assert graph_from_json(graph.to_json()).to_json() == graph.to_json()


@pytest.mark.slow
def test_wide_high_clock_pipeline_simulates_bit_exact(tmp_path: Path):
    """Registers of 33-34 bits between the stages (issue 17): the Verilog equals the emulator."""
    from tests.rtl.test_wide import wide_mlp

    h5 = tmp_path / "wide.h5"
    wide_mlp((16, 16, 8), weight_bits=12).save(h5, save_format="h5")
    report = verify(h5, vectors=1000, clock_mhz=400.0, project=tmp_path / "out", progress=lambda s: None)
    assert report["mismatches"] == 0 and report["latency_cycles_observed"] >= 4


def _trigger_project(folder: Path, chain, rtl_chain, combinational: bool = False) -> Path:
    """A synth-like project around `chain` whose RTL is generated from `rtl_chain` (a fault when they differ)."""
    from codesign.rtl import write_trigger_rtl
    from codesign.verify.verify import TRIGGER_FILE

    folder.mkdir()
    rtl = write_trigger_rtl(rtl_chain, folder / "rtl", clock_mhz=40.0, combinational=combinational)
    (folder / "graph.json").write_text(chain.graph.to_json())
    (folder / TRIGGER_FILE).write_text(json.dumps(chain.to_dict()))
    (folder / "report.json").write_text(json.dumps({"latency_cycles": rtl.latency_cycles, "ii": rtl.ii}))
    return folder


@pytest.mark.slow
def test_whole_trigger_simulates_bit_exact_and_a_comparator_fault_is_caught(tmp_path: Path):
    """Raw hardware-unit inputs through the simulated trigger RTL: network outputs, score and every working-point
    bit equal the emulator.  RTL whose Medium comparator is one score LSB off (`>=` for `>`) fails, naming it."""
    import dataclasses

    from tests.rtl.test_trigger_rtl import small_chain

    chain = small_chain()
    good = verify(_trigger_project(tmp_path / "good", chain, chain), vectors=500, progress=lambda s: None)
    assert good["mismatches"] == 0 and good["covers"] == "trigger"
    assert good["latency_cycles_observed"] == good["latency_cycles_report"]
    faulty = dataclasses.replace(chain, thresholds={**chain.thresholds, "Medium": chain.thresholds["Medium"] - 1})
    with pytest.raises(CodesignError, match=r"outputs: wp_Medium \d+\)"):
        verify(_trigger_project(tmp_path / "faulty", chain, faulty), vectors=500, progress=lambda s: None)
    report = json.loads((tmp_path / "faulty" / "verify.json").read_text())
    assert set(report["mismatches_by_output"]) == {"wp_Medium"}


@pytest.mark.slow
def test_lookup_table_squares_simulate_bit_exact(tmp_path: Path):
    """A combinational trigger whose squares are lookup tables (ROMs read by `$readmemh` from the run folder)."""
    from tests.rtl.test_trigger_rtl import narrow_chain

    chain = narrow_chain(8)
    report = verify(_trigger_project(tmp_path / "rom", chain, chain, combinational=True), vectors=500,
                    progress=lambda s: None)
    assert list((tmp_path / "rom" / "rtl" / "src" / "memfiles").glob("*.mem"))
    assert report["mismatches"] == 0 and report["covers"] == "trigger"
