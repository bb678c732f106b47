"""A hostile user's inputs, one row each: the exit code, one line naming the problem, and nothing written
or deleted (every file under the working folder and the model zoo is unchanged)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import uproot

from codesign.atomic import MARKER
from codesign.cli import main
from codesign.zoo.card import models_dir
from tests.flow.conftest import save_small_model

LONG = "x" * 245


def _root(path: Path, rows: np.ndarray) -> Path:
    with uproot.recreate(path) as f:
        f["Events"] = {"axol1tl": rows.astype(np.float32)}
    return path


def _workspace(tmp: Path, h5: Path) -> None:
    """Every input the table refers to, in the working folder `tmp`."""
    (tmp / "model.h5").write_bytes(h5.read_bytes())
    thesis = tmp / "thesis"
    thesis.mkdir()
    (thesis / "chapter.tex").write_text("years of work")
    (tmp / "afile").write_text("a user's file")
    (tmp / "link").symlink_to(thesis)
    x = np.random.default_rng(0).normal(0, 4, (20, 6))
    np.save(tmp / "x.npy", x)
    for name, value in (("nan", np.nan), ("inf", -np.inf)):
        bad = x.copy()
        bad[13, 4] = value
        np.save(tmp / f"{name}.npy", bad)
    np.save(tmp / "complex.npy", x + 1j)
    np.save(tmp / "string.npy", x.astype(str))
    np.save(tmp / "object.npy", x.astype(object), allow_pickle=True)
    np.save(tmp / "3d.npy", x[None])
    (tmp / "empty.npy").write_bytes(b"")
    (tmp / "garbage.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    raw = np.zeros((30, 57))
    raw[7, 11] = np.nan
    _root(tmp / "nan.root", raw)
    good = _root(tmp / "good.root", np.ones((30, 57))).read_bytes()
    (tmp / "truncated.root").write_bytes(good[: len(good) // 2])
    (tmp / "tree.yaml").write_text("tree: 5\n")
    (tmp / "collections.yaml").write_text("collections: [1, 2]\n")
    (tmp / "list.yaml").write_text("- a\n- b\n")
    regions = {"EB": (36, 72), "EE+": (22, 22), "EE-": (22, 22)}
    counts = {r: np.ones((8, *s)) for r, s in regions.items()}
    np.savez(tmp / "nan_stream.npz", events=np.full(8, 1000.0), **{**counts, "EB": np.full((8, 36, 72), np.nan)})
    np.savez(tmp / "zero_stream.npz", events=np.zeros(8), **counts)
    np.savez(tmp / "complex_stream.npz", events=np.full(8, 1000.0), **{**counts, "EE+": counts["EE+"] + 1j})
    marked = tmp / "dqm_marked"  # a codesign folder, but the command's own input
    marked.mkdir()
    (marked / MARKER).write_text("")
    (tmp / "inputs").mkdir()
    (tmp / "inputs" / MARKER).write_text("")
    (tmp / "inputs" / "model.h5").write_bytes(h5.read_bytes())
    from qkeras import QDense, quantized_bits

    q = quantized_bits(4, 1, alpha=1)
    save_small_model(tmp / "big.h5", extra_layer=QDense(1000, kernel_quantizer=q, bias_quantizer=q, name="wide"))
    dqm = tmp / "dqm_model"
    dqm.mkdir()
    (dqm / "dqm.json").write_text(json.dumps({"thresholds": {"EB": 1}, "config": {"detector_seed": 0}}))
    project = tmp / "project"
    (project / "rtl" / "model").mkdir(parents=True)
    (project / "rtl" / "src").mkdir()
    (project / "rtl" / "model" / "pipeline.json").write_text("{}")
    (project / "report.json").write_text('{"latency_cycles": 1, "ii"')
    (project / "graph.json").write_text("[]")
    project2 = tmp / "project2"
    project2.mkdir()
    for item in ("rtl", "report.json"):
        os.symlink(project / item, project2 / item)
    (project2 / "graph.json").write_text('{"name": "m", "ops": [{"type": "Dense"}]}')
    zoo = tmp / "zoo"
    for name, text in (("malformed", "name: [unclosed\n"), ("empty", ""), ("incomplete", "name: incomplete\n"),
                       ("mistyped", "name: m\ninputs: {view: axol1tl, raw_format: {width: x, integer: 3}}\n")):
        (zoo / name).mkdir(parents=True)
        (zoo / name / "card.yaml").write_text(text)


# (id, argv, exit code, fragment of the one-line message); {long} is a 245-character name
CASES = [
    # 1. data loss: -o of something codesign did not write, or cannot replace
    ("synth -o user folder", "synth model.h5 -o thesis", 2, "not written by codesign"),
    ("synth -o .", "synth model.h5 -o .", 2, "is the working folder"),
    ("synth -o file", "synth model.h5 -o afile", 2, "exists and is not a folder"),
    ("synth -o symlink", "synth model.h5 -o link", 2, "is a symbolic link"),
    ("synth -o long name", "synth model.h5 -o {long}", 2, "codesign allows at most"),
    ("synth -o below a file", "synth model.h5 -o afile/p", 2, "afile is a file"),
    ("dqm train -o user folder", "dqm train -q -o thesis", 2, "not written by codesign"),
    ("dqm evaluate -o user folder", "dqm evaluate dqm_model -q -o thesis", 2, "not written by codesign"),
    ("dqm run -o .", "dqm run dqm_model -q -o .", 2, "is the working folder"),
    ("suep evaluate no model", "suep evaluate no_such_model -o e", 2, "is not a SUEP model folder"),
    ("hlt evaluate no model", "hlt evaluate no_such_model -o e", 2, "is not an HLT model folder"),
    ("emulate -o folder", "emulate model.h5 --input x.npy -o thesis", 2, "is a folder"),
    ("emulate -o input", "emulate model.h5 --input x.npy -o x.npy", 2, "is or contains the input x.npy"),
    ("dqm evaluate -o its model", "dqm evaluate dqm_marked -q -o dqm_marked", 2, "is or contains the input"),
    ("synth -o parent of model", "synth inputs/model.h5 -o inputs", 2, "is or contains the input"),
    ("data generate -o folder", "data generate --process qcd --events 10 -o thesis", 2, "is a folder"),
    ("verify -o file", "verify model.h5 --vectors 10 -o afile", 2, "afile exists and is not a folder"),
    ("verify -o below a file", "verify model.h5 --vectors 10 -o afile/v", 2, "afile is a file"),
    ("verify -o user folder", "verify model.h5 --vectors 10 -o thesis", 2, "not written by codesign"),
    ("verify -o parent of model", "verify inputs/model.h5 --vectors 10 -o inputs", 2, "is or contains the input"),
    ("synth too large a layer", "synth big.h5 -o p", 2, "layer wide (5x1000) needs 5000 multipliers"),
    # 2. silent garbage: non-finite or non-real inputs
    ("emulate nan .npy", "emulate model.h5 --input nan.npy -o y.npy", 2, "nan at row 13, feature 4"),
    ("emulate inf .npy", "emulate model.h5 --input inf.npy -o y.npy", 2, "-inf at row 13, feature 4"),
    ("emulate complex", "emulate model.h5 --input complex.npy -o y.npy", 2, "complex values"),
    ("emulate string", "emulate model.h5 --input string.npy -o y.npy", 2, "string values"),
    ("emulate object", "emulate model.h5 --input object.npy -o y.npy", 2, "Python objects"),
    ("emulate nan ROOT", "emulate axol1tl --input nan.root -o y.npy", 2, "nan at row 7, feature 11"),
    ("dqm run nan stream", "dqm run dqm_model --input nan_stream.npz -q -o r", 2, "EB has 20736 non-finite"),
    ("dqm run 0 events", "dqm run dqm_model --input zero_stream.npz -q -o r", 2, "lumisection 0 has 0 events"),
    ("dqm run complex stream", "dqm run dqm_model --input complex_stream.npz -q -o r", 2, "complex values"),
    # 3. numeric options, at parse time
    ("clock 0", "synth model.h5 --clock-mhz 0 -o p", 2, "argument --clock-mhz: 0 is out of range"),
    ("clock negative", "synth model.h5 --clock-mhz -5 -o p", 2, "argument --clock-mhz"),
    ("clock nan", "synth model.h5 --clock-mhz nan -o p", 2, "must be a finite number"),
    ("clock inf", "synth model.h5 --clock-mhz inf -o p", 2, "must be a finite number"),
    ("clock 1e9", "synth model.h5 --clock-mhz 1e9 -o p", 2, "<= 1000"),
    ("vectors 1e9", "synth model.h5 --vectors 1000000000 -o p", 2, "between 1 and 1000000"),
    ("vectors 0", "synth model.h5 --vectors 0 -o p", 2, "argument --vectors"),
    ("reuse 0", "synth model.h5 --reuse-factor 0 -o p", 2, "argument --reuse-factor"),
    ("verify vectors", "verify model.h5 --vectors -1", 2, "argument --vectors"),
    ("train epochs 0", "train axol1tl --epochs 0", 2, "argument --epochs: 0 is out of range"),
    ("train epochs negative", "train axol1tl --epochs -3", 2, "argument --epochs"),
    ("events 1e9", "data generate --process qcd --events 1000000000 -o e.root", 2, "between 1 and 10000000"),
    ("pileup nan", "data generate --process qcd --events 10 --pileup nan -o e.root", 2, "must be a finite number"),
    ("generate seed", "data generate --process qcd --events 10 --seed -1 -o e.root", 2, "argument --seed"),
    ("generate jobs", "data generate --process qcd --events 10 --jobs 0 -o e.root", 2, "argument --jobs"),
    ("dqm threads", "dqm run dqm_model --threads -2 -o r", 2, "argument --threads"),
    ("dqm lumisections", "dqm train --lumisections 0 -o t", 2, "argument --lumisections"),
    ("dqm run lumisections", "dqm run dqm_model --lumisections 0 -o r", 2, "argument --lumisections"),
    ("dqm latent", "dqm train --latent 0 -o t", 2, "argument --latent"),
    ("dqm negative seed", "dqm train --seed -4 -o t", 2, "argument --seed"),
    ("dqm evaluate negative seed", "dqm evaluate dqm_model --seed -1 -o e", 2, "argument --seed"),
    # 7. damaged files: one line each
    ("info truncated ROOT", "data info truncated.root", 2, "not a readable ROOT file"),
    ("emulate truncated ROOT", "emulate axol1tl --input truncated.root -o y.npy", 2, "not a readable ROOT file"),
    ("emulate empty .npy", "emulate model.h5 --input empty.npy -o y.npy", 2, "not a readable .npy"),
    ("emulate garbage .npy", "emulate model.h5 --input garbage.npy -o y.npy", 2, "not a readable .npy"),
    ("emulate 3-d .npy", "emulate model.h5 --input 3d.npy -o y.npy", 2, "needs (N, 6)"),
    ("mapping tree int", "data info good.root --mapping tree.yaml", 2, "'tree' is int 5"),
    ("mapping collections list", "data info good.root --mapping collections.yaml", 2, "must be a mapping"),
    ("mapping is a list", "data info good.root --mapping list.yaml", 2, "must be a YAML mapping"),
    ("dqm missing reference.npz", "dqm run dqm_model -q -o r", 2, "not a complete DQM model folder"),
    ("verify corrupt report.json", "verify project", 2, "damaged report.json"),
    ("verify corrupt graph.json", "verify project2", 2, "damaged report.json, graph.json"),
    ("card malformed", "emulate zoo/malformed --input x.npy -o y.npy", 2, "cannot read model card"),
    ("card empty", "emulate zoo/empty --input x.npy -o y.npy", 2, "is not a YAML mapping"),
    ("card incomplete", "emulate zoo/incomplete --input x.npy -o y.npy", 2, "inputs is None, it must be a dict"),
    ("card mistyped", "emulate zoo/mistyped --input x.npy -o y.npy", 2, "inputs.raw_format.width is 'x'"),
]


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below `folders` (hidden ones too): size and modification time."""
    out = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(root) / name
                st = path.lstat()
                out[str(path)] = (st.st_size if not path.is_dir() else 0, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def workspace(small_h5, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    _workspace(tmp, small_h5)
    return tmp


@pytest.mark.parametrize("argv, code, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(workspace, monkeypatch, capsys, argv, code, fragment):
    monkeypatch.chdir(workspace)
    before = _snapshot(workspace, models_dir())
    assert main(argv.format(long=LONG).split()) == code
    err = capsys.readouterr().err.strip()
    assert fragment in err, err
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert _snapshot(workspace, models_dir()) == before
