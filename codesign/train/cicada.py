"""`codesign train cicada`: the float teacher, synthetic outliers and the QAT student, from seeds.

The recipe of the deployed CICADA (``shared/reference/l1-systems.md``), on the card's weighted zero bias:

1. the training zero bias is shuffled (seed) and split: the first ``teacher.events`` train the float
   teacher autoencoder (MSE, per-event zero-bias weights), the next ``student.events`` train the student,
   so the student learns the teacher's error on events the teacher has not seen (as in the trigger);
2. synthetic outliers (`outliers`) are added to the student's events only;
3. the student's target is `codesign.zoo.cicada.target` of the teacher's per-event MSE; the student (the
   deployed v2 or v1 architecture of the card's ``architecture.student``, QAT with the deployed bit widths)
   is trained with MAE, weighted, and magnitude-pruned (`codesign.train.pruning`, as AXOL1TL) to the card's
   ``quantization.pruning.final_sparsity``, per layer (``conv``, ``dense1``, ``dense2``) where
   ``quantization.layers.<layer>.pruning.final_sparsity`` says: zero weights are adders the RTL does not build;
4. training alternates in ``training.rounds`` rounds (default 1): each trains the teacher for its share of
   ``teacher.epochs``, then the student for its share of ``epochs`` on the targets of the teacher as it is
   then (`epochs_per_round`); the deployed recipe's one teacher epoch per 10 student epochs is ``rounds`` =
   ``teacher.epochs`` with 10 times as many student epochs.  One round is the teacher first, then the student
   on the final teacher (the committed models);
5. working points: thresholds in score LSBs from the independent reference zero bias through the bit-exact
   trigger emulation (`codesign.metrics.report.evaluate`, weighted, with intervals); AUC and efficiencies per
   signal for the student (firmware) and the teacher (float ``log(MSE) * 32``, unclipped), and their agreement.

Shared with AXOL1TL (from `codesign.train.common`): the sample loading through the cache, the pileup-tail
shares and the atomic writing of weights, metrics and card.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.train.common import Samples, pool_tail, write_model
from codesign.zoo.card import Card
from codesign.zoo.cicada import KERNEL_LAYERS, REGIONS, TARGET_SCALE, student, target, teacher

TEACHER_FILE = "teacher.h5"
#: The ET range (counts of `ap_uint<10>`) of a region.
ET_MAX = 1023
#: Events emulated at once (memory).
CHUNK = 100_000
OUTLIER_KINDS = ("hot_region", "hot_cluster", "random_high_et", "saturated")


@dataclass(frozen=True)
class OutlierSpec:
    """How many synthetic outliers (a fraction of the student's events) and their ET scale."""

    fraction: float = 0.2
    min_et: int = 64


def outliers(background: np.ndarray, n: int, rng: np.random.Generator, min_et: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """`n` synthetic anomalies built on random zero-bias events (N, 252) in region-ET counts, and their kind
    index into `OUTLIER_KINDS` (in equal shares, in turn):

    * ``hot_region``: one region at a random position set to an ET uniform in [min_et, 1023];
    * ``hot_cluster``: a 2 x 2 block of regions (phi wraps around) each uniform in [min_et / 2, 512];
    * ``random_high_et``: 5 to 40 random regions each uniform in [0, 1023] (noise-like, broad pattern);
    * ``saturated``: 1 to 3 random regions at 1023 (the saturated hardware value).

    The student never sees these as zero bias: they teach it to give high scores (and not to saturate or
    wrap to low ones) on patterns far from the zero bias."""
    if background.ndim != 2 or background.shape[1] != REGIONS[0] * REGIONS[1]:
        raise CodesignError(f"outliers need zero-bias events of shape (N, {REGIONS[0] * REGIONS[1]}), "
                            f"got {background.shape}")
    events = background[rng.integers(0, len(background), n)].astype(np.int64).reshape(n, *REGIONS)
    kind = np.arange(n) % len(OUTLIER_KINDS)
    rows = np.arange(n)
    phi, eta = rng.integers(0, REGIONS[0], n), rng.integers(0, REGIONS[1], n)
    hot = kind == 0
    events[rows[hot], phi[hot], eta[hot]] = rng.integers(min_et, ET_MAX + 1, hot.sum())
    cluster = np.flatnonzero(kind == 1)
    eta_c = np.minimum(eta[cluster], REGIONS[1] - 2)
    for dphi in (0, 1):
        for deta in (0, 1):
            events[cluster, (phi[cluster] + dphi) % REGIONS[0], eta_c + deta] = rng.integers(
                min_et // 2, 513, len(cluster))
    for k, (low, high), count_range in ((2, (0, ET_MAX), (5, 41)), (3, (ET_MAX, ET_MAX), (1, 4))):
        chosen = np.flatnonzero(kind == k)
        counts = rng.integers(*count_range, len(chosen))
        # the first counts[i] positions of a random permutation of the regions of event i
        order = np.argsort(rng.random((len(chosen), events[0].size)), axis=1)
        mask = np.argsort(order, axis=1) < counts[:, None]
        flat = events[chosen].reshape(len(chosen), -1)
        flat[mask] = rng.integers(low, high + 1, int(mask.sum()))
        events[chosen] = flat.reshape(len(chosen), *REGIONS)
    return events.reshape(n, -1), kind


def epochs_per_round(epochs: int, rounds: int) -> list[int]:
    """`epochs` shared over `rounds`: as even as integers allow, the larger shares last (the last round always
    trains when there is an epoch at all)."""
    return [epochs * (r + 1) // rounds - epochs * r // rounds for r in range(rounds)]


def check_training(card: Card, epochs: int | None = None) -> tuple[int, int, int]:
    """(student epochs, rounds, teacher epochs) once checked; `epochs` overrides the student's.  Refused before
    anything is overwritten; the CLI calls it before any sample is generated."""
    training = card.data["training"]
    epochs = training["student"]["epochs"] if epochs is None else epochs
    rounds, teacher_epochs = training.get("rounds", 1), training["teacher"]["epochs"]
    if not isinstance(epochs, int) or epochs < 1:
        raise CodesignError(f"training needs at least one epoch, got {epochs!r}; nothing was written")
    if not isinstance(rounds, int) or not 1 <= rounds <= min(epochs, teacher_epochs):
        raise CodesignError(f"card {card.folder}: training.rounds must be an integer from 1 to the teacher's and the "
                            f"student's epochs ({min(epochs, teacher_epochs)}), got {rounds!r}; nothing was written")
    return epochs, rounds, teacher_epochs


def train(card: Card, samples: Samples, raws: dict[str, np.ndarray], epochs: int | None = None,
          verbose: int = 0) -> dict:
    """Train teacher and student from the card, write weights, card and metrics; return the metrics.

    `raws` holds the `cicada` view (N, 18, 14) of every sample under `background`, `reference` and the
    signal names; `epochs` overrides the student's epochs (the teacher's stay the card's)."""
    import keras
    import tensorflow as tf

    from codesign.fixed.graph import Conv2D, Dense
    from codesign.fixed.lower import lower_keras
    from codesign.fixed.precisions import parse_precisions
    from codesign.fixed.trigger import TriggerChain
    from codesign.metrics.menu import load_menu
    from codesign.metrics.rates import roc_auc, working_point
    from codesign.metrics.report import Model, evaluate
    from codesign.metrics.stats import effective_count, fraction
    from codesign.train.pruning import MagnitudePruning, final_sparsity

    training = card.data["training"]
    epochs, rounds, teacher_epochs = check_training(card, epochs)
    pruned = KERNEL_LAYERS[card.data["architecture"]["student"]]
    sparsity = final_sparsity(card, list(pruned))
    flat = {key: np.asarray(raw).reshape(len(raw), -1) for key, raw in raws.items()}
    n_teacher, n_student = training["teacher"]["events"], training["student"]["events"]
    if n_teacher + n_student > len(flat["background"]):
        raise CodesignError(f"card {card.folder}: teacher.events + student.events = {n_teacher + n_student} but the "
                            f"training zero bias has {len(flat['background'])} events; lower them")
    rng = np.random.default_rng(training["seed"])
    order = rng.permutation(len(flat["background"]))
    weights = samples.background.weights / samples.background.weights.mean()
    teacher_rows, student_rows = order[:n_teacher], order[n_teacher:n_teacher + n_student]

    keras.utils.set_random_seed(training["seed"])
    tf.config.experimental.enable_op_determinism()
    teacher_model = teacher()
    teacher_model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"]), loss="mse")
    x_teacher = flat["background"][teacher_rows].astype(np.float32)

    def teacher_mse(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        out = teacher_model.predict(x, batch_size=4096, verbose=0)
        return np.mean((x.astype(np.float64) - out) ** 2, axis=1)

    def teacher_score(x: np.ndarray) -> np.ndarray:
        """The teacher's float score log(MSE) * 32, unclipped (an MSE of 0 counts as 2^-40)."""
        return np.log(np.maximum(teacher_mse(x), 2.0**-40)) * TARGET_SCALE

    spec = OutlierSpec(**training.get("outliers", {}))
    n_out = int(round(spec.fraction * n_student))
    x_out, _ = outliers(flat["background"][student_rows], n_out, rng, spec.min_et)
    x_student = np.concatenate([flat["background"][student_rows], x_out]).astype(np.float32)
    w_student = np.concatenate([weights[student_rows], np.ones(n_out)])
    mix = rng.permutation(len(x_student))  # validation_split takes the last 10%: outliers in both
    model, callbacks, done = None, [], 0
    for teacher_share, student_share in zip(epochs_per_round(teacher_epochs, rounds), epochs_per_round(epochs, rounds)):
        teacher_model.fit(x_teacher, x_teacher, sample_weight=weights[teacher_rows], epochs=teacher_share,
                          batch_size=training["batch_size"], shuffle=True, validation_split=0.1, verbose=verbose)
        y_student = target(teacher_mse(x_student))
        if model is None:  # built after the first teacher epochs, as the one-round recipe always did
            keras.utils.set_random_seed(training["seed"])
            model = student(card.data["architecture"]["student"], name=card.name)
            model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"]), loss="mean_absolute_error")
            if any(sparsity):  # one pruning schedule over all the student's epochs, whatever the rounds
                callbacks = [MagnitudePruning([model.get_layer(name) for name in pruned], sparsity, epochs)]
        history = model.fit(x_student[mix], y_student[mix], sample_weight=w_student[mix], epochs=done + student_share,
                            initial_epoch=done, batch_size=training["batch_size"], shuffle=True, validation_split=0.1,
                            callbacks=callbacks, verbose=verbose)
        done += student_share

    graph, _ = lower_keras(model, precisions=parse_precisions(card.data.get("hls_config"), f"{card.name} card, hls_config"))
    chain = TriggerChain(card.scaling(), graph, card.score())
    firmware = Model(card.name, chain, card.data["inputs"]["view"])
    reference, signals = samples.reference, list(samples.signals.values())
    for sample in (reference, *signals):  # in chunks: the conv's im2col of 1.25M events would not fit in memory
        raw = flat[sample.name]
        sample.scores = np.concatenate([firmware.scores(raw[i:i + CHUNK]) for i in range(0, len(raw), CHUNK)])
    targets = card.data["working_points"]["rate_khz"]
    report = evaluate(load_menu(), reference, signals, firmware, target_khz=targets)
    points = report["model"]["working_points"]
    card.data["working_points"]["thresholds"] = {wp["name"]: wp["threshold_lsb"] for wp in points}

    # the teacher on a random subset of the reference (its conv inference is ~1k events/s on 2 cores)
    n_ref = min(training["teacher"]["reference_events"], len(reference.weights))
    ref_rows = np.sort(rng.choice(len(reference.weights), n_ref, replace=False))
    ref_w = reference.weights[ref_rows]
    teacher_ref = teacher_score(flat["reference"][ref_rows])
    teacher_thresholds = {name: working_point(teacher_ref, khz * 1e3, ref_w).threshold for name, khz in targets.items()}
    student_ref = reference.scores[ref_rows]
    metrics = {
        "source": "codesign train cicada: student thresholds, rates and efficiencies on the reference zero bias and "
                  "signal samples of the card through the bit-exact trigger emulation (firmware); the float teacher's "
                  "log(MSE)*32 on a random subset of the reference (teacher_reference_events)",
        "bunch_crossing_rate_hz": report["bunch_crossing_rate_hz"],
        "confidence": report["confidence"],
        "background": {key: {"events": len(s.weights), "effective_events": effective_count(s.weights)}
                       for key, s in (("training", samples.background), ("reference", reference))},
        "training": {"teacher_events": n_teacher, "student_events": n_student, "outliers": n_out,
                     "student_val_mae": float(history.history["val_loss"][-1]),
                     "zero_weight_fraction": {op.name: float(np.mean(op.weight == 0)) for op in graph.ops
                                              if isinstance(op, (Conv2D, Dense))}},  # after quantization
        "teacher_reference_events": n_ref,
        "score_lsb": firmware.lsb,
        "menu": report["menu"],
        "working_points": {wp["name"]: {**{k: wp[k] for k in ("threshold_lsb", "rate_hz", "pure_rate_hz", "flagged")},
                                        "tail": pool_tail(reference, wp["threshold_lsb"] * firmware.lsb)}
                           for wp in points},
        "agreement_reference": _agreement(student_ref, teacher_ref),
        "signals": {},
    }
    for sample in signals:
        teacher_sig = teacher_score(flat[sample.name])
        metrics["signals"][sample.name] = {
            "events": len(sample.weights),
            "auc_firmware": report["signals"][sample.name]["auc"],
            "auc_teacher": roc_auc(teacher_ref, teacher_sig, ref_w, sample.weights),
            "agreement": _agreement(sample.scores, teacher_sig),
            "menu_efficiency": report["signals"][sample.name]["menu_efficiency"],
            "efficiency_firmware": {wp["name"]: wp["signals"][sample.name]["efficiency"] for wp in points},
            "pure_efficiency_firmware": {wp["name"]: wp["signals"][sample.name]["pure_efficiency"] for wp in points},
            "efficiency_teacher": {name: fraction(teacher_sig > t, sample.weights).as_dict()
                                   for name, t in teacher_thresholds.items()},
        }
    with atomic_path(card.folder / TEACHER_FILE) as tmp:
        teacher_model.save(tmp, save_format="h5", include_optimizer=False)
    write_model(card, model, metrics)
    return metrics


def _agreement(student_scores: np.ndarray, teacher_scores: np.ndarray) -> dict:
    """Pearson correlation of the student's score with the teacher's clipped target, and their mean |difference|."""
    clipped = target(np.exp(teacher_scores / TARGET_SCALE))
    return {"correlation": float(np.corrcoef(student_scores, clipped)[0, 1]),
            "mean_abs_difference": float(np.mean(np.abs(student_scores - clipped)))}
