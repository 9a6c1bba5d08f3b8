"""`/runs/{id}/phases` by the retrospective rule and `/runs/{id}/coupling` with its lag flip."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from analyzer.records import WindowRecord
from analyzer.service import keys
from analyzer.service.store import Store
from tests.support.seeding import write_record

Written = Callable[..., WindowRecord]


def _series(store: Store, record: Written, run_id: str, window: int, ratios: Any) -> None:
    for index, ratio in enumerate(ratios, start=1):
        rec = record(run_id, index, window=window).model_copy(update={"edge_ratio": float(ratio)})
        assert write_record(store.client, rec)


def test_reference_phases(
    http: httpx.Client, run_id: str, store: Store, start_run: Callable[..., None], record: Written
) -> None:
    start_run(run_id, now=1.0)
    ratios = [1.0, 1.2, 1.6, 2.0, 2.8, 3.0, 2.9, 2.7, 2.0, 1.5, 1.1, 1.0]
    _series(store, record, run_id, 10, ratios)
    phases = http.get(f"/api/v1/runs/{run_id}/phases").json()
    assert phases["source"] == "reference"
    assert phases["phases"] == [
        {"kind": "rise", "start_step": 30, "end_step": 50},
        {"kind": "plateau", "start_step": 50, "end_step": 80},
        {"kind": "collapse", "start_step": 110, "end_step": 120},
    ]
    flat = http.get(f"/api/v1/runs/{run_id}/phases", params={"window": 20}).json()
    assert flat["phases"] == []


def test_coupling_finds_the_lead_and_the_flip(
    http: httpx.Client,
    run_id: str,
    store: Store,
    start_run: Callable[..., None],
    record: Written,
    client: Any,
) -> None:
    start_run(run_id, now=1.0)
    rng = np.random.default_rng(0)
    n = 80
    leads = 2.0 + rng.normal(size=n)
    loss = 3.0 + np.concatenate([[0.0], -leads[:-1]])
    lags = np.concatenate([[2.0], -loss[:-1]])
    _series(store, record, run_id, 10, leads)
    _series(store, record, run_id, 20, lags)
    for i, value in enumerate(loss, start=1):
        point = json.dumps({"step": 10 * i, "values": {"val_loss": float(value)}})
        client.zadd(keys.scalars(run_id), {point: 10 * i})
    body = http.get(f"/api/v1/runs/{run_id}/coupling", params={"max_lag": 3}).json()
    by_window = {w["window"]: w for w in body["windows"]}
    assert by_window[10]["peak_lag"] == 1 and by_window[10]["peak_r"] < -0.9
    assert by_window[20]["peak_lag"] == -1
    assert by_window[10]["lags"] == [-3, -2, -1, 0, 1, 2, 3]
    assert by_window[10]["granger_p"] < 1e-6
    assert body["lag_flip"] == {
        "small_window": 10,
        "small_lag": 1,
        "large_window": 20,
        "large_lag": -1,
        "flipped": True,
    }
    short = http.get(f"/api/v1/runs/{run_id}/coupling", params={"scalar": "val_acc"}).json()
    assert all(w["error"] for w in short["windows"]) and short["lag_flip"] is None
    other = http.get(f"/api/v1/runs/{run_id}/coupling", params={"stride": 5}).json()
    assert (other["stride"], other["windows"], other["lag_flip"]) == (5, [], None)
