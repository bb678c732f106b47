"""The committed AXOL1TL encoder behind a scaling fitted over present objects (left shifts included):
the compiled trigger C-simulation equals the emulator bit for bit on real events and raw edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.data import read_view
from codesign.fixed.scaling import saturated_fraction
from codesign.fixed.trigger import MAX_SHIFT, InputScaling, TriggerChain
from codesign.hls import compare, write_project
from codesign.hls.trigger import compile_trigger, write_trigger
from codesign.verify.vectors import raw_edge_vectors
from codesign.zoo.loading import load_model


@pytest.mark.slow
def test_present_object_scaling_is_bit_exact_in_csim(sample, tmp_path):
    model = load_model("axol1tl")
    card, graph = model.card, model.graph
    features = card.features()
    background = read_view(sample("qcd"), "axol1tl")
    fitted = InputScaling.from_data(background, model.chain.scaling.raw_format, graph.input_format, features)
    shifts = fitted.shifts.copy()
    shifts[[3, 15, 18]] = [-1, -3, -MAX_SHIFT]  # left shifts on pT features, as small spreads give
    scaling = InputScaling(fitted.raw_format, fitted.offsets, shifts)
    chain = TriggerChain(scaling, graph, model.chain.score, model.chain.thresholds)

    real = np.concatenate([read_view(sample(p), "axol1tl") for p in ("qcd", "zprime_ll", "hidden_valley")])
    angles = np.array([f.name.endswith(("_eta", "_phi")) for f in features])
    assert np.nansum(saturated_fraction(scaling, real, graph.input_format, features)[angles]) == 0
    raw = np.concatenate([real, raw_edge_vectors(chain, 10_000, np.random.default_rng(5))])

    hls = write_project(model.keras_model, graph, tmp_path / "prj", "xcvu9p-flga2104-2L-e", 25.0, compile_csim=False)
    write_trigger(chain, hls.path, hls.name, list(chain.thresholds))
    csim = compile_trigger(chain, hls.path, hls.name, len(chain.thresholds))
    want, got = chain.emulate(raw), csim.predict(raw)
    want_all = np.column_stack([want["network"], want["score"], *[want[wp] for wp in chain.thresholds]])
    got_all = np.column_stack([got["network"], got["score"], got["pass"]])
    result = compare(want_all, got_all, raw, save_to=tmp_path / "mismatches.npz")
    assert result.equal, result.summary()
    assert len(raw) > 10_000 and np.any(want["score"] > 0)
