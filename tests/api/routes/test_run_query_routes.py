"""`GET /api/v1/runs` filters, ordering and page tokens; `GET /runs/{id}/state`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def five_runs(
    run_id: str, start_run: Callable[..., None], client: Any
) -> Iterator[tuple[str, list[str]]]:
    """Five runs of a project unique to the test, created at t = 1000..1004; deleted afterwards."""
    ids = [f"{run_id}-{i}" for i in range(5)]
    for i, rid in enumerate(ids):
        start_run(rid, now=1_000.0 + i, project=run_id)
    client.hset(f"se:{{{ids[1]}}}:meta", "state", "finished")
    yield run_id, ids
    for rid in ids:
        client.delete(*client.scan_iter(match=f"se:{{{rid}}}:*"))
        client.zrem("se:runs", rid)


def _all_pages(http: httpx.Client, params: dict[str, Any]) -> list[list[str]]:
    pages, token = [], None
    while True:
        body = http.get("/api/v1/runs", params={**params, "page_token": token}).json()
        pages.append([r["run_id"] for r in body["runs"]])
        token = body["next_page_token"]
        if token is None:
            return pages


def test_filter_order_and_pages(http: httpx.Client, five_runs: tuple[str, list[str]]) -> None:
    project, ids = five_runs
    params = {"filter": f"project = '{project}'", "max_results": 2}
    assert _all_pages(http, params) == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    ascending = _all_pages(http, {**params, "order_by": "created_at ASC", "max_results": 3})
    assert ascending == [ids[:3], ids[3:]]
    running = _all_pages(http, {"filter": f"project = '{project}' AND state = 'running'"})
    assert running == [[ids[4], ids[3], ids[2], ids[0]]]
    window = f"project = '{project}' AND created_at >= 1001 AND created_at < 1003"
    assert _all_pages(http, {"filter": window}) == [[ids[2], ids[1]]]


def test_bad_filters_and_tokens_are_400(
    http: httpx.Client, five_runs: tuple[str, list[str]]
) -> None:
    project, _ = five_runs
    first = http.get("/api/v1/runs", params={"filter": f"project = '{project}'", "max_results": 1})
    token = first.json()["next_page_token"]
    for params in [
        {"filter": "state = running"},
        {"filter": "name = 'x'"},
        {"order_by": "colour DESC"},
        {"max_results": 0},
        {"page_token": "garbage"},
        {"page_token": token, "filter": "state = 'running'"},
    ]:
        response = http.get("/api/v1/runs", params=params)
        assert response.status_code == 400, params
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_state(http: httpx.Client, five_runs: tuple[str, list[str]]) -> None:
    _, ids = five_runs
    assert http.get(f"/api/v1/runs/{ids[0]}/state").json()["state"] == "running"
    finished = http.get(f"/api/v1/runs/{ids[1]}/state").json()
    assert (finished["run_id"], finished["state"]) == (ids[1], "finished")
    assert http.get(f"/api/v1/runs/{ids[0]}-missing/state").status_code == 404
