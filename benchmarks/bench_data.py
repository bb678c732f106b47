"""Event-generation speed: events/s per process and stage, per view, and the whole `generate`.

    python benchmarks/bench_data.py [--events 1000] [--pileup 60] [--processes qcd,suep] [--pool-events 20000]
                                    [--zerobias-events 1000000]

Single-core figures per stage: Pythia (the primary interaction), the Level-1 simulation of whole
crossings with pileup from the pool (overlay + detector, no PF), the same with PF candidates, and
a soft zero-bias crossing (every interaction from the pool); then the views.  Last, zero bias as
`codesign data generate --process zerobias --no-pf` makes it, per core: one chunk of every component
of the plan (soft crossings and each p̂T slice, Pythia included) simulated in this process and written
with its views, weighted by the component's events in a `--zerobias-events` sample.  CPU time of this
process is used, so a busy machine does not bias the per-core figures.  Uses a private cache folder;
nothing is kept.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--pileup", type=float, default=60.0)
    parser.add_argument("--pool-events", type=int, default=20_000)
    parser.add_argument("--processes", default=None, help="comma-separated (default: all but zerobias)")
    parser.add_argument("--zerobias-events", type=int, default=1_000_000, help="sample whose plan weighs the components")
    args = parser.parse_args()
    os.environ.setdefault("CODESIGN_CACHE", tempfile.mkdtemp(prefix="codesign-bench-"))

    from codesign.cache import cache_dir
    from codesign.data import PROCESSES, detector, views
    from codesign.data.generate import GenerationRequest
    from codesign.data.generator import PythiaGenerator, mpi_init_file
    from codesign.data.particles import Particles
    from codesign.data.pileup import PileupOverlay, load_pool, pool_file

    t0 = time.process_time()
    names = args.processes.split(",") if args.processes else [n for n, p in PROCESSES.items() if not p.zero_bias]
    init_dir = cache_dir("pythia")
    pool_path = pool_file(1, args.pool_events, 2, progress=True)
    pool = load_pool(pool_path)
    print(f"pileup pool of {len(pool_path)} x {args.pool_events} interactions loaded in {time.process_time() - t0:.1f} s of CPU "
          "(once per worker process)")
    rng = np.random.default_rng(1)
    clock = time.process_time

    def crossings(particles: Particles | None, with_pf: bool) -> tuple[float, object]:
        """CPU seconds for overlay + detector over 100-crossing batches, and the last batch's events."""
        n, spent, events = args.events, 0.0, None
        overlay = PileupOverlay(pool, args.pileup, rng)
        for start in range(0, n, 100):
            size = min(100, n - start)
            t0 = clock()
            if particles is None:
                drawn = overlay.draw(size, primary_from_pool=True, with_particles=with_pf)
                events = detector.simulate_inputs(drawn.deposits, drawn.muons, drawn.particles, drawn.n_pileup, rng)
            else:
                batch = particles.slice_events(start, start + size)
                drawn = overlay.draw(size, with_particles=with_pf)
                deposits = detector.concatenate([detector.Deposits.of(batch), drawn.deposits])
                muons = detector.concatenate([detector.MuonSources.of(batch), drawn.muons])
                pf = Particles.merge(batch, drawn.particles) if with_pf else None
                events = detector.simulate_inputs(deposits, muons, pf, drawn.n_pileup, rng)
            spent += clock() - t0
        return spent, events

    n = args.events
    print(f"\nsingle core, {n} events, pileup mu = {args.pileup:g}: events/s per stage (CPU time)")
    print(f"{'process':15s} {'pythia':>8s} {'L1 sim':>8s} {'L1 + PF':>8s} {'total L1':>9s}")
    t_l1, events = crossings(None, with_pf=False)
    print(f"{'soft zero bias':15s} {'-':>8s} {n / t_l1:8.0f} {n / crossings(None, True)[0]:8.0f} {n / t_l1:9.0f}")
    for name in names:
        process = PROCESSES[name]
        mpi_init_file(process, init_dir)
        generator = PythiaGenerator(process, 7, init_dir)
        t0 = clock()
        particles, *_ = generator.generate(n)
        t_gen = clock() - t0
        t_l1, _ = crossings(particles, with_pf=False)
        t_pf, _ = crossings(particles, with_pf=True)
        print(f"{name:15s} {n / t_gen:8.0f} {n / t_l1:8.0f} {n / t_pf:8.0f} {n / (t_gen + t_l1):9.0f}")

    print(f"\nviews on the last soft zero-bias batch ({events.n_events} events), events/s")
    for view in ("axol1tl", "gelato", "cicada"):
        t0 = clock()
        for _ in range(20):
            views.VIEWS[view](events)
        print(f"  {view:8s} {20 * events.n_events / (clock() - t0):12.0f}")

    request = GenerationRequest("zerobias", args.zerobias_events, pileup=args.pileup, pool_events=args.pool_events,
                                pf=False)
    zero_bias_per_core(request, pool_path, init_dir)


def zero_bias_per_core(request, pool_path: tuple[Path, ...], init_dir: Path) -> None:
    """CPU seconds per event of each component of the zero-bias plan (its first chunk: generation, views
    and writing), and the events/s per core of the whole sample they make."""
    from codesign.data import rootio
    from codesign.data.generate import _simulate_chunk, plan_chunks

    firsts: dict[str, object] = {}
    counts: dict[str, int] = {}
    for chunk in plan_chunks(request):
        name = chunk.process.name if chunk.process else "soft"
        firsts.setdefault(name, chunk)
        counts[name] = counts.get(name, 0) + chunk.events
    print(f"\nzero bias + views per core (mu = {request.pileup:g}, no PF; components of a {request.events}-event sample)")
    print(f"{'component':22s} {'events':>8s} {'share':>7s} {'events/s':>9s}")
    total_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp, rootio.TreeWriter(Path(tmp) / "zb.root", {}) as writer:
        for name, chunk in firsts.items():
            t0 = time.process_time()
            writer.write(_simulate_chunk(chunk, pool_path, init_dir))
            per_event = (time.process_time() - t0) / chunk.events
            total_cpu += per_event * counts[name]
            print(f"{name:22s} {counts[name]:8d} {counts[name] / request.events:7.1%} {1 / per_event:9.0f}")
    print(f"zerobias + views: {request.events / total_cpu:.0f} events/s per core "
          f"({request.events} events in {total_cpu / 60:.1f} CPU minutes)")

if __name__ == "__main__":
    main()
