"""Tables of window records and scalars: flattened columns, CSV, Parquet, and Parquet's absence."""

from __future__ import annotations

import csv
import io
import sys

import pyarrow.parquet as pq
import pytest

from analyzer.records import flat_record
from api.errors import ApiError
from api.export import Format, columns, encode, scalar_row

RECORD = {
    "run_id": "r",
    "step": 10,
    "sigma": [3.0, 1.0],
    "ratios": [3.0],
    "k_star": {"argmax": 1, "weighted": 2, "floor": 1},
    "edge_ratio": 3.0,
    "energy": [0.9, 0.1],
    "direction_stability": None,
    "flags": ["nonfinite", "late"],
}


def test_a_record_becomes_one_flat_row() -> None:
    assert flat_record(RECORD) == {
        "run_id": "r",
        "step": 10,
        "sigma_1": 3.0,
        "sigma_2": 1.0,
        "ratio_1": 3.0,
        "k_star_argmax": 1,
        "k_star_weighted": 2,
        "k_star_floor": 1,
        "edge_ratio": 3.0,
        "energy_1": 0.9,
        "energy_2": 0.1,
        "direction_stability": None,
        "flags": "nonfinite;late",
    }


def test_columns_are_the_union_in_first_seen_order() -> None:
    rows = [scalar_row({"step": 1, "values": {"a": 1.0}}), {"step": 2, "b": 2.0, "a": 0.5}]
    assert columns(rows) == ["step", "a", "b"]
    text = encode(rows, Format.CSV).decode()
    assert list(csv.reader(io.StringIO(text))) == [
        ["step", "a", "b"],
        ["1", "1.0", ""],
        ["2", "0.5", "2.0"],
    ]


def test_parquet_keeps_types_and_missing_values() -> None:
    rows = [flat_record(RECORD), {"step": 20, "sigma_1": 2.5, "sigma_3": 0.1}]
    table = pq.read_table(io.BytesIO(encode(rows, Format.PARQUET)))
    assert table.column_names == columns(rows)
    assert table.column("step").to_pylist() == [10, 20]
    assert table.column("sigma_3").to_pylist() == [None, 0.1]
    assert table.column("flags").to_pylist() == ["nonfinite;late", None]
    assert pq.read_table(io.BytesIO(encode([], Format.PARQUET))).num_rows == 0


def test_parquet_without_pyarrow_is_a_clear_501(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ApiError) as refused:
        encode([{"step": 1}], Format.PARQUET)
    assert refused.value.status == 501 and "pyarrow" in str(refused.value)
