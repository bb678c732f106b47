"""Zero-bias quality: menu rates from two pool seeds, slot medians vs the deployed AXOL1TL v4, tail shares.

    python benchmarks/bench_zerobias.py [--events 100000] [--files A.root B.root] [--model axol1tl] [--xsec]

Two zero-bias samples with different seeds (hence different pileup pools) give the built-in menu's rates
and the zoo model's working points (its card thresholds) with 68% intervals, their pull, and the Run-3 anchors; the slot medians of present objects are compared
with the v4 offsets (medians of real zero bias); for every seed, the largest share of its weighted rate
led by one reused pool interaction and that interaction's tier (s: soft, then 1, 2, ...: the hard tiers of
`codesign.data.zerobias.POOL_HARD_TIERS`).  A replicated
share scales as 1 / (tier size) whatever the sample size, so the largest one (two or more crossings)
says how large its tier would have to be for 1%.  `--xsec` recomputes the p̂T-slice cross sections of
`codesign.data.zerobias.QCD_SLICES` with Pythia, and the pool's hard tiers as minimum bias' own (the
fraction of SoftQCD:inelastic events, at parton level, whose hardest scatter lies in the window).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

#: Medians of real zero bias per AXOL1TL slot (GeV), from the deployed v4 offsets.
V4_MEDIANS = {"MET": (0, 18.0), "eg1": (3, 7.0), "eg2": (6, 4.5), "eg3": (9, 4.0), "eg4": (12, 3.0),
              "mu1": (15, 5.0), "mu2": (18, 3.0), "mu3": (21, 3.0), "mu4": (24, 3.0),
              **{f"jet{i + 1}": (27 + 3 * i, m) for i, m in enumerate((29, 22, 17.5, 13.5, 11, 10.5, 10, 9, 9, 8))}}


def cross_sections(events: int) -> None:
    from codesign.data.zerobias import POOL_HARD_TIERS, QCD_SLICES, SIGMA_INELASTIC_MB

    print(f"{'slice (GeV)':>14s} {'sigma mb (table)':>17s} {'sigma mb (now)':>15s} {'error':>9s}")
    for low, high, table in QCD_SLICES:
        pythia = _pythia(("HardQCD:all = on", f"PhaseSpace:pTHatMin = {low:g}", f"PhaseSpace:pTHatMax = {high:g}",
                          "PartonLevel:all = off"))
        for _ in range(events):
            pythia.next()
        info = pythia.infoPython()
        print(f"{low:6g}-{high:<7g} {table:17.4e} {info.sigmaGen():15.4e} {info.sigmaErr():9.1e}")
    print(f"\npool tiers: minimum bias with its hardest scatter in the window ({4 * events:,} events)")
    scatter = _minbias_hardest_scatter(4 * events)
    for low, high, table in POOL_HARD_TIERS:
        inside = np.count_nonzero((scatter >= low) & (scatter < high))
        sigma, error = (SIGMA_INELASTIC_MB * k / len(scatter) for k in (inside, np.sqrt(inside)))
        print(f"{low:6g}-{high:<7g} {table:17.4e} {sigma:15.4e} {error:9.1e}")


def _pythia(settings):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in ("Beams:eCM = 13600.", *settings, "HadronLevel:all = off", "Print:quiet = on",
                 "Next:numberCount = 0", "Random:setSeed = on", "Random:seed = 1"):
        pythia.readString(line)
    pythia.init()
    return pythia


def _minbias_hardest_scatter(events: int) -> np.ndarray:
    import awkward as ak

    from codesign.data.generator import hardest_scatter
    from codesign.data.processes import MINBIAS_SETTINGS

    pythia = _pythia(MINBIAS_SETTINGS)
    out = []
    for _ in range(0, events, 5000):
        batch = pythia.nextBatch(5000)
        out.append(hardest_scatter(batch.prt, np.sqrt(np.maximum(ak.to_numpy(batch.info.pT2Hat), 0.0))))
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--pileup", type=float, default=60.0)
    parser.add_argument("--files", nargs=2, type=Path, help="two existing zero-bias files instead of generating")
    parser.add_argument("--xsec", action="store_true", help="recompute the QCD slice cross sections")
    parser.add_argument("--model", default="axol1tl",
                        help="zoo model whose card working points join the menu's seeds (default %(default)s; '' for none)")
    args = parser.parse_args()
    if args.xsec:
        cross_sections(50_000)
        return

    from codesign.data import GenerationRequest, generate, read_events, read_view, rootio
    from codesign.data.zerobias import tail_shares
    from codesign.metrics.menu import Menu, load_menu
    from codesign.metrics.rates import rate
    from codesign.metrics.report import load_zoo_model

    files = args.files
    if files is None:
        folder = Path(tempfile.mkdtemp(prefix="codesign-zb-"))
        files = [generate(GenerationRequest("zerobias", args.events, pileup=args.pileup, seed=seed, pf=False),
                          folder / f"zb{seed}.root", jobs=2)[0] for seed in (1, 2)]
    menu = load_menu()
    tiers = [np.cumsum(rootio.read_metadata(path)["zerobias"]["pool_tier_sizes"]) for path in files]  # tier ends
    results = []
    model = load_zoo_model(args.model) if args.model else None
    for path in files:
        events = read_events(path)
        fired = menu.evaluate(events, str(path))
        menu_or = Menu.any_fired(fired)
        if model is not None:  # the model's trigger bits at its card thresholds, as the firmware computes them
            bits = model.chain.emulate(read_view(path, model.view))
            fired.update({f"{model.name} {wp}": bits[wp] for wp in model.chain.thresholds})
        results.append((events, fired, {name: rate(passed, events.weight) for name, passed in fired.items()}))
        results[-1][2]["menu OR"] = rate(menu_or, events.weight)
    print(f"\nmenu rates, kHz [68%], files {files[0].name} and {files[1].name}")
    print("pool share: the largest share of the weighted rate led by one reused pool interaction, with the number")
    print("of passing crossings it leads (one crossing is statistics, many would be replication)")
    print("A, B: kHz [68% interval] (effective number of passing events)")
    print(f"{'seed':22s} {'A':>30s} {'B':>30s} {'pull':>6s} {'anchor':>7s} {'pool share (crossings) A/B':>28s}")
    anchors = {seed.name: seed.anchor_khz for seed in menu.seeds}
    for name in results[0][2]:
        a, b = results[0][2][name], results[1][2][name]
        sigma = np.hypot((a.high - a.low) / 2, (b.high - b.low) / 2)
        pull = (a.value - b.value) / sigma if sigma > 0 else 0.0
        shares = "/".join(_share(tail_shares(ev.weight, fired[name], ev.lead_interaction), tier)
                          for (ev, fired, _), tier in zip(results, tiers)) if name in results[0][1] else ""
        anchor = f"{anchors[name]:g}" if anchors.get(name) else "-"
        print(f"{name:22s} {_fmt(a):>30s} {_fmt(b):>30s} {pull:6.2f} {anchor:>7s} {shares:>28s}")

    for path, (events, fired, _), ends in zip(files, results, tiers):
        over = []
        for name, passed in fired.items():
            share = tail_shares(events.weight, passed, events.lead_interaction)
            if share.pool_crossings >= 2 and share.pool_share > 0.01:
                tier = int(np.searchsorted(ends, share.pool_interaction, side="right"))
                size = int(ends[tier] - (ends[tier - 1] if tier else 0))
                over.append(f"{name} {_share(share, ends)}: its tier would need ~{size * share.pool_share / 0.01:,.0f} "
                            f"interactions (now {size:,})")
        print(f"{path.name}: replicated shares (2 or more crossings) above 1%: " + ("; ".join(over) or "none"))
    x = read_view(files[1], "axol1tl")
    soft = results[1][0].pthat == 0
    print(f"\nslot medians of present objects (soft crossings of {files[1].name}) vs v4 offsets, GeV")
    for name, (column, v4) in V4_MEDIANS.items():
        present = x[soft, column][x[soft, column] > 0]
        median = float(np.median(present)) if len(present) else float("nan")
        print(f"  {name:6s} {median:6.1f}  v4 {v4:5.1f}  ratio {median / v4:5.2f}  present in {len(present) / soft.sum():6.1%}")


def _share(shares, tier_ends: np.ndarray) -> str:
    """Share (crossings led x, tier) of the interaction leading the most passing weight."""
    if shares.pool_interaction < 0:
        return f"{shares.pool_share:.1%} ({shares.pool_crossings}x)"
    tier = int(np.searchsorted(tier_ends, shares.pool_interaction, side="right"))
    return f"{shares.pool_share:.1%} ({shares.pool_crossings}x,{tier or 's'})"


def _fmt(estimate) -> str:
    """kHz [68% interval] (effective number of passing events)."""
    return f"{estimate.value / 1e3:.3g} [{estimate.low / 1e3:.3g}, {estimate.high / 1e3:.3g}] ({estimate.effective:.0f})"


if __name__ == "__main__":
    main()
