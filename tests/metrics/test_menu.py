"""The Level-1 menu: seeds evaluated on hand-made events with known answers, and YAML validation."""

from __future__ import annotations

import pytest
import yaml

from codesign.errors import CodesignError
from codesign.metrics.menu import Menu, ht, load_menu, parse_menu


def evaluate(make_events, seed_yaml: str, **objects) -> list[bool]:
    menu = parse_menu(yaml.safe_load(f"seeds: {{S: {{all: {seed_yaml}}}}}"), "test")
    n = objects.pop("n")
    return menu.evaluate(make_events(n, **objects))["S"].tolist()


def test_single_object_thresholds_and_eta_edges(make_events):
    muons = [(0, 22.0, 0.0), (1, 21.99, 0.0), (2, 30.0, 2.4), (3, 30.0, -2.39), (4, 5.0, 0.0), (4, 25.0, -1.0)]
    assert evaluate(make_events, "[{object: muon, pt: 22, eta: 2.4}]", n=6, muon=muons) == [
        True, False, False, True, True, False]


def test_multi_object_thresholds_need_distinct_objects(make_events):
    eg = [(0, 20, 0), (0, 10, 0),  # passes 15/7
          (1, 30, 0),  # one object cannot satisfy both thresholds
          (2, 14, 0), (2, 14, 0),  # leading below 15
          (3, 15, 0), (3, 6.9, 0),  # second below 7
          (4, 40, 0), (4, 8, 3.0), (4, 8, 1.0),  # second passes only inside eta
          (5, 40, 0), (5, 8, 3.0)]  # second only outside eta
    assert evaluate(make_events, "[{object: egamma, pt: [15, 7], eta: 2.5}]", n=6, egamma=eg) == [
        True, False, False, False, True, False]
    # thresholds in any order, and one threshold for `count` objects
    assert evaluate(make_events, "[{object: egamma, pt: [7, 15], eta: 2.5}]", n=6, egamma=eg)[0]
    jets = [(0, 150, 0), (0, 151, 1), (1, 150, 0), (1, 149, 0), (2, 300, 0)]
    assert evaluate(make_events, "[{object: jet, pt: 150, count: 2}]", n=3, jet=jets) == [True, False, False]


def test_isolation_flag(make_events):
    taus = [(0, 40, 0), (0, 35, 0), (1, 40, 0), (1, 35, 0), (2, 40, 0), (2, 35, 0), (2, 34, 0.5)]
    iso = [1, 1, 1, 0, 1, 0, 1]
    assert evaluate(make_events, "[{object: tau, pt: 34, count: 2, eta: 2.1, iso: true}]", n=3, tau=taus,
                    tau_iso=iso) == [True, False, True]
    assert evaluate(make_events, "[{object: tau, pt: 34, count: 2}]", n=3, tau=taus, tau_iso=iso) == [True] * 3
    with pytest.raises(CodesignError, match="seed S needs tau isolation"):
        evaluate(make_events, "[{object: tau, pt: 34, iso: true}]", n=3, tau=taus, tau_iso=False)


def test_ht_met_and_and(make_events):
    jets = [(0, 200, 0), (0, 160, 2.0), (0, 29.9, 0),  # HT 360 (the 29.9 GeV jet is below 30)
            (1, 200, 0), (1, 165, 2.4),  # the second jet is outside |eta| < 2.4: HT 200
            (2, 100, 0), (2, 100, 1), (2, 100, -1), (2, 40, 0)]  # HT 340
    events = make_events(4, jet=jets, met=[99.9, 100, 0, 500], muon=[(2, 6, 0), (3, 50, 0)])
    assert ht(events.jet).tolist() == pytest.approx([360, 200, 340, 0])
    menu = parse_menu(yaml.safe_load("""
        seeds:
          H: {all: [{ht: 360}]}
          H2: {all: [{ht: 300, jet_pt: 50}]}
          M: {all: [{met: 100}]}
          MuHT: {all: [{object: muon, pt: 6, eta: 2.4}, {ht: 240}]}
    """), "test")
    fired = menu.evaluate(events)
    assert fired["H"].tolist() == [True, False, False, False]
    assert fired["H2"].tolist() == [True, False, True, False]  # 40 GeV jet dropped: 300
    assert fired["M"].tolist() == [False, True, False, True]
    assert fired["MuHT"].tolist() == [False, False, True, False]
    assert Menu.any_fired(fired).tolist() == [True, True, True, True]


