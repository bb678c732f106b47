"""DQM library entry points: train (+ ONNX export), evaluate (Table-1-like FDR table, plots), run (stream).

A model folder holds one ONNX autoencoder per region (EB.onnx, EEp.onnx, EEm.onnx), reference.npz
(mean normalised good-data occupancy per tower, and the known-bad towers derived from it) and
dqm.json (configuration, one AE+spatial+time threshold per region, training losses).
"""

from __future__ import annotations

import json
import shutil
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from codesign.atomic import atomic_path, check_output
from codesign.dqm import data as D
from codesign.dqm import postprocess as P
from codesign.errors import CodesignError, one_line
from codesign.validate import real_finite

FILES = {"EB": "EB.onnx", "EE+": "EEp.onnx", "EE-": "EEm.onnx"}
FREQUENCY_FILE = "flag_frequency.npz"
VAL_SEED, TEST_SEED = 1_000, 2_000  # offsets: validation/test runs reuse run numbers with other seeds


@dataclass
class TrainConfig:
    """Everything `train` derives the model folder from."""

    runs: int = 8
    lumisections: int = 200
    epochs: int = 20
    filters: tuple[int, ...] = (16, 32)
    latent: int = 32
    batch_size: int = 64
    seed: int = 1
    detector_seed: int = 0
    val_runs: int = 2
    segment: int = 6


def _good_data(det: D.Detector, runs: range, n_ls: int, seed: int) -> dict[str, np.ndarray]:
    xs: dict[str, list[np.ndarray]] = {r: [] for r in D.REGIONS}
    for number in runs:
        run = D.generate_run(det, number, n_ls, seed)
        for r in D.REGIONS:
            xs[r].append(D.normalise(run.counts[r], run.events))
    return {r: np.concatenate(v) for r, v in xs.items()}


