"""Pythia 8 event generation (`pythia8mc`) into :class:`~codesign.data.particles.Particles`.

`Pythia.nextBatch` hands back whole batches of events as awkward arrays at C++ speed; everything
after it is columnar numpy.  A generator is fully determined by (process, seed): the multiparton-
interaction initialisation, which costs ~6 s for minimum bias, is computed once per machine with a
fixed seed and then re-read (`MultipartonInteractions:reuseInit`), so it never changes the events.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import awkward as ak
import numpy as np

from codesign.data.particles import INVISIBLE_PDG, Particles
from codesign.data.processes import BEAM_ENERGY_CM_GEV, Process
from codesign.data.suep import thermal_shower

#: Particles softer than this are dropped at generation: they never reach a trigger object, and
#: zero-energy inputs slow jet clustering by an order of magnitude.
MIN_PARTICLE_PT_GEV = 0.1

_COMMON_SETTINGS = (
    f"Beams:eCM = {BEAM_ENERGY_CM_GEV}",
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
)
_SUEP_SCALAR_PDG = 25


class Generated(NamedTuple):
    """A batch of generated events."""

    particles: Particles
    pthat: np.ndarray  # Pythia's p̂T of each event's process (GeV)
    weights: np.ndarray  # Pythia's event weights (1 unless the process biases its phase space)
    scatter_pt: np.ndarray  # the p̂T of each event's hardest parton scatter (GeV), see `hardest_scatter`


class PythiaGenerator:
    """Generate final-state particles of one process from one seed."""

    def __init__(self, process: Process, seed: int, init_dir: Path) -> None:
        import pythia8mc  # heavy C++ module: import only when generating

        self.process = process
        self._rng = np.random.default_rng([seed, 0x5E7])
        init_file = mpi_init_file(process, init_dir)
        self._pythia = pythia8mc.Pythia("", False)
        settings = (
            *_COMMON_SETTINGS,
            *process.settings,
            "Random:setSeed = on",
            f"Random:seed = {seed % 900_000_000}",
            "MultipartonInteractions:reuseInit = 2",
            f"MultipartonInteractions:initFile = {init_file}",
        )
        for line in settings:
            if not self._pythia.readString(line):
                raise RuntimeError(f"Pythia rejected the setting {line!r} of process {process.name}")
        if not self._pythia.init():
            raise RuntimeError(f"Pythia failed to initialise process {process.name}")
        self._charges: dict[int, int] = {}

    def generate(self, n_events: int) -> Generated:
        """The visible final-state particles (pT > 0.1 GeV) of `n_events` new events with their p̂T,
        weights and hardest scatter."""
        batches: list[Particles] = []
        pthat: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        scatter: list[np.ndarray] = []
        missing = n_events
        while missing > 0:  # nextBatch skips the rare events Pythia fails to make
            events = self._pythia.nextBatch(missing)
            batch = self._to_particles(events.prt)
            batches.append(batch)
            pthat.append(np.sqrt(np.maximum(ak.to_numpy(events.info.pT2Hat), 0.0)))
            weights.append(ak.to_numpy(events.info.weights[:, 0]).astype(np.float64))
            scatter.append(hardest_scatter(events.prt, pthat[-1]))
            missing -= batch.n_events
        return Generated(Particles.concatenate(batches), np.concatenate(pthat), np.concatenate(weights),
                         np.concatenate(scatter))

    def _to_particles(self, prt: ak.Array) -> Particles:
        final = prt[prt.status > 0]
        if self.process.suep:
            final = self._with_suep_shower(final)
        counts = ak.to_numpy(ak.num(final)).astype(np.int64)
        flat = ak.flatten(final)
        px, py, pz = (ak.to_numpy(flat.p[c]) for c in ("px", "py", "pz"))
        pt = np.hypot(px, py)
        safe_pt = np.maximum(pt, 1e-9)
        vertex = ak.fill_none(flat.vProd, {"px": 0.0, "py": 0.0, "pz": 0.0, "e": 0.0})
        vx, vy = ak.to_numpy(vertex.px), ak.to_numpy(vertex.py)  # mm
        pid = ak.to_numpy(flat.id).astype(np.int32)
        everything = Particles(
            counts=counts,
            pt=pt,
            eta=np.arcsinh(pz / safe_pt),
            phi=np.arctan2(py, px),
            mass=ak.to_numpy(flat.m),
            pid=pid,
            charge=self._charge(pid),
            dxy=(vx * py - vy * px) / safe_pt / 10.0,
            is_pileup=np.zeros(len(pt), dtype=bool),
        )
        visible = ~np.isin(np.abs(pid), INVISIBLE_PDG) & (pt > MIN_PARTICLE_PT_GEV)
        return everything.select(visible)

    def _with_suep_shower(self, final: ak.Array) -> ak.Array:
        """Replace the undecayed scalar of every event by its dark-meson shower's daughters."""
        is_scalar = final.id == _SUEP_SCALAR_PDG
        scalar = ak.firsts(final[is_scalar].p)
        parent = np.stack([ak.to_numpy(scalar[c]) for c in ("px", "py", "pz", "e")], axis=1)
        counts, p4, pid = thermal_shower(parent, self._rng, **self.process.suep)
        rest = final[~is_scalar]
        n = len(pid)
        shower = ak.unflatten(
            ak.zip(
                {
                    "id": pid,
                    "status": np.ones(n, np.int32),
                    "p": ak.zip({"px": p4[:, 0], "py": p4[:, 1], "pz": p4[:, 2], "e": p4[:, 3]}),
                    "m": np.sqrt(np.maximum(p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(axis=1), 0.0)),
                    "vProd": ak.zip({"px": np.zeros(n), "py": np.zeros(n), "pz": np.zeros(n), "e": np.zeros(n)}),
                }
            ),
            counts,
        )
        keep = rest[["id", "status", "p", "m", "vProd"]]
        return ak.concatenate([keep, shower], axis=1)

    def _charge(self, pid: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(pid, return_inverse=True)
        for code in unique.tolist():
            if code not in self._charges:
                self._charges[code] = int(round(self._pythia.particleData.charge(code)))
        return np.array([self._charges[c] for c in unique.tolist()], dtype=np.int8)[inverse]


def hardest_scatter(prt: ak.Array, pthat: np.ndarray) -> np.ndarray:
    """Per event, the p̂T of its hardest parton scatter: Pythia's p̂T, except in diffractive events (a
    diffractive system, status 15, in the record), where it is the largest transverse momentum of an
    outgoing parton of any scatter (status 23 or 33) if that is larger.

    Pythia's p̂T is the p̂T of the event's process: for hard QCD the hard scatter and for non-diffractive
    soft QCD its hardest multiparton interaction (both harder than anything else in the event), but for a
    diffractive event the diffractive scattering itself (a few hundred MeV), while the diffractive system,
    a Pomeron-proton collision of up to TeV mass, has multiparton interactions and showers of its own,
    up to tens of GeV."""
    status = np.abs(prt.status)
    diffractive = ak.to_numpy(ak.any(status == 15, axis=1))
    outgoing = prt[(status == 23) | (status == 33)]
    pt = ak.to_numpy(ak.fill_none(ak.max(np.hypot(outgoing.p.px, outgoing.p.py), axis=1), 0.0)).astype(np.float64)
    return np.where(diffractive, np.maximum(pt, pthat), pthat)


def mpi_init_file(process: Process, init_dir: Path) -> Path:
    """The multiparton-interaction initialisation of `process`, created once with a fixed seed."""
    key = hashlib.sha256("\n".join((*_COMMON_SETTINGS, *process.settings)).encode()).hexdigest()[:16]
    path = init_dir / f"mpi-{process.name}-{key}.init"
    if path.exists():
        return path
    import pythia8mc

    init_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    pythia = pythia8mc.Pythia("", False)
    for line in (
        *_COMMON_SETTINGS,
        *process.settings,
        "Random:setSeed = on",
        "Random:seed = 1",
        "MultipartonInteractions:reuseInit = 1",
        f"MultipartonInteractions:initFile = {tmp}",
    ):
        pythia.readString(line)
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise process {process.name}")
    os.replace(tmp, path)
    return path
