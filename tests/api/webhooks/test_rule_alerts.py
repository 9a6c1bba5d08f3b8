"""A user rule end to end: made through the api, evaluated by a real ingestor on a NaN loss, its
alert listed by the api and delivered, signed, to a real receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import redis
from standardwebhooks.webhooks import Webhook

from analyzer.service.config import AnalyzerSettings
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.store import Store
from producer.wire import Kind, Message
from tests.support.receiver import Receiver
from tests.support.seeding import handle_message


def test_a_nonfinite_rule_alerts_through_the_webhooks(
    http: httpx.Client,
    client: redis.Redis,
    run_id: str,
    sink: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    eventually: Callable[..., Any],
) -> None:
    made = http.post("/api/v1/rules", json={
        "name": "loss diverged", "metric": "train_loss", "condition": "nonfinite", "run_id": run_id,
    })  # fmt: skip
    assert made.status_code == 201, made.text
    rule = made.json()
    try:
        url = sink.endpoint()
        sub = subscribe(url, event_types=["rule.nonfinite"], rules=[f"rule:{rule['id']}"])
        ingest = Ingestor(Store(client), AnalyzerSettings(windows=[2]), Counters())
        handle_message(ingest, Message(Kind.START, run_id, 0, body={"d": 8}), 1.0)
        for seq, loss in enumerate([2.0, 1.5, float("nan")], start=1):
            ingest.handle_batch([Message(Kind.SCALARS, run_id, seq, step=10 * seq,
                                         body={"values": {"train_loss": loss}})], 2.0)  # fmt: skip
        listed = http.get(f"/api/v1/runs/{run_id}/alerts", params={"rule": "rule.*"}).json()
        (alert,) = listed["alerts"]
        assert alert["type"] == "rule.nonfinite" and alert["step"] == 30
        assert alert["detector"] == f"rule:{rule['id']}"
        assert alert["message"].startswith("loss diverged: train_loss is nan")
        (hit,) = eventually(lambda: sink.hits(url))
        doc = Webhook(sub["secret"]).verify(hit.body, hit.headers)
        assert doc["type"] == "rule.nonfinite" and doc["data"]["id"] == alert["id"]
        points = http.get(f"/api/v1/runs/{run_id}/scalars").json()["points"]
        assert [p["values"] for p in points] == [{"train_loss": 2.0}, {"train_loss": 1.5}, {}]
    finally:
        assert http.delete(f"/api/v1/rules/{rule['id']}").status_code == 204
