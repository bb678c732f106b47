"""`codesign rates` end to end on tiny ROOT files written from hand-made events, and `evaluate` with weights."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest
import yaml

from codesign.cli import main
from codesign.data.rootio import TreeWriter, read_view
from codesign.fixed.fixed_format import FixedFormat
from codesign.fixed.trigger import Score, TriggerChain
from codesign.metrics import BUNCH_CROSSING_RATE_HZ as BX
from codesign.metrics import working_point
from codesign.metrics.menu import parse_menu
from codesign.metrics.report import Model, Sample, evaluate

MENU = """seeds:
  SingleMu22: {anchor_khz: 12, all: [{object: muon, pt: 22, eta: 2.4}]}
  SingleJet180: {anchor_khz: 4, all: [{object: jet, pt: 180}]}
  ETM100: {all: [{met: 100}]}
"""
N_ZB, N_SIG = 400, 60


def zero_bias(make_events, n=N_ZB):
    """Muons in events 0-7, a 200 GeV jet in 10-13 (and 0), MET 120 in 20-21, soft jets everywhere."""
    rng = np.random.default_rng(7)
    jets = [(i, float(rng.uniform(20, 60)), float(rng.uniform(-2, 2)), float(rng.uniform(-3, 3))) for i in range(n)]
    jets += [(i, 200.0, 1.0, 0.5) for i in (0, 10, 11, 12, 13)]
    muons = [(i, 25.0 + i, 0.3, 1.0) for i in range(8)]
    met = np.where(np.isin(np.arange(n), (20, 21)), 120.0, rng.uniform(0, 60, n))
    return make_events(n, muon=muons, jet=jets, met=met, egamma=[(i, 15.0, 0.1, 2.0) for i in range(0, n, 3)])


@pytest.fixture
def rootfiles(tmp_path, make_events):
    zb, sig, menu = tmp_path / "zb.root", tmp_path / "sig.root", tmp_path / "menu.yaml"
    with TreeWriter(zb, {"process": "test"}) as writer:
        writer.write(zero_bias(make_events))
    muons = [(i, 40.0, 0.5, 0.0) for i in range(0, N_SIG, 2)]
    with TreeWriter(sig, {"process": "test"}) as writer:
        writer.write(make_events(N_SIG, muon=muons, jet=[(i, 90.0, 0.0, 1.0) for i in range(N_SIG)]))
    menu.write_text(MENU)
    return zb, sig, menu


def test_menu_rates_end_to_end(rootfiles, tmp_path, capsys):
    zb, _, menu = rootfiles
    out = tmp_path / "out"
    assert main(["rates", str(zb), "--menu", str(menu), "-o", str(out)]) == 0
    result = json.loads((out / "rates.json").read_text())
    seeds = {s["name"]: s for s in result["menu"]["seeds"]}
    assert seeds["SingleMu22"]["rate_hz"]["value"] == pytest.approx(8 / N_ZB * BX)
    assert seeds["SingleMu22"]["rate_hz"]["effective"] == pytest.approx(8)
    assert seeds["SingleMu22"]["ratio_to_anchor"] == pytest.approx(8 / N_ZB * BX / 12e3)
    assert seeds["SingleJet180"]["rate_hz"]["value"] == pytest.approx(5 / N_ZB * BX)
    assert seeds["ETM100"]["rate_hz"]["value"] == pytest.approx(2 / N_ZB * BX)
    assert result["menu"]["total_rate_hz"]["value"] == pytest.approx(14 / N_ZB * BX)  # event 0 fires two seeds
    assert result["zerobias"]["effective_events"] == pytest.approx(N_ZB) and not result["zerobias"]["weighted"]
    assert "SingleMu22" in (out / "rates.md").read_text() and (out / "menu_rates.png").stat().st_size > 0
    assert "SingleJet180" in capsys.readouterr().out


def test_existing_output_and_missing_isolation_are_refused(rootfiles, tmp_path, capsys):
    zb, _, menu = rootfiles
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["rates", str(zb), "--menu", str(menu), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and [p.name for p in out.iterdir()] == ["keep.txt"]
    fresh = tmp_path / "fresh"
    no_iso = tmp_path / "no_iso.yaml"  # a foreign file's mapping that names no isolation branch
    no_iso.write_text("collections:\n" + "".join(
        f"  {c}: {{pt: {c}_pt, eta: {c}_eta, phi: {c}_phi}}\n" for c in ("egamma", "muon", "jet", "tau")))
    assert main(["rates", str(zb), "--mapping", str(no_iso), "-o", str(fresh)]) == 2  # built-in menu has iso seeds
    err = capsys.readouterr().err
    assert "needs egamma isolation" in err and err.count("\n") == 1 and not fresh.exists()
    assert not list(tmp_path.glob(".fresh*"))
    assert main(["rates", str(zb), "--menu", str(menu), "--signal", "nofile", "-o", str(fresh)]) == 2
    assert "NAME=FILE.root" in capsys.readouterr().err
    assert main(["rates", str(zb), "--menu", str(menu), "--signal", f"a={zb}", f"a={zb}", "-o", str(fresh)]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["rates", str(zb), "--menu", str(menu), "--target-khz", "5", "-o", str(fresh)]) == 2
    assert "give --model too" in capsys.readouterr().err and not fresh.exists()


@pytest.mark.slow  # loads TensorFlow and the AXOL1TL encoder (~10-20 s)
def test_model_working_points_end_to_end(rootfiles, tmp_path):
    from codesign.emulate import emulate_model
    from codesign.zoo.loading import load_model

    zb, sig, menu = rootfiles
    out = tmp_path / "out"
    assert main(["rates", str(zb), "--menu", str(menu), "--model", "axol1tl", "--target-khz", "2000", "300",
                 "--signal", f"sig={sig}", "-o", str(out)]) == 0
    result = json.loads((out / "rates.json").read_text())
    model = load_model("axol1tl")  # the emulate verb's path, independent of the report's scoring
    scores = emulate_model(model, read_view(zb, "axol1tl"))[:, -1]
    sig_scores = emulate_model(model, read_view(sig, "axol1tl"))[:, -1]
    in_menu = np.zeros(N_ZB, bool)
    in_menu[[*range(8), 10, 11, 12, 13, 20, 21]] = True
    sig_menu = np.arange(N_SIG) % 2 == 0
    points = {wp["name"]: wp for wp in result["model"]["working_points"]}
    assert set(points) == {"2000kHz", "300kHz"}
    for khz, wp in ((2000, points["2000kHz"]), (300, points["300kHz"])):
        t = wp["threshold"]
        assert t == working_point(scores, khz * 1e3).threshold
        assert wp["threshold_lsb"] * model.chain.score.format.lsb == t
        assert wp["rate_hz"]["value"] == pytest.approx(np.mean(scores > t) * BX) and wp["rate_hz"]["value"] <= khz * 1e3
        assert wp["pure_rate_hz"]["value"] == pytest.approx(np.mean((scores > t) & ~in_menu) * BX)
        eff = wp["signals"]["sig"]
        assert eff["efficiency"]["value"] == pytest.approx(np.mean(sig_scores > t))
        assert eff["pure_efficiency"]["value"] == pytest.approx(np.mean((sig_scores > t) & ~sig_menu))
    assert result["signals"]["sig"]["menu_efficiency"]["value"] == pytest.approx(0.5)
    assert 0 <= result["signals"]["sig"]["auc"] <= 1
    for plot in ("menu_rates.png", "rate_vs_threshold.png", "efficiency_vs_rate.png"):
        assert (out / plot).stat().st_size > 10_000


def write_weighted(path, events, weights) -> None:
    """A codesign-layout file plus the per-event `weight` branch the zero-bias generator writes."""
    import uproot

    from codesign.data.rootio import TREE, branch_types, to_branches

    with uproot.recreate(path) as file:
        tree = file.mktree(TREE, {**branch_types(), "weight": np.float64})
        tree.extend({**to_branches(events, 0), "weight": np.asarray(weights, np.float64)})


def test_weighted_file_equals_duplicated_file(make_events, tmp_path):
    """Through files and the CLI: integer weights == events repeated; the weights' normalisation is free."""
    n = 100
    w = np.random.default_rng(5).integers(1, 4, n)
    write_weighted(tmp_path / "w.root", zero_bias(make_events, n), w / w.sum())
    dup = np.repeat(np.arange(n), w)
    with TreeWriter(tmp_path / "dup.root", {"process": "test"}) as writer:
        writer.write(zero_bias_repeated(make_events, n, dup))
    (tmp_path / "menu.yaml").write_text(MENU)
    results = {}
    for name in ("w", "dup"):
        assert main(["rates", str(tmp_path / f"{name}.root"), "--menu", str(tmp_path / "menu.yaml"),
                     "-o", str(tmp_path / f"out-{name}")]) == 0
        results[name] = json.loads((tmp_path / f"out-{name}" / "rates.json").read_text())
    assert results["w"]["zerobias"]["weighted"] and results["w"]["zerobias"]["events"] == n
    assert results["w"]["zerobias"]["effective_events"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    for a, b in zip(results["w"]["menu"]["seeds"], results["dup"]["menu"]["seeds"]):
        assert a["rate_hz"]["value"] == pytest.approx(b["rate_hz"]["value"], rel=1e-9)
        assert a["rate_hz"]["value"] > 0
    expected = w[[*range(8)]].sum() / w.sum() * BX  # muons in events 0-7
    assert results["w"]["menu"]["seeds"][0]["rate_hz"]["value"] == pytest.approx(expected)


def _chain() -> TriggerChain:
    return TriggerChain(None, None, Score(FixedFormat(18, 14, False)), {"Loose": 16 * 40, "Tight": 16 * 60})


def test_weighted_evaluation_equals_duplicated_events(make_events):
    """Integer weights give the same rates, thresholds and efficiencies as the events repeated."""
    menu = parse_menu(yaml.safe_load(MENU), "test")
    rng = np.random.default_rng(3)
    n = 300
    w = rng.integers(1, 5, n)
    bkg = zero_bias(make_events, n)
    scores = np.round(rng.exponential(20, n) * 16) / 16  # on the score grid
    dup = np.repeat(np.arange(n), w)
    bkg_dup = zero_bias_repeated(make_events, n, dup)
    sig_scores = np.round(rng.exponential(40, 50) * 16) / 16
    sig = make_events(50, muon=[(i, 30.0, 0.0) for i in range(0, 50, 5)])
    model = Model("toy", _chain(), "axol1tl")
    for targets in ((), (1000.0, 100.0)):
        weighted = evaluate(menu, Sample("zb", "zb", bkg, w.astype(float), scores),
                            [Sample("sig", "sig", sig, np.ones(50), sig_scores)], model, targets)
        repeated = evaluate(menu, Sample("zb", "zb", bkg_dup, np.ones(len(dup)), scores[dup]),
                            [Sample("sig", "sig", sig, np.ones(50), sig_scores)], model, targets)
        assert weighted["zerobias"]["weighted"] and not repeated["zerobias"]["weighted"]
        for a, b in zip(weighted["menu"]["seeds"], repeated["menu"]["seeds"]):
            assert a["rate_hz"]["value"] == pytest.approx(b["rate_hz"]["value"], rel=1e-12)
        for a, b in zip(weighted["model"]["working_points"], repeated["model"]["working_points"]):
            assert a["threshold"] == b["threshold"] and a["name"] == b["name"]
            for key in ("rate_hz", "pure_rate_hz"):
                assert a[key]["value"] == pytest.approx(b[key]["value"], rel=1e-12)
                assert a[key]["weighted"] == b[key]["weighted"]
        assert weighted["signals"]["sig"]["auc"] == pytest.approx(repeated["signals"]["sig"]["auc"], rel=1e-12)
    assert [wp["name"] for wp in weighted["model"]["working_points"]] == ["1000kHz", "100kHz"]


def zero_bias_repeated(make_events, n, index):
    """`zero_bias(n)` with event i repeated as listed in `index`."""
    from codesign.data.objects import Collection, Events

    events = zero_bias(make_events, n)

    def take(c: Collection) -> Collection:
        starts = np.cumsum(c.counts) - c.counts
        objects = np.concatenate([np.arange(starts[i], starts[i] + c.counts[i]) for i in index]).astype(np.int64)
        new_event = np.repeat(np.arange(len(index)), c.counts[index])
        return Collection.sorted_by_pt(new_event, len(index), c.pt[objects], c.eta[objects], c.phi[objects],
                                       **{k: v[objects] for k, v in c.extra.items()})

    return Events(**{f.name: take(v) if isinstance(v := getattr(events, f.name), Collection) else v[index]
                     for f in fields(Events)})
