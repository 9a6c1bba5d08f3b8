"""Silences end to end: an alert a silence covers stays in the stream but is not delivered;
after the silence ends, alerts go out again; acknowledgements show in the listings."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import redis

from analyzer.records import Alert
from analyzer.service import keys
from tests.support.receiver import Receiver
from tests.support.webhooks import make_alert, of_alert, unique_type


def test_a_silenced_alert_is_held_back_until_the_silence_ends(
    http: httpx.Client,
    client: redis.Redis,
    sink: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    xadd: Callable[[Alert], bytes],
    eventually: Callable[..., Any],
) -> None:
    family = unique_type()
    url = sink.endpoint()
    subscribe(url, event_types=[f"{family}.a", f"{family}.b"])
    made = http.post("/api/v1/silences", json={"type": f"{family}.*", "seconds": 600})
    assert made.status_code == 201, made.text
    silence = made.json()
    try:
        quiet = make_alert(f"{family}.a")
        xadd(quiet)
        other = make_alert(unique_type())  # not covered: proves the dispatcher kept going
        subscribe(url2 := sink.endpoint(), event_types=[other.type])
        xadd(other)
        eventually(lambda: of_alert(sink, url2, other))
        assert of_alert(sink, url, quiet) == []
        listed = http.get("/api/v1/silences").json()["silences"]
        assert [s["id"] for s in listed] == [silence["id"]]
    finally:
        assert http.delete(f"/api/v1/silences/{silence['id']}").status_code == 204
    loud = make_alert(f"{family}.b")
    xadd(loud)
    eventually(lambda: of_alert(sink, url, loud))
    assert of_alert(sink, url, quiet) == []


def test_silences_are_validated_and_expire(http: httpx.Client, client: redis.Redis) -> None:
    for body in (
        {"type": "edge.collapse"},
        {"seconds": 60},
        {"type": "edge.collapse", "seconds": 60, "expires_at": time.time() + 60},
        {"type": "edge.collapse", "seconds": 60, "until": 1},
    ):
        assert http.post("/api/v1/silences", json=body).status_code in (400, 422), body
    past = {"run_id": "r", "expires_at": time.time() - 1}
    assert http.post("/api/v1/silences", json=past).status_code == 400
    brief = http.post("/api/v1/silences", json={"run_id": "r", "seconds": 0.2}).json()
    time.sleep(0.3)
    assert brief["id"] not in [s["id"] for s in http.get("/api/v1/silences").json()["silences"]]
    expired = http.get("/api/v1/silences", params={"expired": True}).json()["silences"]
    assert brief["id"] in [s["id"] for s in expired]
    client.hdel(keys.SILENCES, brief["id"])


def test_acknowledged_and_silenced_show_in_the_listing(
    http: httpx.Client, client: redis.Redis, run_id: str, start_run: Callable[..., None]
) -> None:
    start_run(run_id, now=time.time())
    alert = make_alert("edge.collapse", run_id=run_id)
    client.xadd(keys.run_alerts(run_id), {"alert": alert.model_dump_json()})
    ack = http.post(f"/api/v1/alerts/{alert.id}/ack", json={"comment": "known: lr spike"})
    assert ack.status_code == 200 and ack.json()["comment"] == "known: lr spike"
    silence = http.post("/api/v1/silences", json={"run_id": run_id, "seconds": 600}).json()
    try:
        (entry,) = http.get(f"/api/v1/runs/{run_id}/alerts").json()["alerts"]
        assert entry["acknowledged"]["comment"] == "known: lr spike" and entry["silenced"]
    finally:
        http.delete(f"/api/v1/silences/{silence['id']}")
        client.hdel(keys.ACKS, alert.id)
    (entry,) = http.get(f"/api/v1/runs/{run_id}/alerts").json()["alerts"]
    assert entry["acknowledged"] is None and not entry["silenced"]
    assert http.post("/api/v1/alerts/not-an-alert/ack").status_code in (400, 422)
