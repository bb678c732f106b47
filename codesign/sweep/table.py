"""The sweep's results table: `results.csv` (rows appended as points finish, rewritten sorted) and beside it
`results.parquet`, the same rows with typed columns (figures and numeric grid values as numbers, empty cells
null), rewritten from the CSV each time the CSV changes.

`auc_diff_min` compares each point with the committed model on the same samples: the smallest difference of
firmware AUCs over the signals (point minus committed; >= -0.01 is "within 0.01 on every signal").  It is filled
when the table is rewritten (at the start and the end of a run), from the `committed` row; empty without one."""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from codesign.atomic import atomic_path

PARQUET_SUFFIX = ".parquet"
#: Integer figure columns; the other figures are floats.
INTEGER_COLUMNS = ("lut", "ff", "dsp", "latency_cycles")
DIFF_COLUMN = "auc_diff_min"


def read_table(results: Path) -> list[dict[str, str]]:
    """The complete rows of a results table, one per point (the last one wins), committed model first, then by
    point; a torn last line (a killed run) is left out."""
    rows: dict[str, dict[str, str]] = {}
    if results.is_file():
        with results.open(newline="") as stream:
            for row in csv.DictReader(stream):
                if None not in row and None not in row.values() and row.get("point"):
                    rows[row["point"]] = row
    return sorted(rows.values(), key=lambda r: -1 if r["point"] == "committed" else int(r["point"]))


def versus_committed(rows: list[dict[str, str]], signals: list[str]) -> None:
    """Set every row's `auc_diff_min`: min over `signals` of (its firmware AUC - the committed row's); empty for a
    failed row, and for every row without a finished committed one."""
    committed = next((r for r in rows if r["point"] == "committed" and r["status"] == "ok"), None)
    for row in rows:
        row[DIFF_COLUMN] = ("" if committed is None or row["status"] != "ok" else
                            repr(min(float(row[f"auc_{s}"]) - float(committed[f"auc_{s}"]) for s in signals)))


def rewrite(results: Path, header: list[str], keep: Callable[[dict[str, str]], bool],
            types: dict[str, str], signals: list[str]) -> list[dict[str, str]]:
    """The table's rows that `keep` accepts, sorted (`read_table`), `auc_diff_min` filled for `signals`, written
    atomically with `header` (and the Parquet twin)."""
    ordered = [row for row in read_table(results) if keep(row)]
    versus_committed(ordered, signals)
    with atomic_path(results) as tmp, tmp.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, header, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(ordered)
    write_parquet(results, header, types)
    return ordered


@contextlib.contextmanager
def appending(results: Path, header: list[str], types: dict[str, str]) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A function that appends one row to the table (flushed, the Parquet twin rewritten)."""
    with results.open("a", newline="") as stream:
        writer = csv.DictWriter(stream, header, extrasaction="raise")

        def append(row: dict[str, Any]) -> None:
            writer.writerow(row)
            stream.flush()
            write_parquet(results, header, types)

        yield append


def column_types(header: list[str], figures: list[str], parameters: dict[str, list]) -> dict[str, str]:
    """Each column's Parquet type (`int64`, `double` or `string`): figures are numbers, a grid entry is a number
    column when all its values are numbers (of one kind), else its values' JSON text."""
    types = {}
    for name in header:
        values = parameters.get(name)
        if name in INTEGER_COLUMNS or values is not None and all(type(v) is int for v in values):
            types[name] = "int64"
        elif name in figures or values is not None and all(type(v) in (int, float) for v in values):
            types[name] = "double"
        else:
            types[name] = "string"
    return types


def write_parquet(results: Path, header: list[str], types: dict[str, str]) -> Path:
    """`results.parquet` beside `results` from its complete rows (`read_table`), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = read_table(results)
    columns = {name: pa.array([_typed(row.get(name, ""), types[name]) for row in rows], type=types[name])
               for name in header}
    target = results.with_suffix(PARQUET_SUFFIX)
    with atomic_path(target) as tmp:
        pq.write_table(pa.table(columns), tmp)
    return target


def _typed(text: str, kind: str) -> Any:
    if text == "":
        return None
    if kind == "string":
        return text
    value = json.loads(text) if text not in ("nan", "inf", "-inf") else float(text)
    return int(value) if kind == "int64" else float(value)
