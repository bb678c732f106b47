"""`codesign sweep`: the grid's points on Dask, results streamed to a table, resumable, with a Pareto front.

The output folder (codesign's, with its marker) holds `sweep.json` (grid, settings, card hash, points),
`results.csv` (one row per finished point, appended as points finish and sorted by point at the end; a failed
point is a row with status `failed` and its error), `points/<key>/` (each trained point's card, weights and
metrics, for `promote`), and `pareto.csv` / `pareto.png` (`codesign.sweep.pareto`).  A rerun into the same
folder skips the points whose key already has an `ok` row (keys: `codesign.sweep.grid`) and retries failed ones.
The committed model (when it has weights) is evaluated on the same samples as the row `committed`.

Dask: a `LocalCluster` with one single-threaded worker process per core, TensorFlow and BLAS pinned to one
thread each; or any running cluster through its scheduler address (workers need codesign installed; they
receive the samples from the client and return the point's files, so no shared file system is needed).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from codesign.atomic import MARKER, atomic_path, check_output
from codesign.errors import CodesignError, one_line
from codesign.metrics.report import Sample
from codesign.sweep.grid import Grid, apply, card_hash, load_grid, point_key
from codesign.sweep.point import ESTIMATE_COLUMNS, SweepData, Task, physics_columns, run_point
from codesign.train.axol1tl import Samples
from codesign.zoo.card import ENCODER_FILE, Card, load_card

SWEEP_FILE, RESULTS_FILE, POINTS_DIR = "sweep.json", "results.csv", "points"
GRID_FILE = "sweep.yaml"  # a model's default grid, beside its card
#: Worker environment of the LocalCluster: one thread for TensorFlow, BLAS and OpenMP per single-threaded worker.
PINNED_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
TIME_COLUMNS = ("seconds_train", "seconds_estimate", "seconds")
CONNECT_TIMEOUT_S = 10
NANNY_CLOSE_S = 60
WORKER_WAIT_S = 600


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


def sweep(model: str | Path, output: Path, grid: Path | None = None, scheduler: str | None = None,
          workers: int | None = None, data: SweepData | None = None, jobs: int = 2,
          progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the sweep of `model` over `grid` (default: the model's `sweep.yaml`) into `output`.

    `data`: the samples (default: the card's, generated or from the cache, cut to the grid's `events`).
    Returns the summary: table and front paths, point counts, the front's rows."""
    from codesign.sweep.pareto import write_front

    card = load_card(model)
    spec = load_grid(grid or _default_grid(card))
    tasks = _tasks(card, spec)  # a grid entry the card does not have fails here, before any work
    header = _header(card, spec)
    numeric = header[header.index(ESTIMATE_COLUMNS[0]):header.index(TIME_COLUMNS[0])]
    if spec.objective not in numeric:
        raise CodesignError(f"sweep file {spec.source}: objective {spec.objective!r} is not a column of the table; "
                            f"choose one of {', '.join(c for c in numeric if c.startswith(('auc_', 'eff_')))}")
    output = check_output(Path(output), folder=True, inputs=(card.folder,))
    keys = {t.key for t in tasks}
    done = {row["key"] for row in read_table(output / RESULTS_FILE) if row["status"] == "ok" and row["key"] in keys}
    todo = [t for t in tasks if t.key not in done]
    with dask_client(scheduler, workers) if todo else contextlib.nullcontext() as client:
        _open_folder(output, card, spec, tasks)  # after the scheduler answered: nothing is written before
        _rewrite(output / RESULTS_FILE, header, keys)  # before appending: a torn last line goes
        if todo:
            data = data if data is not None else load_data(card, spec, jobs, progress)
            if list(data.samples.signals) != card.data["training"]["signals"]:
                raise CodesignError(f"the samples' signals {list(data.samples.signals)} differ from the card's "
                                    f"training.signals {card.data['training']['signals']}")
            _run(client, todo, data, output, header, progress)
    rows = _rewrite(output / RESULTS_FILE, header, keys)
    summary = write_front(rows, output, spec.objective, spec.part)
    return {"folder": str(output), "points": sum(r["point"] != "committed" for r in rows),
            "failed": sum(r["status"] == "failed" for r in rows), "reused": len(done), "ran": len(todo), **summary}


def _default_grid(card: Card) -> Path:
    path = card.folder / GRID_FILE
    if not path.is_file():
        raise CodesignError(f"model {card.name} has no default grid ({path}); give --grid SWEEP.yaml")
    return path


