"""GELATO's targets from a `codesign synth gelato --combinational` project (issue 12), printed with their status.

    python benchmarks/bench_gelato.py [PROJECT]   (default: runs synth into a temporary folder, full Yosys flow)

Targets: 0 mismatches on >= 10,000 vectors on every checked path; the one combinational path within the clock
period with the delay model's margin; LUT under 1% of the part and no DSP; the firmware AUC at least the float
model's minus 0.02 on every signal (training-time metrics of the card); the AUC of the sum-ET baseline beside it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main() -> None:
    if len(sys.argv) > 1:
        report = json.loads((Path(sys.argv[1]) / "report.json").read_text())
    else:
        from codesign.synth import synthesize

        report = synthesize("gelato", part="xcvu9p", combinational=True, estimate="full",
                            output=Path(tempfile.mkdtemp(prefix="bench-gelato-")) / "gelato_xcvu9p")
    ok = lambda flag: "ok" if flag else "MISSED"  # noqa: E731
    for name, path in report["bit_exact"]["paths"].items():
        print(f"{name:40s} {path['mismatches']} mismatches on {path['vectors']} vectors "
              f"[{ok(path['mismatches'] == 0 and path['vectors'] >= 10_000)}]")
    c = report["combinational"]
    print(f"combinational path: {c['adder_levels']} adder levels, {c['lut_carry_levels']} LUT/CARRY levels, "
          f"{c['delay_ns']:g} +- {c['uncertainty_ns']:g} ns of {c['period_ns']:g} ns, margin {c['margin']:.0%} "
          f"(target {c['target_margin']:.0%}) [{ok(c['fits'])}]")
    print(f"at the delay model's upper end: {c['delay_ns_at_upper_bound']:g} ns, margin {c['margin_at_upper_bound']:.0%} "
          f"[{ok(c['fits_at_upper_bound'])}]")
    lut, dsp = report["utilization_pct"]["lut"], report["resources"]["dsp"]["value"]
    print(f"LUT {report['resources']['lut']['value']:g} ({lut:.3f}% of {report['part']}), "
          f"FF {report['resources']['ff']['value']:g}, DSP {dsp:g} [{ok(lut < 1 and dsp == 0)}]")
    baseline = report["metrics"].get("baseline", {}).get("auc", {})
    for name, m in report["metrics"]["signals"].items():
        print(f"{name:15s} AUC firmware {m['auc_firmware']:.3f} float {m['auc_float']:.3f} "
              f"sum-ET baseline {baseline.get(name, float('nan')):.3f} [{ok(m['auc_firmware'] >= m['auc_float'] - 0.02)}]")


if __name__ == "__main__":
    main()
