"""An hls4ml (Vitis, io_parallel) project written from a (Q)Keras model and its fixed-point graph.

The project is a complete Vitis HLS project (``build_prj.tcl``, ``firmware/``, test bench), plus a
C-simulation library built with g++ from the same sources, which `HLSProject.predict` runs.

Determinism: the HLS sources are byte-identical for the same model and settings (weights are
written into ``firmware/weights/*.h`` rather than also as ``.txt`` files, and hls4ml's random
library stamp is replaced by a hash of the graph and settings).  Two files hls4ml writes for its
own re-conversion are not: ``hls4ml_config.yml`` holds the absolute project and model paths, and
``keras_model.keras`` (a zip) records the time it was saved.  `SOURCE_EXCLUDES` lists them.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hls4ml
import numpy as np

from codesign.errors import CodesignError, one_line
from codesign.fixed.graph import Graph
from codesign.hls.config import enforce_precisions, hls_config

#: Files of a written project that are not sources, or not reproducible (see the module docstring).
SOURCE_EXCLUDES = ("hls4ml_config.yml", "keras_model.keras", "*.so")


@dataclass
class HLSProject:
    """A written hls4ml project and, once compiled, its C-simulation library."""

    path: Path
    name: str
    stamp: str
    graph: Graph
    _top: Callable[[int, int], None] | None = field(default=None, repr=False)

    def compile(self) -> None:
        """Build the C-simulation library (`csim_sources`, one cached g++ build, see `codesign.hls.build`)
        into ``firmware/<name>-<stamp>.so``, where ``build_lib.sh`` puts it, and load it."""
        from codesign.hls.build import build_library

        build_library(self.path, csim_sources(self.path, self.name), csim_includes(self.path),
                      self.path / "firmware" / f"{self.name}-{self.stamp}.so")
        # dlopen caches by path: load a private copy so a rebuilt library is never mistaken for the old one
        fd, copy = tempfile.mkstemp(suffix=".so", prefix=f"{self.name}-")
        os.close(fd)
        try:
            shutil.copyfile(self.path / "firmware" / f"{self.name}-{self.stamp}.so", copy)
            top = getattr(ctypes.CDLL(copy), f"{self.name}_double")
        finally:
            os.unlink(copy)
        top.argtypes, top.restype = [ctypes.c_void_p, ctypes.c_void_p], None
        self._top = top

    def predict(self, x_real: np.ndarray) -> np.ndarray:
        """Run the C simulation on real-valued inputs (the C-sim casts them to the input format)."""
        if self._top is None:
            raise CodesignError(f"the C simulation of {self.path} is not compiled; call compile() first")
        n_in, n_out = int(np.prod(self.graph.input_shape)), int(np.prod(self.graph.output_shape))
        x = np.ascontiguousarray(x_real, dtype=np.float64)
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != n_in:
            raise CodesignError(f"inputs of shape {x.shape} are not events of the model input {self.graph.input_shape}")
        x = x.reshape(len(x), n_in)
        out = np.zeros((len(x), n_out), dtype=np.float64)
        x_addr, out_addr = x.ctypes.data, out.ctypes.data
        x_step, out_step = x.strides[0], out.strides[0]
        for i in range(len(x)):
            self._top(x_addr + i * x_step, out_addr + i * out_step)
        return out.reshape(len(x), *self.graph.output_shape)

    def source_files(self) -> list[Path]:
        """The project's reproducible files, sorted, relative to its folder."""
        files = (p.relative_to(self.path) for p in self.path.rglob("*") if p.is_file())
        return sorted(p for p in files if not any(p.match(pattern) for pattern in SOURCE_EXCLUDES))


def csim_sources(path: Path, name: str) -> list[Path]:
    """The C-simulation's sources: the network and hls4ml's bridge, plus the trigger wrapper and its bridge
    once written (`codesign.hls.trigger`), so one library serves the network and the trigger checks."""
    sources = [path / "firmware" / f"{name}.cpp", path / f"{name}_bridge.cpp"]
    trigger = [path / "firmware" / f"{name}_trigger.cpp", path / f"{name}_trigger_bridge.cpp"]
    return sources + trigger if trigger[0].is_file() else sources


def csim_includes(path: Path) -> list[Path]:
    return [path / "firmware", path / "firmware" / "ap_types"]


def project_name(graph: Graph) -> str:
    """A C++ identifier from the graph's name (it names the top function and the files)."""
    from codesign.identifiers import cpp_name

    return cpp_name(graph.name)


def write_project(
    model, graph: Graph, out_dir: Path, part: str, clock_period_ns: float, reuse_factor: int = 1,
    compile_csim: bool = True,
) -> HLSProject:
    """Convert `model` with hls4ml using `graph`'s formats, write the project to `out_dir` and compile the C-sim.

    `out_dir` must be new, empty, or a previously written hls4ml project (which is replaced).
    """
    out_dir = Path(out_dir).absolute()
    _prepare(out_dir)
    name = project_name(graph)
    try:
        stamp = _write(model, graph, out_dir, name, part, clock_period_ns, reuse_factor)
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)  # never leave a partial project behind
        raise
    project = HLSProject(out_dir, name, stamp, graph)
    if compile_csim:
        project.compile()
    return project


def _write(model, graph: Graph, out_dir: Path, name: str, part: str, clock_period_ns: float, reuse_factor: int) -> str:
    """Convert and write the project; returns its library stamp."""
    config = hls_config(model, graph, reuse_factor)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, output_dir=str(out_dir), project_name=name, backend="Vitis", io_type="io_parallel",
                hls_config=config, part=part, clock_period=clock_period_ns, write_weights_txt=False,
            )
    except Exception as err:  # hls4ml raises bare exceptions for unsupported models
        raise CodesignError(f"hls4ml cannot convert {graph.name}: {one_line(err)}") from err
    enforce_precisions(hls_model, model, graph)
    settings = f"{graph.to_json()}|{part}|{clock_period_ns}|{reuse_factor}|{hls4ml.__version__}"
    stamp = hashlib.sha256(settings.encode()).hexdigest()[:8]
    hls_model.config.config["Stamp"] = stamp
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model.config.backend.writer.write_hls(hls_model)  # not hls_model.write(): it draws a random stamp
    return stamp


def _prepare(out_dir: Path) -> None:
    if out_dir.is_file() or (out_dir.is_dir() and any(out_dir.iterdir())
                             and not (out_dir / "hls4ml_config.yml").is_file()):
        raise CodesignError(f"{out_dir} exists and is not an hls4ml project; choose a new or empty folder")
    if out_dir.is_dir():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
