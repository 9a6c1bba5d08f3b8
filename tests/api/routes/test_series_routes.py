"""Series, metric history with downsampling, latest record, latest spectrum, logged scalars."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow.parquet as pq

from analyzer.records import WindowRecord
from analyzer.service import keys
from analyzer.service.store import Store
from tests.support.seeding import write_record

Written = Callable[..., WindowRecord]


def _fill(store: Store, record: Written, run_id: str, n: int) -> list[WindowRecord]:
    written = [record(run_id, index) for index in range(1, n + 1)]
    for rec in written:
        assert write_record(store.client, rec)
    assert write_record(store.client, record(run_id, 3, window=20, group="attn"))
    return written


def test_series_latest_and_spectrum(
    http: httpx.Client, run_id: str, store: Store, start_run: Callable[..., None], record: Written
) -> None:
    start_run(run_id, now=1.0)
    written = _fill(store, record, run_id, 12)
    series = http.get(f"/api/v1/runs/{run_id}/series").json()["series"]
    assert series == [
        {"group": "all", "window": 10, "stride": 1, "latest_step": 120},
        {"group": "attn", "window": 20, "stride": 1, "latest_step": 30},
    ]
    latest = http.get(f"/api/v1/runs/{run_id}/metrics/latest").json()
    assert WindowRecord.model_validate(latest) == written[-1]
    spectrum = http.get(f"/api/v1/runs/{run_id}/spectrum", params={"group": "attn", "window": 20})
    assert spectrum.json()["sigma"] == [3.0, 1.0, 0.5]
    assert spectrum.json()["step"] == 30
    missing = http.get(f"/api/v1/runs/{run_id}/spectrum", params={"group": "mlp"})
    assert missing.status_code == 404


def test_a_stride_is_a_series_of_its_own(
    http: httpx.Client, run_id: str, store: Store, start_run: Callable[..., None], record: Written
) -> None:
    start_run(run_id, now=1.0)
    _fill(store, record, run_id, 4)
    strided = [record(run_id, i).model_copy(update={"stride": 5}) for i in (5, 10)]
    for rec in strided:
        assert write_record(store.client, rec)
    listed = http.get(f"/api/v1/runs/{run_id}/series").json()["series"]
    assert [(s["group"], s["window"], s["stride"]) for s in listed] == [
        ("all", 10, 1),
        ("all", 10, 5),
        ("attn", 20, 1),
    ]
    base = f"/api/v1/runs/{run_id}"
    history = http.get(f"{base}/metrics", params={"stride": 5}).json()
    assert history["stride"] == 5 and [r["index"] for r in history["records"]] == [5, 10]
    assert [r["index"] for r in http.get(f"{base}/metrics").json()["records"]] == [1, 2, 3, 4]
    latest = http.get(f"{base}/metrics/latest", params={"stride": 5}).json()
    assert WindowRecord.model_validate(latest) == strided[-1]
    assert http.get(f"{base}/spectrum", params={"stride": 5}).json()["stride"] == 5
    missing = http.get(f"{base}/metrics/latest", params={"stride": 7})
    assert missing.status_code == 404 and "stride=7" in missing.json()["message"]
    assert http.get(f"{base}/spectrum", params={"stride": 0}).status_code == 400
    phases = http.get(f"{base}/phases", params={"stride": 5}).json()
    assert phases["stride"] == 5 and {p["start_step"] for p in phases["phases"]} <= {50, 100}


def test_history_is_full_unless_downsampled(
    http: httpx.Client, run_id: str, store: Store, start_run: Callable[..., None], record: Written
) -> None:
    start_run(run_id, now=1.0)
    _fill(store, record, run_id, 25)
    full = http.get(f"/api/v1/runs/{run_id}/metrics").json()
    assert len(full["records"]) == 25 and not full["downsampled"]
    thin = http.get(f"/api/v1/runs/{run_id}/metrics", params={"downsample": 5}).json()
    assert [r["step"] for r in thin["records"]] == [10, 70, 130, 190, 250]
    assert thin["downsampled"]
    ranged = http.get(
        f"/api/v1/runs/{run_id}/metrics",
        params={"start_step": 100, "end_step": 140, "downsample": 100},
    ).json()
    assert [r["step"] for r in ranged["records"]] == [100, 110, 120, 130, 140]
    assert not ranged["downsampled"]


def test_scalars(
    http: httpx.Client, run_id: str, start_run: Callable[..., None], client: Any
) -> None:
    start_run(run_id, now=1.0)
    for step in (10, 20, 30):
        values = {"val_loss": 1.0 / step, "val_acc": step / 100, "note": "x", "flag": True}
        client.zadd(keys.scalars(run_id), {json.dumps({"step": step, "values": values}): step})
    points = http.get(f"/api/v1/runs/{run_id}/scalars", params={"start_step": 15}).json()["points"]
    assert points == [
        {"step": 20, "values": {"val_loss": 0.05, "val_acc": 0.2}},
        {"step": 30, "values": {"val_loss": 1.0 / 30, "val_acc": 0.3}},
    ]


def test_history_and_scalars_as_tables(http: httpx.Client, run_id: str, seeded: list) -> None:
    base = f"/api/v1/runs/{run_id}"
    answer = http.get(f"{base}/metrics", params={"format": "csv", "start_step": 20})
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition == f'attachment; filename="{run_id}-all-W10-s1.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [int(r["step"]) for r in rows] == [20, 30, 40, 50]
    assert [float(r["edge_ratio"]) for r in rows] == [r.edge_ratio for r in seeded[1:]]
    assert rows[0]["sigma_3"] == "0.5" and rows[0]["k_star_floor"] == "1"
    parquet = http.get(f"{base}/metrics", params={"format": "parquet", "downsample": 2})
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert pq.read_table(io.BytesIO(parquet.content)).column("step").to_pylist() == [10, 50]
    scalars = http.get(f"{base}/scalars", params={"format": "csv"}).text.splitlines()
    assert scalars[0] == "step,val_loss,val_acc" and len(scalars) == 4
    assert http.get(f"{base}/metrics", params={"format": "xlsx"}).status_code == 400
    missing = http.get("/api/v1/runs/no-such-run/metrics", params={"format": "csv"})
    assert missing.status_code == 404
