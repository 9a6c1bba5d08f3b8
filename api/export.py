"""Tables of window records and scalars as CSV or Parquet: one row per step, one column per value.

A record's columns are those of `analyzer.records.flat_record` (`sigma_1`, `ratio_1`,
`k_star_argmax`, ..., `flags` `;`-joined). Parquet needs
pyarrow, an optional extra (`pip install 'spectral-edge[parquet]'`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from api.errors import ApiError


class Format(StrEnum):
    """What a table endpoint answers with."""

    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


MEDIA_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.PARQUET: "application/vnd.apache.parquet",
}


def scalar_row(point: Mapping[str, Any]) -> dict[str, Any]:
    """One logged-scalars point `{"step", "values"}` as `step` plus one column per name."""
    return {"step": point["step"], **point["values"]}


def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every column name of `rows`, in first-seen order (records of one series can differ)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def encode(rows: list[dict[str, Any]], fmt: Format) -> bytes:
    """The rows as a CSV or Parquet file; a missing value is an empty cell (CSV) or a null."""
    names = columns(rows)
    if fmt is Format.CSV:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ApiError(
            501, "NOT_IMPLEMENTED", "format=parquet needs pyarrow on the api's machine"
        ) from None
    table = pa.table({name: [row.get(name) for row in rows] for name in names})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
