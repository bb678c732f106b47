"""`codesign handoff`: the bundle's own `make check` (g++ only), its manifest and `--check`, and the CMSSW
emulator loaded through the loader, two models in one process."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.errors import CodesignError
from codesign.handoff import check_bundle, handoff
from codesign.handoff.manifest import sha256
from tests.flow.conftest import save_small_model

QUIET = {"progress": lambda _: None}


@pytest.fixture(scope="module")
def bundle(small_h5, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handoff") / "small_bundle"
    handoff(str(small_h5), out, vectors=500, **QUIET)
    return out


@pytest.fixture(scope="module")
def built(bundle, tmp_path_factory) -> Path:
    """A copy of the bundle in an empty folder, `make check` run there with only g++ (and the assembler and
    linker it calls) and make on PATH."""
    copy = tmp_path_factory.mktemp("elsewhere") / "b"
    shutil.copytree(bundle, copy)
    tools = copy.parent / "bin"
    tools.mkdir()
    for name in ("g++", "as", "ld", "make"):
        (tools / name).symlink_to(shutil.which(name))
    run = subprocess.run(["make", "check"], cwd=copy, capture_output=True, text=True, env={"PATH": str(tools)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count(" 0 mismatches") == 2, run.stdout
    return copy


def test_layout_manifest_and_tarball(bundle):
    for name in ("INTERFACE.md", "Makefile", "vitis_hls.tcl", "vivado/synth_ooc.tcl", "tb/testbench.cpp",
                 "vectors/inputs.hex", "vectors/expected.hex", "cmssw/small_v1.cpp", "cmssw/hls4ml/emulator.h",
                 "hls/build_prj.tcl", "report.json", "graph.json"):
        assert (bundle / name).is_file(), name
    assert not list(bundle.rglob("*.so")) and not (bundle / "hls" / "hls4ml_config.yml").exists()
    manifest = json.loads((bundle / "manifest.json").read_text())
    files = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()} - {"manifest.json", ".codesign-output"}
    assert set(manifest["sha256"]) == files
    assert all(sha256(bundle / name) == digest for name, digest in manifest["sha256"].items())
    assert {"hls4ml", "da4ml", "g++", "yosys"} <= set(manifest["tools"]) and manifest["part"] == "xcvu9p"
    with tarfile.open(bundle.parent / "small_bundle.tar.gz") as tar:
        members = {m.name for m in tar.getmembers() if m.isfile()}
    assert members == {f"small_bundle/{name}" for name in files | {"manifest.json"}}
    spec = (bundle / "INTERFACE.md").read_text()
    assert "| input | in | 6 | `ap_fixed<8,4,AP_RND_CONV,AP_SAT>` | 8 | words 0..5 |" in spec
    assert "| result | out | 3 |" in spec
    assert "model_inp" in spec and "latency" in spec


def test_make_check_from_a_copy_with_only_gpp(built):
    assert (built / "tb" / "testbench").is_file() and (built / "cmssw" / "small_v1.so").is_file()


def test_a_wrong_expected_word_fails_both_checks(built):
    lines = (built / "vectors" / "expected.hex").read_text().splitlines()
    words = lines[7].split()
    words[0] = format(int(words[0], 16) ^ 1, f"0{len(words[0])}x")
    bad = built / "bad_expected.hex"
    bad.write_text("\n".join(lines[:7] + [" ".join(words)] + lines[8:]) + "\n")
    tb = subprocess.run(["./tb/testbench", "vectors/inputs.hex", str(bad)], cwd=built, capture_output=True, text=True)
    assert tb.returncode == 1 and "vector 8 word 0" in tb.stderr and "1 mismatches" in tb.stdout
    emu = subprocess.run(["./check_emulator", "./small_v1", "../vectors/inputs.hex", str(bad)], cwd=built / "cmssw",
                         capture_output=True, text=True)
    assert emu.returncode == 1 and "vector 8 word 0" in emu.stderr


def test_check_verifies_checksums(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    (copy / "vectors" / "inputs.hex").write_text("0\n")
    with pytest.raises(CodesignError, match=r"1 changed \(vectors/inputs.hex\)"):
        check_bundle(copy, progress=lambda _: None)
    (copy / "INTERFACE.md").unlink()
    with pytest.raises(CodesignError, match="1 missing"):
        check_bundle(copy, progress=lambda _: None)


@pytest.mark.slow
def test_check_cli_reruns_the_vectors(bundle, capsys):
    assert main(["handoff", "--check", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert out.count(" 0 mismatches") == 2 and "files match the manifest" in out


@pytest.mark.slow
def test_two_models_in_one_process(built, tmp_path):
    """Two emulators with the same names (model `small`, same HLS function and types) but other weights, loaded
    together: each equals its own emulator vectors, and not the other's."""
    other = tmp_path / "other"
    handoff(str(save_small_model(tmp_path / "small.h5", seed=1)), other, vectors=500, **QUIET)
    subprocess.run(["make", "-s", "small_v1.so"], cwd=other / "cmssw", check=True, capture_output=True)
    mine, theirs = built / "cmssw", other / "cmssw"
    args = [str(mine / "check_emulator"), str(mine / "small_v1"), str(built / "vectors" / "inputs.hex"),
            str(built / "vectors" / "expected.hex"), str(theirs / "small_v1"), str(other / "vectors" / "inputs.hex"),
            str(other / "vectors" / "expected.hex")]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.count(" 0 mismatches") == 2, run.stdout + run.stderr
    swapped = args[:4] + [args[1]] + args[5:]  # the first library on the second model's vectors
    assert subprocess.run(swapped, capture_output=True, text=True).returncode == 1


def test_bad_requests(small_h5, tmp_path, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    assert main(["handoff", str(small_h5), "-o", str(user)]) == 2
    assert "was not written by codesign" in capsys.readouterr().err
    assert main(["handoff", str(small_h5)]) == 2
    assert "give MODEL and -o BUNDLE" in capsys.readouterr().err
    assert main(["handoff", "--check", str(tmp_path / "none")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "mine.tar.gz").exists()
