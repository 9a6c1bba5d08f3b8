"""`GET /alerts` and `/runs/{id}/alerts` (state and rule filters, pages) and `/runs/{id}/phases`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from analyzer.records import Alert
from analyzer.service import keys
from tests.support.seeding import write_record


def _emit(
    client: Any, publish: Callable[[Alert], None], alert: Alert, run_id: str, kind: str, step: int
) -> Alert:
    event = alert.model_copy(
        update={"id": f"al_{uuid.uuid4().hex[:24]}", "run_id": run_id, "type": kind, "step": step}
    )
    client.xadd(keys.run_alerts(run_id), {"alert": event.model_dump_json()})
    publish(event)
    return event


def test_rule_state_and_pages(
    http: httpx.Client,
    run_id: str,
    start_run: Callable[..., None],
    client: Any,
    publish: Callable[[Alert], None],
    alert: Callable[[str], Alert],
) -> None:
    family = f"test{uuid.uuid4().hex[:8]}"
    start_run(run_id, now=1.0)
    base = alert("x")
    made = [_emit(client, publish, base, run_id, f"{family}.{k}", s) for k, s in
            [("rise", 10), ("collapse", 20), ("rise", 30), ("rise", 40)]]  # fmt: skip
    client.xadd(keys.run_alerts(run_id), {"alert": b"not an alert"})
    client.xadd(keys.run_alerts(run_id), {"other": b"field"})
    rises = http.get("/api/v1/alerts", params={"rule": f"{family}.rise"}).json()
    assert [a["id"] for a in rises["alerts"]] == [made[3].id, made[2].id, made[0].id]
    assert {a["state"] for a in rises["alerts"]} == {"firing"}
    pages, token = [], None
    while True:
        params = {"rule": f"{family}.*", "max_results": 3, "page_token": token}
        body = http.get(f"/api/v1/runs/{run_id}/alerts", params=params).json()
        pages.append([a["step"] for a in body["alerts"]])
        token = body["next_page_token"]
        if token is None:
            break
    assert pages == [[40, 30, 20], [10]]
    client.hset(keys.meta(run_id), "state", "finished")
    resolved = http.get("/api/v1/alerts", params={"rule": f"{family}.*", "state": "resolved"})
    assert len(resolved.json()["alerts"]) == 4
    firing = http.get("/api/v1/alerts", params={"rule": f"{family}.*", "state": "firing"})
    assert firing.json()["alerts"] == []
    assert http.get("/api/v1/alerts", params={"state": "asleep"}).status_code == 400
    assert http.get("/api/v1/alerts", params={"page_token": "nope"}).status_code == 400


def test_phases_from_phase_events(
    http: httpx.Client,
    run_id: str,
    start_run: Callable[..., None],
    store: Any,
    record: Callable[..., Any],
    client: Any,
    publish: Callable[[Alert], None],
    alert: Callable[[str], Alert],
) -> None:
    start_run(run_id, now=1.0)
    for index in range(1, 31):
        write_record(store.client, record(run_id, index))
    base = alert("x")
    for kind, step in [("phase.rise", 20), ("phase.plateau", 100), ("phase.collapse", 250)]:
        _emit(client, publish, base, run_id, kind, step)
    _emit(client, publish, base.model_copy(update={"window": 20}), run_id, "phase.rise", 5)
    body = http.get(f"/api/v1/runs/{run_id}/phases", params={"source": "events"}).json()
    assert body["phases"] == [
        {"kind": "rise", "start_step": 20, "end_step": 100},
        {"kind": "plateau", "start_step": 100, "end_step": 250},
        {"kind": "collapse", "start_step": 250, "end_step": 300},
    ]
    other = {"window": 30, "source": "events"}
    assert http.get(f"/api/v1/runs/{run_id}/phases", params=other).json()["phases"] == []
