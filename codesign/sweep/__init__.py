"""Resource-vs-physics sweeps over a card's quantization and architecture, on Dask, with Pareto fronts."""

from codesign.sweep.grid import Grid, Point, load_grid
from codesign.sweep.pareto import front_mask
from codesign.sweep.point import SweepData
from codesign.sweep.run import promote, sweep

__all__ = ["Grid", "Point", "SweepData", "front_mask", "load_grid", "promote", "sweep"]
