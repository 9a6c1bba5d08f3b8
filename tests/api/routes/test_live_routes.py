"""`GET /runs/{id}/events`: Server-Sent Events of new records, scalars, alerts, phases, state."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from analyzer.records import Alert, WindowRecord
from analyzer.service import keys
from analyzer.service.store import Store
from tests.support.seeding import write_record


def _events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, parsed data) pairs as they arrive."""
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            yield name, json.loads("\n".join(data))
            name, data = "message", []


def _stream(http: httpx.Client, run_id: str, **params: Any) -> Any:
    timeout = httpx.Timeout(10.0, read=10.0)
    return http.stream("GET", f"/api/v1/runs/{run_id}/events", params=params, timeout=timeout)


def test_new_records_alerts_and_state_arrive(
    http: httpx.Client,
    run_id: str,
    store: Store,
    start_run: Callable[..., None],
    record: Callable[..., WindowRecord],
    client: Any,
    alert: Callable[[str], Alert],
) -> None:
    start_run(run_id, now=1.0)
    write_record(store.client, record(run_id, 1))
    with _stream(http, run_id) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        assert next(events) == ("state", {"state": "running"})
        write_record(store.client, record(run_id, 2))
        assert next(events)[1]["index"] == 2
        phase = alert("phase.plateau").model_copy(update={"run_id": run_id, "step": 30})
        client.xadd(keys.run_alerts(run_id), {"alert": phase.model_dump_json()})
        scalars = {"step": 30, "values": {"val_loss": 0.5}}
        client.zadd(keys.scalars(run_id), {json.dumps(scalars): 30})
        client.hset(keys.meta(run_id), "state", "finished")
        got = dict(next(events) for _ in range(3))
    assert got == {
        "phase": json.loads(phase.model_dump_json()),
        "scalars": scalars,
        "state": {"state": "finished"},
    }


def test_since_step_replays_and_unknown_run_is_404(
    http: httpx.Client,
    run_id: str,
    store: Store,
    start_run: Callable[..., None],
    record: Callable[..., WindowRecord],
) -> None:
    start_run(run_id, now=1.0)
    for index in (1, 2, 3):
        write_record(store.client, record(run_id, index, window=20, group="attn"))
    with _stream(http, run_id, since_step=10) as response:
        events = _events(response)
        replay = [next(events) for _ in range(3)]
    assert [(name, doc.get("step")) for name, doc in replay] == [
        ("metric", 20),
        ("metric", 30),
        ("state", None),
    ]
    with _stream(http, f"{run_id}-missing") as response:
        assert response.status_code == 404
