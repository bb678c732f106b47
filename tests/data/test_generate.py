"""`codesign data generate` / `info` end to end: files, determinism, cache, round trip, errors."""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

from codesign.cli import main
from codesign.data import GenerationRequest, generate, load_mapping, read_events, read_view, rootio
from codesign.data.objects import Events
from codesign.errors import CodesignError


def test_file_has_the_documented_branches(sample):
    path = sample("qcd")
    tree = uproot.open(path)["Events"]
    assert tree.num_entries == 300
    expected = {"event", "n_pileup", "met_pt", "met_phi", "regions", "axol1tl", "gelato", "cicada", "npf"}
    for collection, columns in rootio.DEFAULT_MAPPING["collections"].items():
        expected |= set(columns.values())
    assert expected <= set(tree.keys())
    assert tree["axol1tl"].array(library="np").shape == (300, 57)
    assert tree["gelato"].array(library="np").shape == (300, 44)
    assert tree["cicada"].array(library="np").dtype == np.uint16
    meta = rootio.read_metadata(path)
    assert meta["process"] == "qcd" and meta["events"] == 300 and meta["seed"] == 11


@pytest.mark.parametrize("view", ["axol1tl", "gelato", "cicada"])
def test_stored_views_equal_views_rebuilt_from_the_collections(sample, view):
    """The ROOT round trip is exact: the mapping path rebuilds each stored view bit for bit."""
    path = sample("zprime_ll")
    stored = read_view(path, view)
    mapping = load_mapping(None)
    mapping["views"] = {}
    rebuilt = read_view(path, view, mapping)
    np.testing.assert_array_equal(stored, rebuilt)
    assert np.any(stored != 0)


def test_same_seed_gives_identical_arrays_whatever_the_jobs(tmp_path):
    request = GenerationRequest("zprime_tautau", 120, pileup=5.0, seed=5, pool_events=100)
    a, _ = generate(request, tmp_path / "a.root", jobs=1, use_cache=False, progress=False)
    b, _ = generate(request, tmp_path / "b.root", jobs=2, use_cache=False, progress=False)
    other = GenerationRequest("zprime_tautau", 120, pileup=5.0, seed=6, pool_events=100)
    c, _ = generate(other, tmp_path / "c.root", jobs=2, use_cache=False, progress=False)
    ta, tb, tc = (uproot.open(p)["Events"] for p in (a, b, c))
    for branch in ("axol1tl", "gelato", "cicada", "pf_pt", "pf_dxy", "n_pileup"):
        assert ak.array_equal(ta[branch].array(), tb[branch].array()), branch
    assert not np.array_equal(ta["axol1tl"].array(library="np"), tc["axol1tl"].array(library="np"))


def test_second_request_comes_from_the_cache(tmp_path, private_cache):
    request = GenerationRequest("h60_tautau", 50, pileup=0.0, seed=3)
    cached = private_cache / "samples" / f"h60_tautau-{request.key()}.root"  # other tests may cache other requests
    first, cached_first = generate(request, tmp_path / "first.root", progress=False)
    assert cached.is_file() and not cached_first
    stamp = cached.stat().st_mtime_ns
    second, cached_second = generate(request, tmp_path / "second.root", progress=False)
    assert cached_second and cached.stat().st_mtime_ns == stamp
    assert first.read_bytes() == second.read_bytes()


def test_writer_leaves_nothing_behind_on_failure(tmp_path, events):
    target = tmp_path / "out.root"
    batch = events("qcd")
    with pytest.raises(RuntimeError), rootio.TreeWriter(target, {"process": "qcd"}) as writer:
        writer.write(batch)
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_cli_generate_and_info(tmp_path, capsys):
    out = tmp_path / "wprime.root"
    code = main(["data", "generate", "--process", "wprime_taunu", "--events", "40", "--pileup", "0", "-o", str(out)])
    assert code == 0 and out.is_file()
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "40 events" in text and "axol1tl" in text and "process=wprime_taunu" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--process", "nope", "--events", "10"], "unknown process 'nope'"),
        (["--process", "qcd", "--events", "-5"], "argument --events: -5 is out of range"),
        (["--process", "qcd", "--events", "10", "--pileup", "-1"], "argument --pileup: -1 is out of range"),
    ],
)
def test_cli_rejects_bad_requests(tmp_path, capsys, argv, message):
    out = tmp_path / "x.root"
    assert main(["data", "generate", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not out.exists()


def test_cli_rejects_unwritable_output(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a path below a file instead
            (tmp_path / "file").write_text("")
            target, message = tmp_path / "file" / "x.root", "is a file"
        else:
            target, message = locked / "x.root", "not writable"
        assert main(["data", "generate", "--process", "qcd", "--events", "10", "-o", str(target)]) == 2
        assert message in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_corrupt_and_missing_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"root" * 100)
    assert main(["data", "info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable ROOT file" in err and err.count("\n") == 0
    assert main(["data", "info", str(tmp_path / "absent.root")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_user_file_through_a_mapping(tmp_path, sample):
    """A foreign ntuple (other tree and branch names, no ready-made views) is read via a mapping
    and gives the same AXOL1TL inputs as the generated file it was copied from."""
    ev: Events = read_events(sample("zprime_ll"))
    path = tmp_path / "l1ntuple.root"
    branches = {"sumMET": ev.met_pt, "sumMETPhi": ev.met_phi}
    names = {"egamma": "eg", "muon": "muon", "jet": "jet"}
    for collection, prefix in names.items():
        c = getattr(ev, collection)
        for var, column in (("Et", c.pt), ("Eta", c.eta), ("Phi", c.phi)):
            branches[f"{prefix}{var}"] = ak.unflatten(column, c.counts)
    with uproot.recreate(path) as f:
        f["l1UpgradeTree"] = branches
    user_mapping = {
        "tree": "l1UpgradeTree",
        "met": {"pt": "sumMET", "phi": "sumMETPhi"},
        "collections": {c: {"pt": f"{p}Et", "eta": f"{p}Eta", "phi": f"{p}Phi"} for c, p in names.items()},
        "views": {},
    }
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(yaml.safe_dump(user_mapping))
    mapping = load_mapping(mapping_file)
    np.testing.assert_array_equal(read_view(path, "axol1tl", mapping), read_view(sample("zprime_ll"), "axol1tl"))

    mapping["collections"]["muon"]["pt"] = "muonPt"
    with pytest.raises(CodesignError, match="branch 'muonPt' not found in .*l1ntuple.root:l1UpgradeTree"):
        read_view(path, "axol1tl", mapping)
    del mapping["collections"]["muon"]
    with pytest.raises(CodesignError, match="no entry collections.muon"):
        read_view(path, "axol1tl", mapping)


def test_wrong_view_shape_is_named(tmp_path):
    path = tmp_path / "wrong.root"
    with uproot.recreate(path) as f:
        f["Events"] = {"axol1tl": np.zeros((4, 56), np.float32)}
    with pytest.raises(CodesignError, match=r"branch 'axol1tl' .* shape \(56,\), the axol1tl view needs \(57,\)"):
        read_view(path, "axol1tl")


def test_bad_mapping_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("colections: {}\n")
    with pytest.raises(CodesignError, match="unknown key 'colections'"):
        load_mapping(path)
