"""Does AXOL1TL's score depend on where its training stops?  The card's recipe against a constant learning rate.

    python benchmarks/bench_training_stability.py [--stops 14 17 20 23] [--signals zprime_mumu wprime_taunu ...]

For each recipe (the card's `training` as written, and the same without `learning_rate_schedule` and
`average_epochs`: a constant rate, the last epoch's weights) the QAT VAE is trained on the card's training zero
bias (`codesign.train.axol1tl.fit_encoder`, main epochs = each of `--stops`, then the card's fine-tuning), and
the score sum(mu^2) of the quantized mu is compared on the zero bias the fit held out (Keras' validation
split, weighted) with each signal: AUC per stopping point, their spread (max - min) per signal, and during the
card's own epoch count the AUC after every epoch.  Samples come from the cache (or are generated) as
`codesign train` makes them; the reference zero bias is not needed.  Signal-agnostic: nothing here is tuned on
the signals, it only measures how much the result moves.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_SIGNALS = ("zprime_ee", "zprime_mumu", "wprime_taunu", "hidden_valley")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="axol1tl")
    parser.add_argument("--stops", type=int, nargs="+", default=[14, 17, 20, 23], help="main epochs to stop after")
    parser.add_argument("--signals", nargs="+", default=list(DEFAULT_SIGNALS))
    parser.add_argument("--recipes", nargs="+", choices=("card", "constant"), default=["card", "constant"])
    args = parser.parse_args()

    import keras

    from codesign.metrics.rates import roc_auc
    from codesign.metrics.stats import effective_count
    from codesign.train.axol1tl import VALIDATION_SPLIT, fit_encoder, training_inputs
    from codesign.train.common import load_sample, sample_requests
    from codesign.zoo import load_card

    card = load_card(args.model)
    training, requests = card.data["training"], sample_requests(card)
    with tempfile.TemporaryDirectory() as tmp:  # the reference zero bias is not needed
        background, raw = load_sample(card, "background", requests["background"], Path(tmp))
        signals = {name: load_sample(card, name, requests[name], Path(tmp)) for name in args.signals}
    _, network_inputs, x, weights = training_inputs(card, raw, background.weights)  # as `codesign train` does
    held_out = slice(int(len(x) * (1 - VALIDATION_SPLIT)), None)  # Keras' validation split: never trained on
    x_signal = {name: network_inputs(r) for name, (_, r) in signals.items()}
    print(f"held-out zero bias: {len(x[held_out]):,} crossings, {effective_count(weights[held_out]):,.0f} effective;"
          f" signals: {', '.join(f'{n} {len(s.weights):,}' for n, (s, _) in signals.items())}")

    def aucs(encoder) -> list[float]:
        def score(inputs):
            return np.sum(encoder.predict(inputs, batch_size=8192, verbose=0).astype(np.float64) ** 2, axis=1)
        background_score = score(x[held_out])
        return [roc_auc(background_score, score(x_signal[name]), weights[held_out], signals[name][0].weights)
                for name in args.signals]

    class Watch(keras.callbacks.Callback):
        """The AUCs of the quantized mu of the VAE being trained, after every epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[float]] = []

        def on_epoch_end(self, epoch, logs=None) -> None:
            self.rows.append(aucs(keras.Model(self.model.input, self.model.get_layer("mu_quant").output)))

    constant = copy.deepcopy(card)
    for key in ("learning_rate_schedule", "average_epochs"):
        constant.data["training"].pop(key, None)
    header = "".join(f"{name[:13]:>14s}" for name in args.signals)
    for label, recipe in ((label, {"card": card, "constant": constant}[label]) for label in args.recipes):
        print(f"\n== recipe: {label} (learning_rate_schedule {recipe.data['training'].get('learning_rate_schedule')},"
              f" average_epochs {recipe.data['training'].get('average_epochs', 1)})")
        watch = Watch()
        finals = {}
        print(f"{'AUC on the held-out zero bias:':38s}{header}")
        for stop in args.stops:
            started = time.perf_counter()
            encoder = fit_encoder(recipe, x, weights, stop, watch=[watch] if stop == training["epochs"] else None)
            finals[stop] = aucs(encoder)
            print(f"stop after {stop:3d} main epochs ({time.perf_counter() - started:5.0f} s):"
                  + "".join(f"{a:14.3f}" for a in finals[stop]))
        spread = np.ptp(np.array(list(finals.values())), axis=0)
        print(f"{'spread (max - min)':>38s}" + "".join(f"{s:14.3f}" for s in spread))
        if watch.rows:
            tuning = " + fine-tuning" if recipe.data["training"].get("finetune") else ""
            print(f"per epoch, {training['epochs']} main{tuning} (weights before averaging):{'':4s}{header}")
            for epoch, row in enumerate(watch.rows, 1):
                print(f"{epoch:>38d}" + "".join(f"{a:14.3f}" for a in row))


if __name__ == "__main__":
    main()
