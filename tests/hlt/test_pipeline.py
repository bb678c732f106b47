"""HLT pipeline on tiny samples: training, ONNX = Keras, masking, evaluation figures, `run`, bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.hlt.card import load_card
from codesign.hlt.data import level1, load_all, read_sample
from codesign.hlt.pipeline import Scorer, evaluate, latent, run
from codesign.hlt.train import train

from tests.conftest import TEST_PILEUP, TEST_POOL_EVENTS

N = 32
TINY = {"architecture.embedding": 16, "architecture.heads": 2, "architecture.layers": 2, "architecture.feed_forward": 16,
        "architecture.projection_k": 4, "inputs.max_candidates": N, "training.epochs": 1, "training.batch_size": 64,
        "gmm.components": 2, "level1.working_point": "Loose"}


@pytest.fixture(scope="module")
def tiny(sample, tmp_path_factory):
    """A tiny model trained on two SM classes; QCD (weighted, hard) stands in for zero bias, which at this size
    would have no event passing the Level-1 working point."""
    card = load_card(None, TINY)
    card["data"]["classes"] = {"dy_ll": 300, "qcd_biased": 300}
    paths = {"classes": {n: sample(n) for n in ("dy_ll", "qcd_biased")},
             "signals": {"emerging_jets": sample("emerging_jets")}, "zerobias": {"zerobias": sample("qcd_biased")}}
    samples = load_all(card, paths, progress=False)
    folder = tmp_path_factory.mktemp("hlt") / "model"
    summary = train(card, folder, samples, progress=False)
    return card, samples, folder, summary


def edge_events(rng: np.random.Generator) -> np.ndarray:
    """Empty, single-candidate, full, extreme-value and random events."""
    x = np.zeros((40, N, 6), np.float32)
    x[1, 0] = (0.5, 0.0, 0.0, 0.0, 0.0, 3)
    x[2, :, 0] = np.linspace(3000, 0.5, N)
    x[2, :, 5] = 4
    x[3, :5] = (1e4, 5.0, np.pi, 10.0, 1e4, -2)
    n = rng.integers(1, N + 1, 36)
    for i, k in enumerate(n, start=4):
        x[i, :k, 0] = -np.sort(-rng.exponential(4, k)) + 0.5
        x[i, :k, 1:5] = rng.normal(0, [1.5, 1.8, 0.05, 3], (k, 4))
        x[i, :k, 5] = rng.choice([-3, 3, -1, 2, 4, 5], k)
    return x


def test_onnx_equals_keras_and_masking_holds(tiny):
    from codesign.hlt.model import build_encoder

    card, samples, folder, _ = tiny
    encoder, trainer = build_encoder(card["architecture"], N, 2, card["training"]["seed"])
    stored = np.load(folder / "weights.npz")
    trainer.set_weights([stored[f"arr_{i}"] for i in range(len(stored.files))])
    x = np.concatenate([edge_events(np.random.default_rng(1)), samples["signals"]["emerging_jets"].candidates[:200]])
    scorer = Scorer(folder)
    z_keras, z_onnx = latent(encoder, x), scorer.latent(x)
    assert np.all(np.isfinite(z_onnx)) and np.ptp(z_onnx) > 0
    np.testing.assert_allclose(z_onnx, z_keras, rtol=1e-4, atol=1e-4)
    # padded slots (pT = 0) are ignored whatever their other columns hold; a real candidate is not
    noisy = x.copy()
    pad = noisy[..., 0] == 0
    noisy[..., 1:][pad] = 7.0
    np.testing.assert_allclose(scorer.latent(noisy), z_onnx, rtol=1e-5, atol=1e-5)
    moved = x.copy()
    moved[4:, 0, 1] += 1.0
    assert np.abs(scorer.latent(moved)[4:] - z_onnx[4:]).max() > 1e-3


def test_evaluation_figures_are_consistent(tiny, tmp_path):
    card, samples, folder, summary = tiny
    assert summary["events"]["train"] + summary["events"]["test"] == 600 and 0 <= summary["test_accuracy"] <= 1
    result = evaluate(folder, tmp_path / "eval", samples, progress=False)
    r0 = result["level1"]["rate_hz"]
    zb = samples["zerobias"]["zerobias"]
    assert result["level1"]["zerobias_passing"] > 0
    wp = result["working_points"][0]
    assert wp["rate_hz"]["value"] <= card["working_point"]["rate_fraction"] * r0["value"] * (1 + 1e-9)
    # the HLT rate recomputed by hand: Level-1 pass and score above the threshold, weighted
    scores = Scorer(folder)(zb.candidates)
    l1 = zb.l1_scores > level1(card)[1]["Loose"]
    by_hand = 28.61e6 * zb.weights[l1 & (scores > wp["threshold"])].sum() / zb.weights.sum()
    assert np.isclose(wp["rate_hz"]["value"], by_hand, rtol=1e-6)
    for name, s in wp["signals"].items():
        eff, l1_eff = s["efficiency"]["value"], result["signals"][name]["level1_efficiency"]["value"]
        assert 0 <= eff <= l1_eff and s["efficiency"]["low"] <= eff <= s["efficiency"]["high"]
    written = {p.name for p in (tmp_path / "eval").iterdir()}
    assert {"hlt_eval.json", "hlt_eval.md", "rate_vs_threshold.png", "efficiency_vs_rate.png", "purity_vs_rate.png",
            "latent_tsne.png"} <= written
    assert "(!)" in (tmp_path / "eval" / "hlt_eval.md").read_text()  # a few hundred events: flagged


def test_run_writes_the_accepted_events(tiny, sample, tmp_path):
    _, _, folder, _ = tiny
    path = sample("emerging_jets")
    scores = Scorer(folder)(read_sample("s", path, N).candidates)
    threshold = float(np.median(scores))
    summary = run(folder, path, tmp_path / "run", threshold, progress=False)
    rows = np.loadtxt(tmp_path / "run" / "accepted.csv", delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(rows[:, 0], np.flatnonzero(scores > threshold))
    np.testing.assert_allclose(rows[:, 1], scores[scores > threshold], rtol=1e-5)
    assert summary["accepted"] == len(rows) == json.loads((tmp_path / "run" / "summary.json").read_text())["accepted"]


def test_bad_inputs_are_one_line_errors(tiny, tmp_path):
    _, _, folder, _ = tiny
    with pytest.raises(CodesignError, match="not an HLT model folder"):
        Scorer(tmp_path)
    with pytest.raises(CodesignError, match="no entry"):
        load_card(None, {"training.epochz": 1})
    done = subprocess.run([sys.executable, "-m", "codesign.cli", "hlt", "run", str(folder), str(tmp_path / "x.root"),
                           "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2 and "--threshold" in done.stderr and not (tmp_path / "out").exists()


def test_zero_bias_carries_pf_only_where_level1_fires():
    """The card's zero bias asks for PF candidates only in crossings of its Level-1 working point (the rest
    never reach the HLT), following the card's level1 section."""
    from codesign.data import GenerationRequest
    from codesign.hlt.data import requests

    card = load_card(None, {"level1.working_point": "Tight"})
    spec = requests(card)["zerobias"]["zerobias"]
    assert spec["pf_trigger"] == "axol1tl:Tight"
    request = GenerationRequest(spec["process"], spec["events"], pf_trigger=spec["pf_trigger"])
    request.validate()
    assert request.key() != GenerationRequest(spec["process"], spec["events"]).key()
    assert all("pf_trigger" not in s for role in ("classes", "signals") for s in requests(card)[role].values())