def test_builtin_menu_seeds_and_anchors(make_events):
    menu = load_menu()
    names = [s.name for s in menu.seeds]
    for name in ("SingleMu22", "DoubleMu_15_7", "SingleEG36er2p5", "SingleIsoEG30er2p1", "DoubleEG_25_12er2p5",
                 "SingleJet180", "DoubleJet_150_er2p5", "HTT360er", "ETMHF100", "DoubleIsoTau34er2p1",
                 "SingleTau120er2p1", "Mu6_HTT240"):
        assert name in names
    anchors = {s.name: s.anchor_khz for s in menu.seeds if s.anchor_khz}
    assert anchors == {"SingleMu22": 12, "SingleEG36er2p5": 12, "SingleJet180": 4, "HTT360er": 7, "ETMHF100": 4}
    events = make_events(3, egamma=[(0, 36, 2.0)], egamma_iso=[0], tau_iso=[], jet=[(1, 180, 4.0)], met=[0, 0, 100])
    fired = menu.evaluate(events)
    assert {k for k, v in fired.items() if v[0]} == {"SingleEG36er2p5"}  # not isolated: no SingleIsoEG30er2p1
    assert {k for k, v in fired.items() if v[1]} == {"SingleJet180"}
    assert {k for k, v in fired.items() if v[2]} == {"ETMHF100"}


def test_user_menu_file(tmp_path):
    path = tmp_path / "menu.yaml"
    path.write_text("seeds:\n  Mine: {anchor_khz: 3.5, all: [{met: 50}]}\n")
    menu = load_menu(path)
    assert [(s.name, s.anchor_khz) for s in menu.seeds] == [("Mine", 3.5)] and menu.source == str(path)


@pytest.mark.parametrize("text,message", [
    ("[1, 2]", "needs a non-empty mapping 'seeds"),
    ("seeds: {}", "needs a non-empty mapping 'seeds"),
    ("seeds: {A: {all: [{met: 1}]}}\nextra: 1", "unknown key"),
    ("seeds: {A: 3}", "seed A: must be a mapping"),
    ("seeds: {A: {all: []}}", "seed A: needs 'all:'"),
    ("seeds: {A: {any: [{met: 1}]}}", "seed A: unknown key(s) any"),
    ("seeds: {A: {all: [{met: 1}], anchor_khz: fast}}", "anchor_khz must be a non-negative number"),
    ("seeds: {A: {all: [{object: photon, pt: 3}]}}", "condition 1: object 'photon' is not one of"),
    ("seeds: {A: {all: [{met: 1}, {object: jet}]}}", "condition 2: needs 'pt'"),
    ("seeds: {A: {all: [{object: jet, pt: -5}]}}", "pt must be a non-negative number"),
    ("seeds: {A: {all: [{object: jet, pt: [5, 3], count: 3}]}}", "count 3 does not match the 2 pt thresholds"),
    ("seeds: {A: {all: [{object: jet, pt: 5, count: 0}]}}", "count must be a positive integer"),
    ("seeds: {A: {all: [{object: jet, pt: 5, iso: 1}]}}", "iso must be true or false"),
    ("seeds: {A: {all: [{object: jet, pt: 5, ptt: 3}]}}", "unknown key(s) ptt"),
    ("seeds: {A: {all: [{ht: 5, met: 3}]}}", "needs exactly one of 'object', 'ht', 'met'"),
    ("seeds: {A: {all: [{ht: 5, eta: 3}]}}", "unknown key(s) eta"),
    ("seeds: {A: {all: [{met: .nan}]}}", "met must be a non-negative number"),
    ("seeds: {A: {all: [3]}}", "must be a mapping with one of"),
    ("seeds: [A", "is not valid YAML"),
])
def test_validation_errors_are_one_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CodesignError) as err:
        load_menu(path)
    assert message in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_menu_file(tmp_path):
    with pytest.raises(CodesignError, match="cannot read menu"):
        load_menu(tmp_path / "absent.yaml")