def _tasks(card: Card, spec: Grid) -> list[Task]:
    """The committed model (when it has weights) and every grid point, as worker tasks."""
    tasks = []
    if card.encoder_path.is_file():
        encoder = card.encoder_path.read_bytes()
        key = point_key(card, {"committed": hashlib.sha256(encoder).hexdigest()}, spec.settings())
        tasks.append(Task("committed", key, {}, card.data, spec.part, spec.clock_mhz, encoder))
    for point in spec.points(card):
        data = apply(card.data, point.params, f"sweep file {spec.source}")
        if spec.epochs is not None:
            data["training"]["epochs"] = spec.epochs
        tasks.append(Task(str(point.index), point.key, point.params, data, spec.part, spec.clock_mhz))
    return tasks


def _open_folder(output: Path, card: Card, spec: Grid, tasks: list[Task]) -> None:
    """The sweep folder (checked): a new one (with codesign's marker), or the same model's earlier sweep to resume."""
    described = output / SWEEP_FILE
    if output.is_dir():
        try:
            earlier = json.loads(described.read_text())["model"]
        except (OSError, ValueError, KeyError, TypeError):
            raise CodesignError(f"output folder {output} holds another codesign output, not a sweep; "
                                "choose a new folder name") from None
        if earlier != card.name:
            raise CodesignError(f"output folder {output} holds a sweep of {earlier}, not {card.name}; "
                                "choose a new folder name")
    else:
        output.mkdir(parents=True)
        (output / MARKER).write_text("written by codesign; a later codesign run may replace this folder\n")
    description = {"model": card.name, "card": str(card.folder), "card_sha256": card_hash(card),
                   "grid": spec.source, "settings": spec.settings(), "objective": spec.objective,
                   "parameters": spec.parameters,
                   "points": [{"point": t.point, "key": t.key} for t in tasks]}
    with atomic_path(described) as tmp:
        tmp.write_text(json.dumps(description, indent=1, sort_keys=True))


def load_data(card: Card, spec: Grid, jobs: int = 2, progress: bool = True) -> SweepData:
    """The card's samples (generated or from the cache), each cut to at most the grid's `events`."""
    from codesign.train.axol1tl import load_samples

    samples, raws = load_samples(card, jobs=jobs, progress=progress)
    rng = np.random.default_rng(card.data["training"]["seed"])
    cut = {}
    for sample in (samples.background, samples.reference, *samples.signals.values()):
        kind = sample.name if sample.name in ("background", "reference") else "signal"
        cut[sample.name] = subsample(sample, raws[sample.name], spec.events.get(kind), rng)
    signals = {name: cut[name][0] for name in samples.signals}
    return SweepData(Samples(cut["background"][0], cut["reference"][0], signals),
                     {name: raw for name, (_, raw) in cut.items()})


def subsample(sample: Sample, raw: np.ndarray, events: int | None,
              rng: np.random.Generator) -> tuple[Sample, np.ndarray]:
    """A random `events` of the sample (all when None or more), weights rescaled to the same total."""
    n = len(sample.weights)
    if events is None or events >= n:
        return sample, raw
    rows = np.sort(rng.choice(n, events, replace=False))
    weights = sample.weights[rows] * (sample.weights.sum() / sample.weights[rows].sum())
    return Sample(sample.name, sample.path, sample.events.take(rows), weights), raw[rows]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client: of the cluster at `scheduler`, else of a new LocalCluster (`workers` single-threaded
    processes, default one per core, threads pinned), closed on exit."""
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as err:
            raise CodesignError(f"cannot reach the Dask scheduler at {scheduler} ({one_line(err)}); start it "
                                "(`dask scheduler`) or leave out --scheduler for a local cluster") from None
        with client:
            yield client
        return
    # dashboard_address ":0": the scheduler's HTTP server on a free port (8787 may belong to another cluster)
    with LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, worker_class=_nanny_class(),
                      dashboard_address=":0", silence_logs=logging.ERROR, env=PINNED_ENV) as cluster, \
            Client(cluster) as client:
        yield client


def _nanny_class() -> type:
    """distributed's Nanny, with a minute instead of 5 s to see its worker process exit when the cluster closes:
    on a loaded machine a TensorFlow worker takes longer to stop and be reaped, and the 5 s raise TimeoutError
    out of the cluster's close (the scheduler left open)."""
    from distributed import Nanny

    class PatientNanny(Nanny):
        async def close(self, timeout: float = NANNY_CLOSE_S, reason: str = "nanny-close"):
            return await super().close(timeout=timeout, reason=reason)

    return PatientNanny


