"""Alert webhooks end to end: an alert XADDed to the stream reaches a real receiver, signed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from analyzer.records import Alert
from api.webhooks.delivery import envelope, message_id
from api.webhooks.signing import verify
from api.webhooks.subscriptions import Subscription

Subscribe = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def redis_url(private_redis: str) -> str:
    """Deliveries here run on a private Redis, so no other api's dispatcher takes these alerts."""
    return private_redis


def unique_type() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


def test_envelope_and_message_id_are_pure_and_stable(alert: Callable[[str], Alert]) -> None:
    event = alert("edge.collapse")
    doc = json.loads(envelope(event))
    assert doc["type"] == "edge.collapse"
    assert doc["data"] == event.model_dump(mode="json")
    assert doc["timestamp"].endswith("Z")
    assert abs(datetime.fromisoformat(doc["timestamp"]).timestamp() - event.created_at) < 1e-3
    sub = Subscription(id="wh_1", url="http://x", event_types=["*"], secret="s", created_at=0)
    other = sub.model_copy(update={"id": "wh_2"})
    assert message_id(event, sub) == message_id(event, sub)
    assert message_id(event, sub) != message_id(event, other)
    assert message_id(event, sub).startswith("msg_")


def test_subscription_matching() -> None:
    sub = Subscription(id="wh_1", url="http://x", event_types=["a.b"], secret="s", created_at=0)
    assert sub.matches("a.b") and not sub.matches("a.c")
    assert sub.model_copy(update={"event_types": ["*"]}).matches("anything")
    assert not sub.model_copy(update={"enabled": False}).matches("a.b")


def test_alert_reaches_the_receiver_signed(
    receiver: Any,
    subscribe: Subscribe,
    publish: Callable[[Alert], None],
    alert: Callable[[str], Alert],
    eventually: Callable[..., Any],
    holds: Callable[[str, Alert], bool],
    settings: Any,
) -> None:
    event_type = unique_type()
    url = receiver.endpoint()
    sub = subscribe(url, event_types=[event_type])
    ignored = subscribe(receiver.endpoint(), event_types=[unique_type()])
    event = alert(event_type)
    publish(event)

    (request,) = eventually(lambda: receiver.of_alert(url, event.id))
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    verify(sub["secret"], request.headers, request.body, now=int(time.time()))
    doc = request.json()
    assert set(doc) == {"type", "timestamp", "data"}
    assert doc["type"] == event_type
    assert doc["data"] == event.model_dump(mode="json")
    assert abs(datetime.fromisoformat(doc["timestamp"]).timestamp() - event.created_at) < 1e-3
    eventually(lambda: not holds(settings.webhook_consumer, event))
    assert receiver.of_alert(ignored["url"], event.id) == []


def test_retry_after_a_500_keeps_the_webhook_id(
    http: httpx.Client,
    receiver: Any,
    subscribe: Subscribe,
    publish: Callable[[Alert], None],
    alert: Callable[[str], Alert],
    eventually: Callable[..., Any],
) -> None:
    event_type = unique_type()
    url = receiver.endpoint(500)
    sub = subscribe(url, event_types=[event_type])
    event = alert(event_type)
    publish(event)

    def two() -> list[Any] | None:
        hits: list[Any] = receiver.of_alert(url, event.id)
        return hits[:2] if len(hits) >= 2 else None

    first, second = eventually(two)
    assert (first.status, second.status) == (500, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    for request in (first, second):
        verify(sub["secret"], request.headers, request.body, now=int(time.time()))

    def log() -> list[dict[str, Any]] | None:
        found = http.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["deliveries"]
        return found if len(found) == 2 else None

    newest, oldest = eventually(log)
    assert (oldest["attempt"], oldest["status"], oldest["outcome"]) == (1, 500, "retry")
    assert oldest["next_delay"] is not None
    assert (newest["attempt"], newest["status"], newest["outcome"]) == (2, 200, "delivered")
    assert newest["msg_id"] == oldest["msg_id"] == first.headers["webhook-id"]


def test_gives_up_after_the_last_attempt(
    http: httpx.Client,
    receiver: Any,
    subscribe: Subscribe,
    publish: Callable[[Alert], None],
    alert: Callable[[str], Alert],
    eventually: Callable[..., Any],
    settings: Any,
) -> None:
    event_type = unique_type()
    url = receiver.endpoint(*[503] * 10)
    sub = subscribe(url, event_types=[event_type])
    event = alert(event_type)
    publish(event)

    def log() -> list[dict[str, Any]] | None:
        found = http.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["deliveries"]
        return found if found and found[0]["outcome"] == "failed" else None

    attempts = eventually(log)
    assert [a["attempt"] for a in attempts] == [3, 2, 1]
    assert len(receiver.of_alert(url, event.id)) == settings.webhook_max_attempts


def test_410_disables_the_subscription(
    http: httpx.Client,
    receiver: Any,
    subscribe: Subscribe,
    publish: Callable[[Alert], None],
    alert: Callable[[str], Alert],
    eventually: Callable[..., Any],
) -> None:
    event_type = unique_type()
    url = receiver.endpoint(410)
    sub = subscribe(url, event_types=[event_type])
    publish(alert(event_type))

    def disabled() -> dict[str, Any] | None:
        doc: dict[str, Any] = http.get(f"/api/v1/webhooks/{sub['id']}").json()
        return None if doc["enabled"] else doc

    assert "410" in eventually(disabled)["disabled_reason"]
    later = alert(event_type)
    publish(later)
    follow = alert(event_type)
    other_url = receiver.endpoint()
    subscribe(other_url, event_types=[event_type])
    publish(follow)
    eventually(lambda: receiver.of_alert(other_url, follow.id))
    assert receiver.of_alert(url, later.id) == [] and receiver.of_alert(url, follow.id) == []
