"""`codesign suep run` end to end on a tiny card (small images, few events, 1 epoch), the mistag table
against a direct computation, and bad cards."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from codesign.cli import main
from codesign.suep.pipeline import SCORES, mistag_table

TINY = {
    "name": "suep_tiny", "target": "cpu",
    "images": {"n_eta": 24, "n_phi": 36, "hcal_cell": 5, "eta_max": 2.5, "scale_gev": 10.0, "ht_min_gev": 300.0},
    "architecture": {"encoder": [[4, 3, [3, 3]], [4, 3, [2, 3]]], "decoder": [[4, 3, [2, 3]], [3, 3, [3, 3]]]},
    "data": {"seed": 1, "pileup": 20, "pool_events": 600, "background": "qcd_ht", "signals": ["suep1000"],
             "background_events": 40, "train_fraction": 0.5, "signal_events": 60},
    "training": {"learning_rate": 0.001, "batch_size": 8, "epochs": 1, "validation_fraction": 0.25, "seed": 42},
    "evaluation": {"signal_efficiency": 0.4, "batch_size": 8},
}


def test_run_writes_model_table_and_plots(tmp_path, capsys):
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(TINY))
    assert main(["suep", "run", "--card", str(card), "-q", "-o", str(tmp_path / "out")]) == 0
    assert "ConvAE loss" in capsys.readouterr().out
    model, evaluation = tmp_path / "out" / "model", tmp_path / "out" / "evaluation"
    assert {p.name for p in model.iterdir()} >= {"convae.h5", "convae.onnx", "card.yaml", "train.json"}
    summary = json.loads((model / "train.json").read_text())
    assert summary["events"]["train"] > 0 and len(summary["history"]["loss"]) == 1
    result = json.loads((evaluation / "results.json").read_text())
    row = result["table"]["suep1000"]
    for key in SCORES:
        assert 0.0 <= row[key]["mistag"]["low"] <= row[key]["mistag"]["value"] <= row[key]["mistag"]["high"] <= 1.0
        assert row[key]["signal_efficiency"] <= 0.4
        assert (evaluation / f"roc_{key}.png").stat().st_size > 1000
    assert (evaluation / "et_scatter.png").is_file()
    sel = result["selection"]
    assert sel["qcd_ht"]["generated"] == 40 and 0 < sel["qcd_ht"]["used"] < sel["qcd_ht"]["selected"]
    assert 0 < sel["suep1000"]["used"] == sel["suep1000"]["selected"] <= 60
    assert not list(tmp_path.glob(".*partial*"))


def test_mistag_table_equals_a_direct_count():
    rng = np.random.default_rng(0)
    bkg = {k: rng.normal(0.0, 1.0, 500) for k in SCORES}
    weights = rng.uniform(0.1, 2.0, 500)
    sig = {k: rng.normal(1.0, 1.0, 300) for k in SCORES}
    table = mistag_table(bkg, weights, {"s": sig}, 0.4)
    for key in SCORES:
        t = table["s"][key]["threshold"]
        assert np.mean(sig[key] > t) == pytest.approx(0.4, abs=1 / 300)
        assert table["s"][key]["mistag"]["value"] == pytest.approx(weights[bkg[key] > t].sum() / weights.sum())


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.pop("architecture"), "needs the sections"),
    (lambda c: c["images"].update(pixels=3), "allowed keys"),
    (lambda c: c["images"].update(scale_gev=0), "positive"),
    (lambda c: c["data"].update(signals=["suep2000"]), "unknown process"),
])
def test_bad_cards_are_refused_with_one_line(tmp_path, capsys, edit, message):
    data = json.loads(json.dumps(TINY))
    edit(data)
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(data))
    assert main(["suep", "train", "--card", str(card), "-q", "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "m").exists()