def test_a_level1_filtered_zero_bias_builds_only_the_crossings_with_pf(tiny, tmp_path):
    """A `--pf-trigger` zero bias holds candidates in the Level-1 accepted crossings only: the reader builds just
    those, in the same order as a dense build, and `run` names them by their crossing index."""
    from codesign.data import GenerationRequest, generate, read_events
    from codesign.data.views import hlt

    _, _, folder, _ = tiny
    request = GenerationRequest("zerobias", 600, pileup=TEST_PILEUP, seed=11, pool_events=TEST_POOL_EVENTS,
                                pf_trigger="axol1tl:Loose")
    path, _ = generate(request, tmp_path / "filtered.root", jobs=2, progress=False)
    sample = read_sample("zb", path, N)
    with_pf = read_events(path, parts=("pf",)).pf.counts > 0
    assert 0 < with_pf.sum() < len(with_pf) and len(sample.weights) == len(with_pf)
    np.testing.assert_array_equal(sample.held, np.flatnonzero(with_pf))
    dense, _ = hlt(read_events(path, parts=("pf",)).pf, N)
    np.testing.assert_array_equal(sample.candidates, dense[with_pf])
    np.testing.assert_array_equal(sample.candidates_of(with_pf), dense[with_pf])
    with pytest.raises(CodesignError, match="carry no PF candidates"):
        sample.candidates_of(~with_pf)
    scores = Scorer(folder)(dense[with_pf])
    threshold = float(np.median(scores))
    summary = run(folder, path, tmp_path / "run", threshold, progress=False)
    rows = np.loadtxt(tmp_path / "run" / "accepted.csv", delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(rows[:, 0], np.flatnonzero(with_pf)[scores > threshold])
    assert summary["events"] == 600 and summary["scored"] == with_pf.sum()
