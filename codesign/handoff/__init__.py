"""The firmware engineers' hand-off: bundle, CMSSW emulator, manifest and its check."""

from codesign.handoff.bundle import handoff
from codesign.handoff.manifest import check_bundle

__all__ = ["handoff", "check_bundle"]
