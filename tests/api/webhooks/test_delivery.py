"""Alert webhooks end to end: alerts XADDed to the stream reach a real receiver, signed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import redis
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from analyzer.records import Alert
from analyzer.service import keys
from api.config import ApiSettings
from api.webhooks.delivery import message_id
from api.webhooks.stream import GROUP
from api.webhooks.subscriptions import Subscription
from tests.support.receiver import Receiver
from tests.support.webhooks import log_of, make_alert, of_alert, unique_type

Subscribe = Callable[..., dict[str, Any]]
Eventually = Callable[..., Any]
Xadd = Callable[[Alert], bytes]


def pending(client: redis.Redis, consumer: str) -> int:
    """How many entries `consumer` holds unacknowledged."""
    return len(client.xpending_range(keys.ALERTS, GROUP, "-", "+", 100, consumername=consumer))


def test_message_ids_are_stable_per_alert_and_subscription() -> None:
    event = make_alert("edge.collapse")
    sub = Subscription(id="wh_1", url="http://x", event_types=["*"], secret="s", created_at=0)
    other = sub.model_copy(update={"id": "wh_2"})
    assert message_id(event, sub) == message_id(event, sub)
    assert message_id(event, sub) != message_id(event, other)
    assert message_id(event, sub).startswith("msg_")


def test_alert_arrives_signed_and_verifies_independently(
    sink: Receiver,
    subscribe: Subscribe,
    xadd: Xadd,
    eventually: Eventually,
    client: redis.Redis,
    settings: ApiSettings,
) -> None:
    event_type = unique_type()
    url = sink.endpoint()
    sub = subscribe(url, event_types=[event_type])
    ignored = subscribe(sink.endpoint(), event_types=[unique_type()])
    event = make_alert(event_type)
    xadd(event)

    (hit,) = eventually(lambda: of_alert(sink, url, event))
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["webhook-id"].startswith("msg_")
    doc = Webhook(sub["secret"]).verify(hit.body, hit.headers)
    assert set(doc) == {"type", "timestamp", "data"}
    assert doc["type"] == event_type
    assert doc["data"] == event.model_dump(mode="json")
    assert abs(datetime.fromisoformat(doc["timestamp"]).timestamp() - event.created_at) < 1e-3
    eventually(lambda: pending(client, settings.webhook_consumer) == 0)
    assert sink.hits(ignored["url"]) == []


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(
    http: httpx.Client, sink: Receiver, subscribe: Subscribe, xadd: Xadd, eventually: Eventually
) -> None:
    event_type = unique_type()
    url = sink.endpoint()
    sub = subscribe(url, event_types=[event_type])
    rotated = http.post(f"/api/v1/webhooks/{sub['id']}/rotate", json={}).json()
    assert rotated["secret"] != sub["secret"] and rotated["secret"].startswith("whsec_")
    assert rotated["previous_secret_expires_at"] > time.time() + 3600
    first = make_alert(event_type)
    xadd(first)
    (hit,) = eventually(lambda: of_alert(sink, url, first))
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    for secret in (sub["secret"], rotated["secret"]):
        Webhook(secret).verify(hit.body, hit.headers)

    again = http.post(f"/api/v1/webhooks/{sub['id']}/rotate", json={"grace_seconds": 0}).json()
    assert again["previous_secret_expires_at"] is None
    second = make_alert(event_type)
    xadd(second)
    (hit,) = eventually(lambda: of_alert(sink, url, second))
    Webhook(again["secret"]).verify(hit.body, hit.headers)
    for stale in (sub["secret"], rotated["secret"]):
        try:
            Webhook(stale).verify(hit.body, hit.headers)
        except WebhookVerificationError:
            continue
        raise AssertionError("a retired secret still verifies")


def test_filters_by_project_run_and_rule(
    sink: Receiver,
    subscribe: Subscribe,
    xadd: Xadd,
    eventually: Eventually,
    start_run: Callable[..., None],
    run_id: str,
) -> None:
    event_type, other_type = unique_type(), unique_type()
    start_run(run_id, time.time(), project="vision")
    by_project = sink.endpoint()
    subscribe(by_project, event_types=["*"], projects=["vision"])
    by_run = sink.endpoint()
    subscribe(by_run, event_types=["*"], runs=[run_id])
    by_rule = sink.endpoint()
    subscribe(by_rule, event_types=["*"], rules=["lambda_max"])
    other_project = sink.endpoint()
    subscribe(other_project, event_types=["*"], projects=["nlp"])

    mine = make_alert(event_type, run_id=run_id)
    elsewhere = make_alert(other_type, detector="lambda_max")
    xadd(mine)
    xadd(elsewhere)
    eventually(lambda: of_alert(sink, by_rule, elsewhere))
    eventually(lambda: of_alert(sink, by_project, mine) and of_alert(sink, by_run, mine))
    assert of_alert(sink, by_rule, mine) == []
    assert of_alert(sink, by_project, elsewhere) == of_alert(sink, by_run, elsewhere) == []
    assert sink.hits(other_project) == []


def test_a_500_is_retried_with_the_same_webhook_id_and_logged(
    http: httpx.Client, sink: Receiver, subscribe: Subscribe, xadd: Xadd, eventually: Eventually
) -> None:
    event_type = unique_type()
    url = sink.endpoint(500)
    sub = subscribe(url, event_types=[event_type])
    event = make_alert(event_type)
    xadd(event)

    first, second = eventually(lambda: (hits := of_alert(sink, url, event))[1:] and hits)
    assert (first.status, second.status) == (500, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    newest, oldest = eventually(lambda: (log := log_of(http, sub))[1:] and log)
    assert (oldest["attempt"], oldest["status"], oldest["outcome"]) == (1, 500, "retry")
    assert oldest["next_delay"] is not None
    assert (newest["attempt"], newest["status"], newest["outcome"]) == (2, 200, "delivered")
    assert newest["msg_id"] == oldest["msg_id"] == first.headers["webhook-id"]


def test_gives_up_after_the_last_attempt(
    http: httpx.Client,
    sink: Receiver,
    subscribe: Subscribe,
    xadd: Xadd,
    eventually: Eventually,
    settings: ApiSettings,
) -> None:
    event_type = unique_type()
    url = sink.endpoint(*[503] * 10)
    sub = subscribe(url, event_types=[event_type])
    event = make_alert(event_type)
    xadd(event)

    attempts = eventually(
        lambda: (log := log_of(http, sub)) and log[0]["outcome"] == "failed" and log
    )
    assert [a["attempt"] for a in attempts] == [3, 2, 1]
    assert len(of_alert(sink, url, event)) == settings.webhook_max_attempts


def test_410_disables_the_subscription_until_re_enabled(
    http: httpx.Client, sink: Receiver, subscribe: Subscribe, xadd: Xadd, eventually: Eventually
) -> None:
    event_type = unique_type()
    url = sink.endpoint(410)
    sub = subscribe(url, event_types=[event_type])
    xadd(make_alert(event_type))
    path = f"/api/v1/webhooks/{sub['id']}"
    disabled = eventually(lambda: (doc := http.get(path).json())["enabled"] is False and doc)
    assert "410" in disabled["disabled_reason"]
    assert [a["outcome"] for a in log_of(http, sub)] == ["gone"]

    later, other_url = make_alert(event_type), sink.endpoint()
    subscribe(other_url, event_types=[event_type])
    xadd(later)
    eventually(lambda: of_alert(sink, other_url, later))
    assert of_alert(sink, url, later) == []

    enabled = http.patch(path, json={"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None
    again = make_alert(event_type)
    xadd(again)
    eventually(lambda: of_alert(sink, url, again))
