"""`codesign emulate`: bit-exact firmware outputs for input vectors (a library function)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path
from codesign.errors import CodesignError
from codesign.zoo.loading import LoadedModel, load_model


def read_inputs(path: Path, model: LoadedModel, mapping: Path | None = None) -> np.ndarray:
    """Input vectors, shaped (N, *input_shape), from a `.npy` of shape (N, *input_shape) or its flattened
    form (N, n_inputs), or from a ROOT file (through the branch mapping)."""
    path = Path(path)
    shape = tuple(model.graph.input_shape)
    n_in = int(np.prod(shape))
    if path.suffix == ".root":
        if model.card is None:
            raise CodesignError("ROOT input needs a zoo model (its card names the view); give a .npy for a .h5 model")
        from codesign.data.rootio import load_mapping, read_view

        x = read_view(path, model.card.data["inputs"]["view"], load_mapping(mapping))
    elif path.suffix == ".npy":
        if not path.is_file():
            raise CodesignError(f"input file {path} does not exist")
        x = np.load(path)
    else:
        raise CodesignError(f"input {path} must be a .npy array of shape {_shapes(shape)} or a .root file")
    if x.ndim < 2 or x.shape[1:] not in (shape, (n_in,)):
        raise CodesignError(f"input {path} has shape {x.shape}; model {model.name} needs {_shapes(shape)}")
    return x.astype(np.float64).reshape(len(x), *shape)


def _shapes(shape: tuple[int, ...]) -> str:
    """The accepted input shapes, for messages: (N, *shape) or its flattened form."""
    flat = f"(N, {int(np.prod(shape))})"
    return flat if len(shape) == 1 else f"(N, {', '.join(map(str, shape))}) or {flat}"


def emulate_model(model: LoadedModel, x: np.ndarray) -> np.ndarray:
    """(N, n_out) network outputs, plus a last column with the score for zoo models."""
    if model.chain is not None:
        result = model.chain.emulate(x)
        return np.column_stack([result["network"], result["score"]])
    from codesign.fixed.emulator import emulate

    return emulate(model.graph, x)


def run(target: str, input_path: Path, output: Path, mapping: Path | None = None) -> str:
    """Emulate `target` on the inputs of `input_path` into `output` (.npy); returns a summary."""
    model = load_model(target)
    x = read_inputs(input_path, model, mapping)
    out = emulate_model(model, x)
    with atomic_path(Path(output)) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, out)
    n_out = model.graph.output_shape[-1]
    layout = f"columns 0..{n_out - 1}: network outputs" + (f", column {n_out}: score" if model.chain else "")
    source = "raw hardware inputs scaled by the card" if model.chain else model.input_note
    return f"wrote {out.shape} to {output} ({layout}; inputs: {source})"
