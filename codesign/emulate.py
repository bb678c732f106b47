"""`codesign emulate`: bit-exact firmware outputs for input vectors (a library function).

Inputs are read, checked and emulated in chunks of `CHUNK_ROWS` rows, and the output `.npy` is written
chunk by chunk (header first), so the memory used stays bounded whatever the number of rows.  Inputs must be real,
finite numbers: a NaN, an infinity, a complex, string or object value is refused with its row and
feature named (no firmware input can hold one, so there is no faithful way to pass it on).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from codesign.atomic import atomic_path, check_output
from codesign.errors import CodesignError, one_line
from codesign.validate import real_finite
from codesign.zoo.loading import LoadedModel, load_model

CHUNK_ROWS = 65_536


def _open_npy(path: Path) -> np.ndarray:
    """A read-only memory map of a `.npy` file (nothing is loaded yet)."""
    if not path.is_file():
        raise CodesignError(f"input file {path} does not exist")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        if "object" in str(err).lower():
            raise CodesignError(f"input {path} holds Python objects; give an array of real numbers") from None
        raise CodesignError(f"input {path} is not a readable .npy array ({one_line(err)})") from None
    except (OSError, EOFError) as err:
        raise CodesignError(f"input {path} is not a readable .npy array ({one_line(err)})") from None


def input_chunks(path: Path, model: LoadedModel, mapping: Path | None = None,
                 chunk_rows: int = CHUNK_ROWS) -> tuple[int, Iterator[np.ndarray]]:
    """(number of rows, iterator of checked float64 chunks shaped (rows, *input_shape)) of a `.npy` of shape
    (N, *input_shape) or its flattened form (N, n_inputs), or of a ROOT file (through the branch mapping)."""
    path = Path(path)
    model_shape = tuple(model.graph.input_shape)
    n_in = int(np.prod(model_shape))
    if path.suffix == ".root":
        if model.card is None:
            raise CodesignError("ROOT input needs a zoo model (its card names the view); give a .npy for a .h5 model")
        from codesign.data.rootio import load_mapping, num_entries, read_view

        branches, view = load_mapping(mapping), model.card.data["inputs"]["view"]
        n = num_entries(path, branches)

        def read(start: int) -> np.ndarray:
            return read_view(path, view, branches, entry_start=start, entry_stop=min(start + chunk_rows, n))

        first = read(0)
        shape = (n, *np.shape(first)[1:])
    elif path.suffix == ".npy":
        array = _open_npy(path)
        first, shape = array, array.shape

        def read(start: int) -> np.ndarray:
            stop = min(start + chunk_rows, shape[0])
            if array.flags.f_contiguous and array.ndim > 1:
                return np.asarray(array[start:stop])
            # plain reads, not the map: pages touched through a map stay in the resident set
            row = int(np.prod(shape[1:], dtype=np.int64))
            flat = np.fromfile(path, array.dtype, (stop - start) * row, offset=array.offset + start * row * array.itemsize)
            return flat.reshape(stop - start, *shape[1:])
    else:
        raise CodesignError(f"input {path} must be a .npy array of shape {_shapes(model_shape)} or a .root file")
    if len(shape) < 2 or tuple(shape[1:]) not in (model_shape, (n_in,)):
        raise CodesignError(f"input {path} has shape {shape}; model {model.name} needs {_shapes(model_shape)}")
    real_finite(first[:0], f"input {path}")  # the dtype, before any row is read

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, shape[0], chunk_rows):
            rows = real_finite(read(start), f"input {path}", first_index=start)
            yield rows.reshape(len(rows), *model_shape)

    return shape[0], chunks()


def _shapes(shape: tuple[int, ...]) -> str:
    """The accepted input shapes, for messages: (N, *shape) or its flattened form."""
    flat = f"(N, {int(np.prod(shape))})"
    return flat if len(shape) == 1 else f"(N, {', '.join(map(str, shape))}) or {flat}"


def read_inputs(path: Path, model: LoadedModel, mapping: Path | None = None) -> np.ndarray:
    """All input vectors of `path` as one checked float64 array (N, *input_shape)."""
    n, chunks = input_chunks(path, model, mapping)
    return np.concatenate([*chunks, np.zeros((0, *model.graph.input_shape))])


def emulate_model(model: LoadedModel, x: np.ndarray) -> np.ndarray:
    """(N, n_out) network outputs, plus a last column with the score for zoo models."""
    if model.chain is not None:
        result = model.chain.emulate(x)
        return np.column_stack([result["network"], result["score"]])
    from codesign.fixed.emulator import emulate

    return emulate(model.graph, x)


def run(target: str, input_path: Path, output: Path, mapping: Path | None = None,
        chunk_rows: int = CHUNK_ROWS, hls_config: Path | None = None) -> str:
    """Emulate `target` on the inputs of `input_path` into `output` (.npy); returns a summary.
    `hls_config`: explicit layer precisions (`codesign.fixed.precisions`)."""
    output = check_output(output, folder=False, inputs=(input_path, target))
    model = load_model(target, hls_config)
    n, chunks = input_chunks(input_path, model, mapping, chunk_rows)
    n_cols = model.graph.output_shape[-1] + (model.chain is not None)
    with atomic_path(output, folder=False) as tmp, open(tmp, "wb") as handle:
        # plain writes, not a memory map: a full disk is then an OSError (ENOSPC), not a SIGBUS
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f8")), "fortran_order": False, "shape": (n, n_cols)}
        np.lib.format.write_array_header_1_0(handle, header)
        for x in chunks:
            handle.write(emulate_model(model, x).reshape(len(x), n_cols).astype("<f8").tobytes())
    n_out = model.graph.output_shape[-1]
    layout = f"columns 0..{n_out - 1}: network outputs" + (f", column {n_out}: score" if model.chain else "")
    source = "raw hardware inputs scaled by the card" if model.chain else model.input_note
    return f"wrote ({n}, {n_cols}) to {output} ({layout}; inputs: {source})"
