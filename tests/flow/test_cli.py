"""The command line's help (examples, defaults, parts, positional names), default output folder and quiet start."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codesign.cli import build_parser
from codesign.estimate import parts
from codesign.synth import default_output

ROOT = Path(__file__).resolve().parents[2]


def _verbs(parser: argparse.ArgumentParser, path=("codesign",)):
    """(command words, parser) of every verb that runs something (leaves of the sub-command tree)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _verbs(sub, (*path, name))


VERBS = dict((" ".join(path), parser) for path, parser in _verbs(build_parser()))


def test_every_verb_is_listed():
    assert {"codesign synth", "codesign verify", "codesign emulate", "codesign train", "codesign rates",
            "codesign data generate", "codesign data info", "codesign data processes", "codesign dqm train",
            "codesign dqm evaluate", "codesign dqm run"} <= set(VERBS)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_help_has_an_example_and_every_default(verb: str):
    parser = VERBS[verb]
    text = parser.format_help()
    example = text.split("example", 1)[1]
    assert f"\n  {verb} " in example or example.rstrip().endswith(f"  {verb}"), text
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and action.help:
            assert "default" in parser._get_formatter()._get_help_string(action), f"{verb} {action.dest}"
        if not action.option_strings:
            assert action.metavar and action.metavar == action.metavar.upper(), f"{verb}: positional {action.dest}"
            assert action.help, f"{verb}: positional {action.metavar} has no help"
    for option in ("--epochs", "--jobs", "--pool-events", "--seed", "--inject"):
        action = next((a for a in parser._actions if option in a.option_strings), None)
        if action is not None:
            assert "default" in parser._get_formatter()._get_help_string(action), f"{verb} {option}"


def test_synth_help_lists_the_parts_and_defaults():
    text = " ".join(VERBS["codesign synth"].format_help().split())
    assert all(name in text for name in parts())
    assert "(default xcvu9p)" in text and "(default 40.0)" in text and "(default fast; full with --combinational)" in text


def test_default_output_follows_the_working_folder_and_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CODESIGN_PROJECTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_output("m", "xcvu9p").absolute() == tmp_path / "vivado_projects" / "m_xcvu9p"
    monkeypatch.setenv("CODESIGN_PROJECTS", str(tmp_path / "elsewhere"))
    assert default_output("m", "xcvu9p") == tmp_path / "elsewhere" / "m_xcvu9p"


def _emulate(tmp_path: Path, h5: Path, *flags: str) -> subprocess.CompletedProcess:
    np.save(tmp_path / "x.npy", np.zeros((4, 6)))
    # what this process's TensorFlow set for itself (legacy Keras) must not reach the child
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_USE_LEGACY_KERAS", "TF2_BEHAVIOR")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "codesign.cli", *flags, "emulate", str(h5), "--input", str(tmp_path / "x.npy"),
               "-o", str(tmp_path / f"y{len(flags)}.npy")]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)


def test_tensorflow_start_up_noise_is_hidden_unless_verbose(small_h5, tmp_path: Path):
    quiet = _emulate(tmp_path, small_h5)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = _emulate(tmp_path, small_h5, "-v")
    assert loud.returncode == 0 and "tensorflow" in loud.stderr.lower()


def test_an_interrupt_says_what_the_verb_leaves(monkeypatch, capsys):
    """Atomic verbs leave nothing; the sweep keeps its streamed results, and says how to resume."""
    import codesign.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_sweep", interrupted)
    monkeypatch.setattr(cli, "_train", interrupted)
    assert cli.main(["sweep", "axol1tl", "-o", "s"]) == 130
    assert "finished points stay in the sweep folder's results.csv" in capsys.readouterr().err
    assert cli.main(["train", "axol1tl"]) == 130
    assert capsys.readouterr().err.strip() == "codesign: interrupted; no output written"
