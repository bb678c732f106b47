"""`--pf-trigger`: every crossing keeps its Level-1 objects and weight, PF candidates exactly where the zoo
trigger fires, the trigger recomputed from the file by the reader's own path (`metrics.report`)."""

import shutil

import numpy as np
import pytest
import yaml

from codesign.cli import main
from codesign.data import GenerationRequest, generate, read_events, read_weights
from codesign.data.rootio import read_metadata, read_view
from codesign.data.trigger import fingerprint
from codesign.metrics.report import load_zoo_model
from codesign.zoo.card import models_dir

from tests.conftest import TEST_PILEUP, TEST_POOL_EVENTS

SPEC = "axol1tl:Loose"


@pytest.mark.parametrize("process, events", [("zerobias", 600), ("zprime_ee", 300)])
def test_pf_candidates_exactly_where_the_trigger_fires(tmp_path, process, events):
    def make(name, **pf):
        request = GenerationRequest(process, events, pileup=TEST_PILEUP, seed=11, pool_events=TEST_POOL_EVENTS, **pf)
        return generate(request, tmp_path / f"{name}.root", jobs=2, progress=False)[0]

    filtered, without_pf = make("filtered", pf_trigger=SPEC), make("without", pf=False)
    model = load_zoo_model("axol1tl")
    accepted = model.chain.emulate(read_view(filtered, model.view))["Loose"]
    pf = read_events(filtered, parts=("pf",)).pf
    assert 0 < accepted.sum() < len(accepted)
    np.testing.assert_array_equal(pf.counts > 0, accepted)
    # the Level-1 objects and weights are those of the same request without PF: PF draws from its own stream
    np.testing.assert_array_equal(read_weights(filtered), read_weights(without_pf))
    for view in ("axol1tl", "cicada"):
        np.testing.assert_array_equal(read_view(filtered, view), read_view(without_pf, view))
    assert read_metadata(filtered)["pf_trigger"]["spec"] == SPEC


def test_a_retrained_trigger_is_a_new_sample(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir() / "axol1tl", models / "axol1tl")
    monkeypatch.setenv("CODESIGN_MODELS", str(models))
    request = GenerationRequest("zerobias", 600, pf_trigger="axol1tl:Medium")
    before, medium = request.key(), fingerprint("axol1tl:Medium")
    assert fingerprint("axol1tl:Tight") != medium
    card = models / "axol1tl" / "card.yaml"
    data = yaml.safe_load(card.read_text())
    data["working_points"]["thresholds"]["Medium"] += 1
    card.write_text(yaml.safe_dump(data))
    assert fingerprint("axol1tl:Medium") != medium and request.key() != before
    assert GenerationRequest("zerobias", 600).key() != before


@pytest.mark.parametrize("argv, message", [
    (["--pf-trigger", "axol1tl"], "--pf-trigger must be MODEL:WORKING_POINT"),
    (["--pf-trigger", "axol1tl:Nope"], "axol1tl has the working points Loose, Medium, Tight"),
    (["--pf-trigger", "nomodel:Medium"], "no model card for 'nomodel'; give a zoo model (axol1tl, cicada"),
    (["--pf-trigger", "axol1tl:Medium", "--no-pf"], "cannot go with --no-pf"),
])
def test_bad_triggers_are_one_line_errors(tmp_path, capsys, argv, message):
    out = tmp_path / "x.root"
    assert main(["data", "generate", "--process", "zerobias", "--events", "600", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not out.exists()
