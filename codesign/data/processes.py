"""The catalogue of physics processes that `codesign data generate` can produce.

Settings follow `shared/reference/data.md` (13.6 TeV, Run 3).  Every process is a list of Pythia 8
`readString` commands; SUEP additionally replaces the undecayed scalar by a thermal dark-meson shower
(`codesign.data.suep`), because Pythia has no SUEP model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codesign.errors import CodesignError

BEAM_ENERGY_CM_GEV = 13600.0


@dataclass(frozen=True)
class Process:
    """One generator configuration."""

    name: str
    description: str
    settings: tuple[str, ...]
    is_signal: bool = True
    #: SUEP only: parameters of the dark-meson shower that replaces the scalar (PDG 25).
    suep: dict[str, float] = field(default_factory=dict)
    #: Zero bias: whole bunch crossings stitched from the pileup pool and weighted p̂T-sliced QCD
    #: (`codesign.data.zerobias`); `settings` are then those of the pool's soft tier.
    zero_bias: bool = False
    #: Pythia biases the phase space (`PhaseSpace:bias2Selection`): events carry Pythia's weights.
    biased: bool = False
    #: Weighted p̂T slices: (p̂T min, p̂T max, cross section in mb) of HardQCD:all; each event's weight is its
    #: slice's share of the summed cross section divided by the slice's events (`settings` unused then).
    slices: tuple[tuple[float, float, float], ...] = ()


MINBIAS_SETTINGS = ("SoftQCD:inelastic = on",)
_LEPTONS = "11 13 15"
_HV_DARK_SECTOR = (
    "HiddenValley:Ngauge = 3",
    "HiddenValley:fragment = on",
    "HiddenValley:FSR = on",
    "HiddenValley:alphaOrder = 1",
    "HiddenValley:Lambda = 5.",
    "HiddenValley:pTminFSR = 5.5",
    "HiddenValley:spinFv = 0",
    "4900101:m0 = 2.5",
    "4900111:m0 = 5.",
    "4900113:m0 = 5.",
    "4900211:m0 = 4.99",
    "4900213:m0 = 4.99",
)
#: The ICHEP 2022 SUEP study (issue 16): dark meson 2 GeV, T = 2 GeV, A'(0.7 GeV) -> ee 15%, mumu 15%, pipi 70%.
SUEP_ICHEP = {"meson_mass": 2.0, "temperature": 2.0, "dark_photon_mass": 0.7, "electron_fraction": 0.15,
              "lepton_fraction": 0.15}
SUEP_MASSES = (125, 400, 700, 1000)
#: HardQCD:all p̂T slices above 120 GeV at 13.6 TeV (Pythia 8.317 `sigmaGen`, the zero-bias table in
#: `codesign.data.zerobias`): the QCD that reaches HT > 500 GeV.
QCD_HT_SLICES = ((120.0, 170.0, 5.1126e-04), (170.0, 250.0, 1.1615e-04), (250.0, 400.0, 2.1086e-05),
                 (400.0, 6800.0, 2.0433e-06 + 2.6461e-07))


def _suep(mass: int) -> Process:
    return Process(
        f"suep{mass}",
        f"SUEP (ICHEP 2022): gg -> S({mass}), S -> thermal shower of 2 GeV dark mesons (T = 2 GeV) -> A'A',"
        " A'(0.7 GeV) -> ee 15%, mumu 15%, pi pi 70%",
        ("HiggsSM:gg2H = on", f"25:m0 = {mass}.", "25:mWidth = 0.01", "25:doForceWidth = on", "25:mayDecay = off"),
        suep=SUEP_ICHEP,
    )


_Z_PRIME = ("NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "32:onMode = off")

PROCESSES: dict[str, Process] = {
    p.name: p
    for p in (
        Process(
            "zerobias",
            "Zero bias: bunch crossings of 1 + Poisson(mu) inelastic interactions, soft ones from a capped pool and"
            " the hard tail from cross-section-weighted pT-hat-sliced QCD (events carry weights)",
            MINBIAS_SETTINGS,
            is_signal=False,
            zero_bias=True,
        ),
        Process(
            "minbias",
            "Minimum bias: one fresh inelastic interaction plus pileup (unweighted; use zerobias for rates)",
            MINBIAS_SETTINGS,
            is_signal=False,
        ),
        Process(
            "qcd",
            "QCD dijets, pT-hat > 25 GeV",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 25."),
            is_signal=False,
        ),
        Process(
            "zprime_ll",
            "Z'(1 TeV) -> ee / mumu",
            (*_Z_PRIME, "32:m0 = 1000.", "32:onIfAny = 11 13"),
        ),
        Process(
            "zprime_ee",
            "Z'(1 TeV) -> ee",
            (*_Z_PRIME, "32:m0 = 1000.", "32:onIfAny = 11"),
        ),
        Process(
            "zprime_mumu",
            "Z'(1 TeV) -> mumu",
            (*_Z_PRIME, "32:m0 = 1000.", "32:onIfAny = 13"),
        ),
        Process(
            "zprime_tautau",
            "Z'(500 GeV) -> tau tau",
            (*_Z_PRIME, "32:m0 = 500.", "32:onIfAny = 15"),
        ),
        Process(
            "h125_tautau",
            "SM Higgs H(125) -> tau tau (gluon fusion)",
            ("HiggsSM:gg2H = on", "25:onMode = off", "25:onIfAny = 15"),
        ),
        Process(
            "h60_tautau",
            "Light scalar A/H(60) -> tau tau (gluon fusion)",
            ("HiggsSM:gg2H = on", "25:m0 = 60.", "25:onMode = off", "25:onIfAny = 15"),
        ),
        Process(
            "wprime_taunu",
            "W'(1 TeV) -> tau nu",
            (
                "NewGaugeBoson:ffbar2Wprime = on",
                "34:m0 = 1000.",
                "34:onMode = off",
                "34:onIfAny = 15",
            ),
        ),
        Process(
            "lq80_btau",
            "Leptoquark pair LQ(80) LQ(80) -> b tau b tau",
            (
                "LeptoQuark:gg2LQLQbar = on",
                "LeptoQuark:qqbar2LQLQbar = on",
                "42:m0 = 80.",
                "42:oneChannel = 1 1.0 0 5 -15",
            ),
        ),
        Process(
            "hidden_valley",
            "Hidden-Valley dark shower: Z_v(1 TeV) -> dark quarks, dark mesons (5 GeV) decaying to"
            " mu mu (30%) or d dbar",
            (
                "HiddenValley:ffbar2Zv = on",
                "4900023:m0 = 1000.",
                "4900023:mWidth = 20.",
                "4900023:onMode = off",
                "4900023:onIfAny = 4900101",
                *_HV_DARK_SECTOR,
                "4900111:oneChannel = 1 0.3 91 13 -13",
                "4900111:addChannel = 1 0.7 91 1 -1",
                "4900113:oneChannel = 1 0.3 91 13 -13",
                "4900113:addChannel = 1 0.7 91 1 -1",
            ),
        ),
        Process(
            "suep",
            "SUEP: gg -> S(125), S -> isotropic thermal shower of dark mesons (m = 1 GeV, T = 1 GeV)"
            " -> pi+ pi-",
            ("HiggsSM:gg2H = on", "25:m0 = 125.", "25:mayDecay = off"),
            suep={"meson_mass": 1.0, "temperature": 1.0, "lepton_fraction": 0.0},
        ),
        # HLT anomaly detection (issue 15): the SM training mix and its evaluation signals
        Process(
            "dy_ll",
            "Drell-Yan Z/gamma* -> ee / mumu / tautau, m(ll) > 50 GeV",
            ("WeakSingleBoson:ffbar2gmZ = on", "PhaseSpace:mHatMin = 50.", "23:onMode = off", f"23:onIfAny = {_LEPTONS}"),
            is_signal=False,
        ),
        Process(
            "qcd_biased",
            "QCD 2 -> 2, pT-hat > 15 GeV, phase space biased by (pT-hat / 15 GeV)^4 so the whole range is populated;"
            " events carry Pythia's weights",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 15.", "PhaseSpace:bias2Selection = on",
             "PhaseSpace:bias2SelectionPow = 4.", "PhaseSpace:bias2SelectionRef = 15."),
            is_signal=False,
            biased=True,
        ),
        Process(
            "ttbar_semilep",
            "ttbar, semileptonic: W+ -> l nu (e, mu, tau), W- -> quarks",
            ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", f"24:onPosIfAny = {_LEPTONS}",
             "24:onNegIfAny = 1 2 3 4 5"),
            is_signal=False,
        ),
        Process(
            "wjets_lnu",
            "W + jet, W -> l nu (e, mu, tau), pT-hat > 20 GeV",
            ("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", "PhaseSpace:pTHatMin = 20.",
             "24:onMode = off", f"24:onIfAny = {_LEPTONS}"),
            is_signal=False,
        ),
        Process(
            "vbf_h_tautau",
            "VBF Higgs H(125) -> tau tau (WW and ZZ fusion)",
            ("HiggsSM:ff2Hff(t:WW) = on", "HiggsSM:ff2Hff(t:ZZ) = on", "25:onMode = off", "25:onIfAny = 15"),
        ),
        Process(
            "emerging_jets",
            "Emerging jets: Z_v(1 TeV) -> dark quarks, dark QCD shower, dark pions (5 GeV) decaying to d dbar"
            " after c tau0 = 25 mm (displaced tracks)",
            (
                "HiddenValley:ffbar2Zv = on",
                "4900023:m0 = 1000.",
                "4900023:mWidth = 20.",
                "4900023:onMode = off",
                "4900023:onIfAny = 4900101",
                *_HV_DARK_SECTOR,
                "4900111:tau0 = 25.",
                "4900113:tau0 = 25.",
                "4900111:oneChannel = 1 1.0 91 1 -1",
                "4900113:oneChannel = 1 1.0 91 1 -1",
            ),
        ),
        *(_suep(mass) for mass in SUEP_MASSES),
        Process(
            "qcd_ht",
            "QCD 2->2 with pT-hat > 120 GeV in four pT-hat slices weighted by cross section (events carry"
            " weights): the background that reaches HT > 500 GeV",
            ("HardQCD:all = on", "PhaseSpace:pTHatMin = 120."),
            is_signal=False,
            slices=QCD_HT_SLICES,
        ),
    )
}


def get_process(name: str) -> Process:
    """Return the process called `name`; an unknown name is an error listing the known ones."""
    try:
        return PROCESSES[name]
    except KeyError:
        known = ", ".join(PROCESSES)
        raise CodesignError(f"unknown process {name!r}; choose one of: {known}") from None
