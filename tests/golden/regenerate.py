"""Regenerate the golden vectors of every zoo model, or of the named ones: `python tests/golden/regenerate.py [NAME ...]`.

Run it only when a change of outputs is intended, and say why in the commit message.  Inputs are
real generated events (zero bias and signals, from the sample cache or generated)
plus raw edge cases; outputs are the emulator's network outputs, score and working-point bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.data import GenerationRequest, generate, read_view
from codesign.verify.vectors import raw_edge_vectors
from codesign.verify.verify import REAL_EVENTS_POOL
from codesign.zoo import zoo_names
from codesign.zoo.loading import load_model

FOLDER = Path(__file__).parent
EVENTS_PER_PROCESS = 100


def golden_inputs(model, rng: np.random.Generator, tmp: Path) -> np.ndarray:
    view = model.card.data["inputs"]["view"]
    real = []
    for process in ("zerobias", "zprime_ee", "zprime_mumu", "hidden_valley"):
        request = GenerationRequest(process, EVENTS_PER_PROCESS, seed=7, pool_events=REAL_EVENTS_POOL, pf=False)
        path, _ = generate(request, tmp / f"{process}.root", progress=False)
        real.append(read_view(path, view).reshape(EVENTS_PER_PROCESS, -1))  # image views as rows, as raw_edge_vectors
    return np.concatenate([*real, raw_edge_vectors(model.chain, 200, rng)]).astype(np.float32)


def expected(model, raw: np.ndarray) -> dict[str, np.ndarray]:
    out = model.chain.emulate(raw.astype(np.float64))
    return {"network": out["network"], "score": out["score"],
            **{f"pass_{wp}": out[wp] for wp in model.chain.thresholds}}


def main(names: list[str]) -> None:
    import tempfile

    for name in names or zoo_names():
        model = load_model(name)
        with tempfile.TemporaryDirectory() as tmp:
            raw = golden_inputs(model, np.random.default_rng(0), Path(tmp))
        np.savez_compressed(FOLDER / f"{name}.npz", inputs=raw, **expected(model, raw))
        print(f"wrote {FOLDER / f'{name}.npz'} ({len(raw)} vectors)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
