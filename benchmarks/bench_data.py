"""Event-generation speed: events/s per process (generation, pileup, detector) and per view.

    python benchmarks/bench_data.py [--events 1000] [--pileup 60] [--processes qcd,suep]

Single core figures per stage, then the full `generate` on all cores for one process, so the
parallel scaling can be read off.  Uses a private cache folder; nothing is kept.
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
    parser.add_argument("--processes", default=None, help="comma-separated (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("CODESIGN_CACHE", tempfile.mkdtemp(prefix="codesign-bench-"))

    from codesign.cache import cache_dir
    from codesign.data import PROCESSES, detector, views
    from codesign.data.generate import GenerationRequest, load_pool, pileup_pool, generate
    from codesign.data.generator import PythiaGenerator, mpi_init_file
    from codesign.data.pileup import PileupOverlay

    names = args.processes.split(",") if args.processes else list(PROCESSES)
    init_dir = cache_dir("pythia")
    pool = load_pool(pileup_pool(1, 5000, 2, progress=True))
    rng = np.random.default_rng(1)
    print(f"\nsingle core, {args.events} events; events/s per stage (pileup mu = {args.pileup:g})")
    print(f"{'process':15s} {'init s':>7s} {'pythia':>8s} {'overlay':>8s} {'detector':>9s} {'total mu=0':>11s} {'total':>8s}")
    for name in names:
        process = PROCESSES[name]
        mpi_init_file(process, init_dir)
        t0 = time.perf_counter()
        generator = PythiaGenerator(process, 7, init_dir)
        t_init = time.perf_counter() - t0
        t0 = time.perf_counter()
        particles = generator.generate(args.events)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        detector.simulate(particles, np.zeros(args.events, np.int64), rng)
        t_det0 = time.perf_counter() - t0
        overlay = PileupOverlay(pool, args.pileup, rng)
        t_ovl = t_det = 0.0
        for start in range(0, args.events, 100):  # as the generator does: bounded memory
            batch = particles.slice_events(start, start + 100)
            t0 = time.perf_counter()
            piled, n_pu = overlay(batch)
            t_ovl += time.perf_counter() - t0
            t0 = time.perf_counter()
            events = detector.simulate(piled, n_pu, rng)
            t_det += time.perf_counter() - t0
        n = args.events
        print(
            f"{name:15s} {t_init:7.2f} {n / t_gen:8.0f} {n / t_ovl:8.0f} {n / t_det:9.0f}"
            f" {n / (t_gen + t_det0):11.0f} {n / (t_gen + t_ovl + t_det):8.0f}"
        )

    print(f"\nviews on the last sample ({events.n_events} events with pileup), events/s")
    for view in ("axol1tl", "gelato", "cicada"):
        t0 = time.perf_counter()
        for _ in range(20):
            views.VIEWS[view](events)
        print(f"  {view:8s} {20 * events.n_events / (time.perf_counter() - t0):12.0f}")
    t0 = time.perf_counter()
    views.suep_images(events.pf)
    print(f"  {'suep':8s} {events.n_events / (time.perf_counter() - t0):12.0f}")

    name = names[0]
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            request = GenerationRequest(name, args.events * 2, pileup=args.pileup, seed=100 + jobs)
            t0 = time.perf_counter()
            generate(request, Path(tmp) / "out.root", jobs=jobs, use_cache=False, progress=False)
            rate = request.events / (time.perf_counter() - t0)
            print(f"\ncodesign data generate {name} ({request.events} events, mu={args.pileup:g}, --jobs {jobs}): {rate:.0f} events/s")


if __name__ == "__main__":
    main()
