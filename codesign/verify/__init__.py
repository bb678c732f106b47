"""`codesign verify`: cocotb simulation of the generated RTL against the bit-exact emulator."""

from codesign.verify.runner import SimRun, simulate
from codesign.verify.verify import verify

__all__ = ["SimRun", "simulate", "verify"]
