"""`/api/v1/runs` against a real uvicorn server and runs written through the analyzer's store."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from analyzer.records import WindowRecord
from analyzer.service.store import Store
from producer.wire import Kind, Message
from tests.support.seeding import apply_message, write_record


def test_list_runs_newest_first(
    http: httpx.Client, run_id: str, start_run: Callable[..., None], client: Any
) -> None:
    older = f"{run_id}-older"
    try:
        start_run(older, now=1_000.0, project=run_id)
        start_run(run_id, now=2_000.0, project=run_id)
        response = http.get("/api/v1/runs", params={"filter": f"project = '{run_id}'"})
        assert response.status_code == 200
        ids = [run["run_id"] for run in response.json()["runs"]]
        assert ids == [run_id, older]
    finally:
        client.delete(*client.scan_iter(match=f"se:{{{older}}}:*"))
        client.zrem("se:runs", older)


def test_get_run(http: httpx.Client, run_id: str, start_run: Callable[..., None]) -> None:
    start_run(run_id, now=1_700_000_000.0, project="grok")
    response = http.get(f"/api/v1/runs/{run_id}")
    assert response.status_code == 200
    run = response.json()
    assert run["run_id"] == run_id
    assert run["project"] == "grok"
    assert run["state"] == "running"
    assert run["created_at"] == 1_700_000_000.0
    assert run["config"]["every"] == 10


def test_run_configuration_is_flat(http: httpx.Client, run_id: str, store: Store) -> None:
    settings = {"project": "grok", "every": 5, "dim": 8, "lr_hint": 0.1}
    body = {"project": "grok", "every": 5, "d": 8, "world": 2, "config": settings}
    apply_message(store, Message(kind=Kind.START, run=run_id, seq=0, d=8, body=body), 1.0)
    config = http.get(f"/api/v1/runs/{run_id}").json()["config"]
    assert config == {"every": 5, "dim": 8, "lr_hint": 0.1, "world": 2}


def test_unknown_run_is_404(http: httpx.Client) -> None:
    missing = f"api-test-missing-{uuid.uuid4().hex}"
    for path in (f"/api/v1/runs/{missing}", f"/api/v1/runs/{missing}/metrics"):
        response = http.get(path)
        assert response.status_code == 404
        body = response.json()
        assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert missing in body["message"]


def test_metrics_full_history_and_step_range(
    http: httpx.Client,
    run_id: str,
    store: Store,
    start_run: Callable[..., None],
    record: Callable[..., WindowRecord],
) -> None:
    start_run(run_id, now=1.0)
    written = [record(run_id, index) for index in (10, 11, 12)]
    for rec in written:
        assert write_record(store.client, rec)
    write_record(store.client, record(run_id, 12, window=20))

    response = http.get(f"/api/v1/runs/{run_id}/metrics")
    assert response.status_code == 200
    body = response.json()
    assert (body["run_id"], body["group"], body["window"]) == (run_id, "all", 10)
    assert [WindowRecord.model_validate(r) for r in body["records"]] == written

    ranged = http.get(
        f"/api/v1/runs/{run_id}/metrics", params={"start_step": 105, "end_step": 110}
    ).json()
    assert [r["step"] for r in ranged["records"]] == [110]
    assert [
        r["step"]
        for r in http.get(f"/api/v1/runs/{run_id}/metrics", params={"window": 20}).json()["records"]
    ] == [120]
    other = http.get(f"/api/v1/runs/{run_id}/metrics", params={"group": "attn"}).json()
    assert other["records"] == []


def test_metrics_parameter_errors_are_400(http: httpx.Client, run_id: str) -> None:
    bad: list[dict[str, str | int]] = [
        {"window": "ten"},
        {"window": 1},
        {"start_step": -1},
        {"start_step": 20, "end_step": 10},
        {"group": ""},
    ]
    for params in bad:
        response = http.get(f"/api/v1/runs/{run_id}/metrics", params=params)
        assert response.status_code == 400, params
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert response.json()["message"]


def test_unknown_endpoint_has_the_error_shape(http: httpx.Client) -> None:
    response = http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    response = http.put("/api/v1/runs")
    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
