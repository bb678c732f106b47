"""Parse-time checks of numeric command-line options (argparse `type=` functions), with the limit named.

A value outside its range fails while the arguments are parsed, before anything is read or written.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_SEED = 2**32 - 1  # numpy and TensorFlow seeds
MAX_VECTORS = 1_000_000  # bit-exactness vectors: ~ a few hundred MB of intermediate arrays at most
MAX_EVENTS = 10_000_000  # generated events per request (hours of Pythia on two cores)
MAX_PILEUP = 500.0  # mean interactions per crossing (HL-LHC design: 200)
MAX_CLOCK_MHZ = 1_000.0  # above any FPGA fabric clock
MAX_JOBS = 256


def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {limit}")
        return value

    parse.__name__ = "integer"
    return parse


def real(low: float, high: float, low_open: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite float in (low, high] (or [low, high] with `low_open=False`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above = value > low if low_open else value >= low
        if not math.isfinite(value) or not above or value > high:
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: must be a finite number {'>' if low_open else '>='} {low:g} and <= {high:g}")
        return value

    parse.__name__ = "number"
    return parse


seed = integer(0, MAX_SEED)
positive = integer(1)
jobs = integer(1, MAX_JOBS)
vectors = integer(1, MAX_VECTORS)
clock_mhz = real(0.0, MAX_CLOCK_MHZ)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's default in its help (unless it has none or the help names it already); descriptions and
    examples keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or "(default" in text or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            text += " (default %(default)s)"
        return text


def examples(*commands: str) -> str:
    """A verb's `--help` epilog: one or more example commands."""
    return "example" + ("s" if len(commands) > 1 else "") + ":\n" + "\n".join(f"  {c}" for c in commands)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `codesign VERB: error: ...` (exit 2), showing defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")