def _anomalous(det: D.Detector, region: str, kind: str, runs: range, n_ls: int, seed: int, segment: int,
               transient: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per run: (normalised maps with one injected anomaly per segment, labels)."""
    out = []
    for number in runs:
        run = D.generate_run(det, number, n_ls, seed)
        counts, labels = D.inject(det, region, run.counts[region], kind, seed + number, segment, transient)
        out.append((D.normalise(counts, run.events), labels))
    return out


def _keep(n_ls: int, segment: int, window: int = P.WINDOW) -> np.ndarray:
    """Aligned LS (window-1 .. n_ls-1) whose whole time window lies inside one injection segment."""
    t = np.arange(window - 1, n_ls)
    return (t % segment) >= window - 1


class Models:
    """A loaded model folder: ONNX sessions, references, known-bad maps, thresholds."""

    def __init__(self, folder: Path, threads: int | None = 1) -> None:
        from codesign.onnx import OnnxModel

        folder = Path(folder)
        meta = folder / "dqm.json"
        if not meta.is_file():
            raise CodesignError(f"{folder} is not a DQM model folder (no dqm.json); run `codesign dqm train` first")
        try:
            self.meta = json.loads(meta.read_text())
            self.thresholds = {r: float(v) for r, v in self.meta["thresholds"].items()}
            detector_seed = int(self.meta["config"]["detector_seed"])
            with np.load(folder / "reference.npz") as ref:
                self.reference = {r: ref[f"ref_{r}"] for r in D.REGIONS}
                self.known_bad = {r: ref[f"bad_{r}"] for r in D.REGIONS}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise CodesignError(f"{folder} is not a complete DQM model folder ({one_line(err)}); "
                                "rerun `codesign dqm train`") from None
        self.onnx = {r: OnnxModel(folder / f, threads) for r, f in FILES.items()}
        # towers scored: real towers minus known issues (dead in good data, shown brown in quality maps)
        self.mask = {r: D.geometry_mask(r) & ~self.known_bad[r] for r in D.REGIONS}
        self.detector = D.Detector(detector_seed)

    def reconstruct(self, region: str, x: np.ndarray, batch: int = 256) -> np.ndarray:
        return np.concatenate([self.onnx[region](x[i:i + batch, ..., None])[..., 0]
                               for i in range(0, len(x), batch)])

    def scores(self, region: str, x: np.ndarray) -> dict[str, np.ndarray]:
        return P.method_scores(x, self.reconstruct(region, x), self.reference[region], self.mask[region])


def _threshold(models: Models, region: str, cfg: TrainConfig, seed: int) -> float:
    """One AE+spatial+time threshold per region: 99% of all injected anomalous towers (all types)."""
    s, lab = [], []
    for kind in D.ANOMALIES[region]:
        for x, labels in _anomalous(models.detector, region, kind, range(cfg.val_runs),
                                    cfg.lumisections, seed + VAL_SEED, cfg.segment):
            keep = _keep(len(x), cfg.segment)
            s.append(models.scores(region, x)["AE + spatial + time"][keep])
            lab.append(labels[P.WINDOW - 1:][keep])
    return P.threshold_at_efficiency(np.concatenate(s), np.concatenate(lab))


def train(output: Path, cfg: TrainConfig | None = None, progress: bool = True) -> dict:
    """Generate good data, train the three autoencoders, export ONNX and set thresholds into `output`."""
    cfg = cfg or TrainConfig()
    from codesign.dqm.model import build_autoencoder, train_autoencoder
    from codesign.onnx import export_keras

    if cfg.runs < 1 or cfg.lumisections < 2 * P.WINDOW or cfg.epochs < 1:
        raise CodesignError("dqm train needs --runs >= 1, --lumisections >= 6 and --epochs >= 1")
    if min(cfg.seed, cfg.detector_seed) < 0 or cfg.latent < 1:
        raise CodesignError("dqm train needs --seed >= 0, --detector-seed >= 0 and --latent >= 1")
    output = check_output(output, folder=True)
    det = D.Detector(cfg.detector_seed)
    x = _good_data(det, range(cfg.runs), cfg.lumisections, cfg.seed)
    summary: dict = {"config": asdict(cfg), "losses": {}}
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        ref = {}
        for region in tqdm(D.REGIONS, desc="train", disable=not progress):
            model = build_autoencoder(region, tuple(cfg.filters), cfg.latent, seed=cfg.seed)
            hist = train_autoencoder(model, x[region], cfg.epochs, cfg.batch_size)
            summary["losses"][region] = {k: v[-1] for k, v in hist.items()}
            export_keras(model, tmp / FILES[region])
            ref[f"ref_{region}"] = x[region].mean(axis=0)
            ref[f"bad_{region}"] = D.geometry_mask(region) & (ref[f"ref_{region}"] < 0.05)
        np.savez(tmp / "reference.npz", **ref)
        summary["thresholds"] = {r: 1.0 for r in D.REGIONS}
        (tmp / "dqm.json").write_text(json.dumps(summary, indent=1))
        models = Models(tmp)
        summary["thresholds"] = {r: _threshold(models, r, cfg, cfg.seed + 1)
                                 for r in tqdm(D.REGIONS, desc="thresholds", disable=not progress)}
        (tmp / "dqm.json").write_text(json.dumps(summary, indent=1))
    return summary


def evaluate(model_dir: Path, output: Path, runs: int = 2, lumisections: int = 200, seed: int = 5,
             segment: int = 6, progress: bool = True) -> dict:
    """FDR (%) at the 99% threshold (set on validation runs, measured on test runs) for every method,
    region and anomaly type; writes fdr_table.md/.json and plots into `output` (created)."""
    if runs < 1 or lumisections < 2 * P.WINDOW:
        raise CodesignError("dqm evaluate needs --runs >= 1 and --lumisections >= 6")
    if seed < 0:
        raise CodesignError(f"--seed must be >= 0, got {seed}")
    output = check_output(output, folder=True, inputs=(model_dir,))
    models = Models(model_dir)
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        return _evaluate(models, tmp, runs, lumisections, seed, segment, progress)


def _evaluate(models: Models, output: Path, runs: int, lumisections: int, seed: int, segment: int,
              progress: bool) -> dict:
    det, columns = models.detector, []
    table: dict[str, dict[str, float | None]] = {m: {} for m in P.METHODS}
    efficiency: dict[str, dict[str, float]] = {m: {} for m in P.METHODS}
    flagged: dict[str, dict[str, int]] = {m: {} for m in P.METHODS}
    jobs = [(r, k) for r in D.REGIONS for k in D.ANOMALIES[r]]
    for region, kind in tqdm(jobs, desc="evaluate", disable=not progress):
        col = f"{region} {kind}"
        columns.append(col)
        split = {}
        for name, off in (("val", VAL_SEED + 500), ("test", TEST_SEED)):
            s: dict[str, list] = {m: [] for m in P.METHODS}
            lab = []
            for x, labels in _anomalous(det, region, kind, range(runs), lumisections, seed + off, segment):
                keep = _keep(len(x), segment)
                for m, v in models.scores(region, x).items():
                    s[m].append(v[keep])
                lab.append(labels[P.WINDOW - 1:][keep])
            split[name] = ({m: np.concatenate(v) for m, v in s.items() if v}, np.concatenate(lab))
        for m in P.METHODS:
            if region != "EB" and m.startswith("Baseline"):
                table[m][col] = None
                continue
            thr = P.threshold_at_efficiency(split["val"][0][m], split["val"][1])
            sc, lab = split["test"][0][m], split["test"][1]
            table[m][col] = 100 * P.fdr(sc, lab, thr, models.mask[region])
            efficiency[m][col] = float((sc[lab] >= thr).mean())
            flagged[m][col] = int(((sc >= thr) & models.mask[region]).sum())
        if kind == D.ANOMALIES[region][0]:
            _plots(models, region, kind, output, seed)
    P.write_table(table, columns, output, {"test_efficiency": efficiency, "runs": runs,
                                             "lumisections": lumisections, "segment": segment}, flagged)
    return {"fdr": table, "columns": columns, "efficiency": efficiency, "flagged": flagged}


def _plots(models: Models, region: str, kind: str, output: Path, seed: int) -> None:
    """Figure-3-like maps and a Figure-2-like quality map for one injected anomaly."""
    (x, labels), = _anomalous(models.detector, region, kind, range(1), 6, seed + TEST_SEED, 6)
    reco = models.reconstruct(region, x)
    mask = models.mask[region]
    loss = P.loss_map(x, reco) * mask
    spat = P.spatial_correction(loss, models.reference[region]) * mask
    timec = P.time_correction(spat)
    tag = region.replace("+", "p").replace("-", "m")
    P.plot_maps({"input": x[-1], "reconstruction": reco[-1], "loss": loss[-1], "loss / ref": spat[-1],
                 "x 3 LS": timec[-1]}, mask, region, output / f"maps_{tag}_{kind}.png")
    P.plot_quality(timec[-1] >= models.thresholds[region], D.geometry_mask(region), models.known_bad[region], region,
                   output / f"quality_{tag}_{kind}.png", f"AE+spatial+time, injected {kind}")


class LumiProcessor:
    """Online processing, one lumisection at a time: inference, corrections, flags."""

    def __init__(self, models: Models) -> None:
        self.models = models
        self.history = {r: deque(maxlen=P.WINDOW) for r in D.REGIONS}

    def __call__(self, events: float, counts: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """Flags per region for this LS, or None until WINDOW lumisections have been seen."""
        m = self.models
        for r in D.REGIONS:
            x = D.normalise(counts[r][None], np.array([events]))
            loss = P.loss_map(x, m.onnx[r](x[..., None])[..., 0])[0] * m.mask[r]
            self.history[r].append(P.spatial_correction(loss, m.reference[r]))
        if len(self.history["EB"]) < P.WINDOW:
            return None
        return {r: (np.prod(np.stack(self.history[r]), axis=0) >= m.thresholds[r]) & m.mask[r] for r in D.REGIONS}


def synthetic_stream(models: Models, lumisections: int, seed: int, run: int = 0,
                     inject: str | None = None, region: str = "EB", transient: float = 0.0) -> D.Run:
    """A generated run, optionally with one anomaly of `inject` in `region` for the whole run."""
    r = D.generate_run(models.detector, run, lumisections, seed + 3 * TEST_SEED)
    if inject:
        if inject not in D.ANOMALIES.get(region, ()):
            raise CodesignError(f"anomaly {inject!r} does not exist in {region}; choose from "
                                f"{', '.join(D.ANOMALIES.get(region, D.ANOMALIES['EB']))}")
        r.counts[region], _ = D.inject(models.detector, region, r.counts[region], inject, seed, lumisections,
                                       transient)
    return r


def load_stream(path: Path) -> D.Run:
    """A run from an .npz with `events` (n_ls,) and counts `EB`, `EE+`, `EE-` (n_ls, H, W)."""
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"input {path} not found")
    try:
        with np.load(path) as f:
            events = real_finite(f["events"], f"{path}: events", ("lumisection",))
            counts = {r: real_finite(f[r], f"{path}: {r}", ("lumisection", "row", "column")) for r in D.REGIONS}
    except (KeyError, ValueError, OSError, EOFError) as err:
        raise CodesignError(f"{path} is not a DQM stream .npz with events, EB, EE+, EE- ({one_line(err)})") from None
    if events.ndim != 1 or not len(events):
        raise CodesignError(f"{path}: events must be a non-empty 1-d array (events per lumisection)")
    if (events <= 0).any():
        raise CodesignError(f"{path}: lumisection {int(np.argmax(events <= 0))} has {events[events <= 0][0]:g} events; "
                            "every lumisection needs at least one event")
    run = D.Run(0, events, {r: c.astype(np.float32) for r, c in counts.items()})
    for r in D.REGIONS:
        if (run.counts[r] < 0).any():
            raise CodesignError(f"{path}: {r} holds negative occupancy counts")
        if run.counts[r].shape != (len(run.events), *D.SHAPES[r]):
            raise CodesignError(f"{path}: {r} has shape {run.counts[r].shape}, expected "
                                f"({len(run.events)}, {D.SHAPES[r][0]}, {D.SHAPES[r][1]})")
    return run


def run_stream(model_dir: Path, output: Path, stream: D.Run | None = None, lumisections: int = 100,
               seed: int = 3, inject: str | None = None, region: str = "EB", threads: int = 1,
               progress: bool = True) -> dict:
    """Process a run LS by LS; write flags.jsonl, quality maps and the accumulated flag_frequency.npz."""
    if seed < 0 or threads < 1 or lumisections < 1:
        raise CodesignError("dqm run needs --seed >= 0, --threads >= 1 and --lumisections >= 1")
    output = check_output(output, folder=True, inputs=(model_dir,))
    models = Models(model_dir, threads)
    if stream is None:
        stream = synthetic_stream(models, lumisections, seed, inject=inject, region=region)
    with atomic_path(output, folder=True) as tmp:
        tmp.mkdir()
        previous = output / FREQUENCY_FILE
        if previous.is_file():  # flag counts accumulate over runs into the same folder
            shutil.copyfile(previous, tmp / FREQUENCY_FILE)
        return _run_stream(models, stream, tmp, progress)


def _run_stream(models: Models, stream: D.Run, output: Path, progress: bool) -> dict:
    proc, counter = LumiProcessor(models), P.FlagCounter(D.SHAPES)
    any_flag = {r: np.zeros(D.SHAPES[r], bool) for r in D.REGIONS}
    lines = []
    for ls in tqdm(range(len(stream.events)), desc="lumisections", disable=not progress):
        flags = proc(stream.events[ls], {r: stream.counts[r][ls] for r in D.REGIONS})
        if flags is None:
            continue
        counter.update(flags)
        for r, f in flags.items():
            any_flag[r] |= f
            lines += [json.dumps({"ls": ls, "region": r, "row": int(i), "col": int(j)}) for i, j in np.argwhere(f)]
    (output / "flags.jsonl").write_text("\n".join(lines) + ("\n" if lines else ""))
    counter.save(output / FREQUENCY_FILE)
    for r in D.REGIONS:
        P.plot_quality(any_flag[r], D.geometry_mask(r), models.known_bad[r], r,
                       output / f"quality_{r.replace('+', 'p').replace('-', 'm')}.png", "flagged in run")
    return {"lumisections": len(stream.events), "flagged": {r: int(f.sum()) for r, f in any_flag.items()},
            "flag_records": len(lines)}
