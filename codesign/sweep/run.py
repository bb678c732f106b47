"""`codesign sweep`: the grid's points (or a keras-tuner search's) on Dask, results streamed to a table, resumable,
with a Pareto front.

The output folder (codesign's, with its marker) holds `sweep.json` (grid, settings, card hash, points, a search's
trials in order), `results.csv` (one row per finished point, appended as points finish and sorted by point at
the end; a failed point is a row with status `failed` and its error) and its typed twin `results.parquet`
(`codesign.sweep.table`), `points/<key>/` (each trained point's card, weights and metrics, for `promote`), and
`pareto.csv` / `pareto.png` (`codesign.sweep.pareto`).  A rerun into the same folder skips the points whose key
already has an `ok` row (keys: `codesign.sweep.grid`) and retries failed ones; a search replays its oracle and
answers the points the table holds from their rows (`codesign.sweep.search`).  The committed model (when it
has weights) is evaluated on the same samples as the row `committed`.

Dask: a `LocalCluster` with one single-threaded worker process per core, TensorFlow and BLAS pinned to one
thread each; or any running cluster through its scheduler address (workers need codesign installed; they
receive the samples from the client and return the point's files, so no shared file system is needed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from codesign.atomic import MARKER, atomic_path, check_output
from codesign.errors import CodesignError, one_line
from codesign.metrics.report import Sample
from codesign.sweep.grid import Grid, Point, apply, card_hash, load_grid, point_key
from codesign.sweep.point import ESTIMATE_COLUMNS, SweepData, Task, physics_columns, run_point
from codesign.sweep.table import DIFF_COLUMN, appending, column_types, read_table, rewrite
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
    """Run (or resume) the sweep of `model` over `grid` (default: the model's `sweep.yaml`) into `output`:
    every grid point, or the points a keras-tuner search proposes (`search:` in the grid).

    `data`: the samples (default: the card's, generated or from the cache, cut to the grid's `events`).
    Returns the summary: table and front paths, point counts, the front's rows."""
    from codesign.sweep.pareto import write_front

    card = load_card(model)
    spec = load_grid(grid or _default_grid(card))
    header = _header(card, spec)
    figures = header[header.index(ESTIMATE_COLUMNS[0]):header.index("error")]
    numeric = figures[:figures.index(TIME_COLUMNS[0])]
    if spec.objective not in numeric:
        raise CodesignError(f"sweep file {spec.source}: objective {spec.objective!r} is not a column of the table; "
                            f"choose one of {', '.join(c for c in numeric if c.startswith(('auc_', 'eff_')))}")
    if spec.objective == DIFF_COLUMN and (spec.search or not card.encoder_path.is_file()):
        raise CodesignError(f"sweep file {spec.source}: objective {DIFF_COLUMN} compares the points with the committed "
                            "model when the sweep ends, so it needs a grid (not a search) and a model with weights; "
                            "choose auc_mean or auc_min")
    types = column_types(header, figures, spec.parameters)
    signals = card.data["training"]["signals"]
    # the points known before running (a grid entry the card does not have fails here, before any work)
    tasks = _committed(card, spec)
    if spec.search:  # its points come from the oracle: the entries are checked on the grid's first point
        _task(card, spec, spec.point(card, dict.fromkeys(spec.parameters, 0)))
    else:
        tasks += [_task(card, spec, point) for point in spec.points(card)]
    output = check_output(Path(output), folder=True, inputs=(card.folder,))
    results = output / RESULTS_FILE
    earlier = {row["key"]: row for row in read_table(results) if row["status"] == "ok"}
    keys = {t.key for t in tasks}
    todo = [t for t in tasks if t.key not in earlier]
    trials: list[dict[str, Any]] = []
    with dask_client(scheduler, workers) if todo or spec.search else contextlib.nullcontext() as client:
        _open_folder(output, card)  # after the scheduler answered: nothing is written before
        _describe(output, card, spec, tasks)
        # before appending: a torn last line goes (a search keeps every row: its points are not known yet)
        rewrite(results, header, lambda row: spec.search is not None or row["key"] in keys, types, signals)
        runner = _Runner(client, output, header, types, lambda: _checked(data, card, spec, jobs, progress),
                         progress) if client is not None else None
        if spec.search:
            trials = _search(runner, card, spec, dict(earlier), todo)
            keys |= {t["key"] for t in trials}
            _describe(output, card, spec, tasks, trials)
        elif todo:
            runner.run(todo)
    rows = rewrite(results, header, lambda row: row["key"] in keys, types, signals)
    summary = write_front(rows, output, spec.objective, spec.part)
    return {"folder": str(output), "points": sum(r["point"] != "committed" for r in rows),
            "failed": sum(r["status"] == "failed" for r in rows), "reused": len(keys & earlier.keys()),
            "ran": runner.ran if runner is not None else 0, "trials": len(trials), **summary}


def _search(runner: _Runner, card: Card, spec: Grid, rows: dict[str, dict[str, Any]],
            extra: list[Task]) -> list[dict[str, Any]]:
    """The keras-tuner search (`codesign.sweep.search`) in rounds of at most the workers' slots; `rows` (the
    earlier `ok` rows by key) answer the points they hold and gain this run's rows; `extra` (the committed model)
    runs with the first round.  Returns the trials in order: trial, point, key, status."""
    from codesign.sweep.search import make_oracle, propose, report

    trials = []
    with tempfile.TemporaryDirectory(prefix="codesign-oracle-") as folder:
        oracle = make_oracle(spec, Path(folder))
        while proposals := propose(oracle, spec, card, runner.slots()):
            todo = {p.point.key: _task(card, spec, p.point) for p in proposals if p.point.key not in rows}
            rows.update(runner.run([*extra, *todo.values()]))
            extra = []
            for proposal in proposals:
                row = rows[proposal.point.key]
                report(oracle, proposal, row, spec.objective)
                trials.append({"trial": int(proposal.trial.trial_id), "point": proposal.point.index,
                               "key": proposal.point.key, "status": row["status"]})
    return trials


def _default_grid(card: Card) -> Path:
    path = card.folder / GRID_FILE
    if not path.is_file():
        raise CodesignError(f"model {card.name} has no default grid ({path}); give --grid SWEEP.yaml")
    return path


def _committed(card: Card, spec: Grid) -> list[Task]:
    """The committed model as a task, when it has weights (evaluated on the sweep's samples, not trained)."""
    if not card.encoder_path.is_file():
        return []
    encoder = card.encoder_path.read_bytes()
    key = point_key(card, {"committed": hashlib.sha256(encoder).hexdigest()}, spec.settings())
    return [Task("committed", key, {}, card.data, spec.part, spec.clock_mhz, encoder)]


def _task(card: Card, spec: Grid, point: Point) -> Task:
    """A grid point as a worker task: the card with the point's values and the sweep's epochs."""
    data = apply(card.data, point.params, f"sweep file {spec.source}")
    if spec.epochs is not None:
        data["training"]["epochs"] = spec.epochs
    return Task(str(point.index), point.key, point.params, data, spec.part, spec.clock_mhz)


def _open_folder(output: Path, card: Card) -> None:
    """The sweep folder (checked): a new one (with codesign's marker), or the same model's earlier sweep to resume."""
    if output.is_dir():
        try:
            earlier = json.loads((output / SWEEP_FILE).read_text())["model"]
        except (OSError, ValueError, KeyError, TypeError):
            raise CodesignError(f"output folder {output} holds another codesign output, not a sweep; "
                                "choose a new folder name") from None
        if earlier != card.name:
            raise CodesignError(f"output folder {output} holds a sweep of {earlier}, not {card.name}; "
                                "choose a new folder name")
    else:
        output.mkdir(parents=True)
        (output / MARKER).write_text("written by codesign; a later codesign run may replace this folder\n")


def _describe(output: Path, card: Card, spec: Grid, tasks: list[Task],
              trials: list[dict[str, Any]] | None = None) -> None:
    """`sweep.json`: the grid, settings, card hash, the points (and a search's trials in order)."""
    description = {"model": card.name, "card": str(card.folder), "card_sha256": card_hash(card),
                   "grid": spec.source, "settings": spec.settings(), "objective": spec.objective,
                   "parameters": spec.parameters, "points": [{"point": t.point, "key": t.key} for t in tasks]}
    if spec.search is not None:
        description["search"] = {**asdict(spec.search), "trials_run": trials or []}
    with atomic_path(output / SWEEP_FILE) as tmp:
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


class _Runner:
    """Runs tasks on the client, each finished point's row appended to the table (and its files written) as it
    arrives; the samples are loaded and scattered to the workers before the first task."""

    def __init__(self, client, output: Path, header: list[str], types: dict[str, str],
                 load: Callable[[], SweepData], progress: bool) -> None:
        self.client, self.output, self.header, self.types, self.load = client, output, header, types, load
        self.progress, self.shared, self.ran = progress, None, 0
        try:  # a running cluster's workers may still be starting (batch jobs): scatter needs one
            client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise CodesignError(f"no Dask worker joined the scheduler within {WORKER_WAIT_S} s; start workers "
                                "(`dask worker ADDRESS`) or leave out --scheduler for a local cluster") from None

    def slots(self) -> int:
        """How many tasks the cluster runs at once (its workers' threads)."""
        return max(1, sum(self.client.nthreads().values()))

    def run(self, tasks: list[Task]) -> dict[str, dict[str, Any]]:
        """Run `tasks`; their rows by key (a failing point, or a lost worker, is a `failed` row)."""
        from distributed import as_completed
        from tqdm import tqdm

        if not tasks:
            return {}
        if self.shared is None:
            self.shared = self.client.scatter(self.load(), broadcast=True)
        futures = {self.client.submit(run_point, task, self.shared, key=f"point-{task.point}-{task.key}",
                                      pure=False): task for task in tasks}
        rows = {}
        with appending(self.output / RESULTS_FILE, self.header, self.types) as append, \
                tqdm(total=len(tasks), desc="sweep", unit="point", disable=not self.progress) as bar:
            for future in as_completed(futures):
                task = futures[future]
                row = {"point": task.point, "key": task.key,
                       **{name: json.dumps(value, sort_keys=True) for name, value in task.params.items()}}
                try:
                    result = future.result()
                    _write_point(self.output, task, result["files"])
                    row.update(status="ok", **result["figures"])
                except Exception as err:  # a failing point (or a lost worker) is a row; the sweep goes on
                    row.update(status="failed", error=one_line(err))
                    bar.write(f"point {task.point} failed: {one_line(err)}")
                append(row)
                rows[task.key] = row
                self.ran += 1
                bar.update()
        return rows


def _checked(data: SweepData | None, card: Card, spec: Grid, jobs: int, progress: bool) -> SweepData:
    """`data`, or the card's samples (`load_data`), after checking their signals are the card's."""
    data = data if data is not None else load_data(card, spec, jobs, progress)
    if list(data.samples.signals) != card.data["training"]["signals"]:
        raise CodesignError(f"the samples' signals {list(data.samples.signals)} differ from the card's "
                            f"training.signals {card.data['training']['signals']}")
    return data


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