def _run(client, tasks: list[Task], data: SweepData, output: Path, header: list[str], progress: bool) -> None:
    """Submit every task; write each finished point's row (and files) as it arrives."""
    from distributed import as_completed
    from tqdm import tqdm

    try:  # a running cluster's workers may still be starting (batch jobs): scatter needs one
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError:
        raise CodesignError(f"no Dask worker joined the scheduler within {WORKER_WAIT_S} s; start workers "
                            "(`dask worker ADDRESS`) or leave out --scheduler for a local cluster") from None
    shared = client.scatter(data, broadcast=True)
    futures = {client.submit(run_point, task, shared, key=f"point-{task.point}-{task.key}", pure=False): task
               for task in tasks}
    with (output / RESULTS_FILE).open("a", newline="") as stream, tqdm(total=len(tasks), desc="sweep", unit="point",
                                                        disable=not progress) as bar:
        writer = csv.DictWriter(stream, header, extrasaction="raise")
        for future in as_completed(futures):
            task = futures[future]
            row = {"point": task.point, "key": task.key,
                   **{name: json.dumps(value, sort_keys=True) for name, value in task.params.items()}}
            try:
                result = future.result()
                _write_point(output, task, result["files"])
                row.update(status="ok", **result["figures"])
            except Exception as err:  # a failing point (or a lost worker) is a row; the sweep goes on
                row.update(status="failed", error=one_line(err))
                bar.write(f"point {task.point} failed: {one_line(err)}")
            writer.writerow(row)
            stream.flush()
            bar.update()


def _write_point(output: Path, task: Task, files: dict[str, bytes]) -> None:
    if not files:
        return
    with atomic_path(output / POINTS_DIR / task.key, folder=True) as tmp:
        tmp.mkdir()
        for name, content in files.items():
            (tmp / name).write_bytes(content)


def _header(card: Card, spec: Grid) -> list[str]:
    """The table's columns: point, key, status, the grid's parameters, the figures, times, the error."""
    working_points = list(card.data["working_points"]["rate_khz"])
    return ["point", "key", "status", *spec.parameters, *ESTIMATE_COLUMNS,
            *physics_columns(card.data["training"]["signals"], working_points), *TIME_COLUMNS, "error"]


def read_table(results: Path) -> list[dict[str, str]]:
    """The complete rows of a results table, one per point (the last one wins), committed model first, then by
    point; a torn last line (a killed run) is left out."""
    rows: dict[str, dict[str, str]] = {}
    if results.is_file():
        with results.open(newline="") as stream:
            for row in csv.DictReader(stream):
                if None not in row and None not in row.values() and row.get("point"):
                    rows[row["point"]] = row
    return sorted(rows.values(), key=lambda r: -1 if r["point"] == "committed" else int(r["point"]))


def _rewrite(results: Path, header: list[str], keys: set[str]) -> list[dict[str, str]]:
    """The table's rows of this sweep's points (`keys`), sorted (`read_table`), written atomically with `header`."""
    ordered = [row for row in read_table(results) if row["key"] in keys]
    with atomic_path(results) as tmp, tmp.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, header, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(ordered)
    return ordered


def promote(output: Path, point: str, target: Path) -> Path:
    """Write sweep point `point` (its index in the table) of the sweep in `output` as a new model folder
    `target` (card named after the folder, weights, metrics with the sweep it came from); `codesign synth`
    takes the folder."""
    output, target = Path(output), Path(target)
    check_output(target, folder=True, inputs=(output,))
    rows = read_table(output / RESULTS_FILE)
    row = next((r for r in rows if r["point"] == str(point)), None)
    if row is None or row["status"] != "ok" or row["point"] == "committed":
        have = ", ".join(r["point"] for r in rows if r["status"] == "ok" and r["point"] != "committed") or "none"
        raise CodesignError(f"sweep {output} has no finished point {point}; finished points: {have}")
    source = output / POINTS_DIR / row["key"]
    card = load_card(source)
    card.data["name"] = target.name
    metrics = json.loads((source / "metrics.json").read_text())
    metrics["sweep"] = {"folder": str(output.resolve()), "point": row["point"], "key": row["key"],
                        "parameters": {k: row[k] for k in json.loads((output / SWEEP_FILE).read_text())["parameters"]}}
    with atomic_path(target, folder=True) as tmp:
        tmp.mkdir()
        (tmp / ENCODER_FILE).write_bytes((source / ENCODER_FILE).read_bytes())
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))
        Card(tmp, card.data).save()
    return target
