"""At-least-once across api restarts: a pending alert is finished by the next api.

The first api gets a 503 and would wait 30 s before its retry; it is stopped meanwhile, which
leaves the stream entry pending in the consumer group. A restarted api under the same consumer
name reads its own pending entries first; one under a new name (a replaced host) claims the
entry once it has been idle long enough (XAUTOCLAIM).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from analyzer.service import keys
from api.app import create_app
from api.config import ApiSettings
from api.webhooks.stream import GROUP
from tests.support.receiver import Receiver
from tests.support.webhooks import make_alert, unique_type, webhook_settings

Eventually = Callable[..., Any]


def patient(redis_url: str, consumer: str) -> ApiSettings:
    """An api that waits 30 s before retrying: long enough to be stopped first."""
    return webhook_settings(
        redis_url,
        webhook_consumer=consumer,
        webhook_backoff_base=30.0,
        webhook_backoff_cap=30.0,
        webhook_claim_idle=60.0,
    )


def holding(client: redis.Redis, consumer: str) -> list[Any]:
    """The entries `consumer` holds unacknowledged."""
    return list(client.xpending_range(keys.ALERTS, GROUP, "-", "+", 10, consumername=consumer))


def first_try_then_stop(
    serve: Any,
    settings: ApiSettings,
    token: str,
    sink: Receiver,
    client: redis.Redis,
    ev: Eventually,
) -> str:
    """Subscribe and publish through an api that gets a 503 and is stopped before its retry."""
    url, event_type = sink.endpoint(503), unique_type()
    with serve(create_app(settings)) as api:
        auth = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=api.url, headers=auth) as http:
            body = {"url": url, "event_types": [event_type]}
            assert http.post("/api/v1/webhooks", json=body).status_code == 201
        client.xadd(keys.ALERTS, {"alert": make_alert(event_type).model_dump_json()})
        ev(lambda: sink.hits(url))
        assert len(holding(client, settings.webhook_consumer)) == 1
    return url


@pytest.mark.parametrize("same_name", [True, False], ids=["same-consumer", "new-consumer"])
def test_a_pending_alert_is_delivered_after_a_restart(
    same_name: bool,
    serve: Any,
    redis_url: str,
    admin_token: str,
    sink: Receiver,
    client: redis.Redis,
    eventually: Eventually,
) -> None:
    before = patient(redis_url, f"api-before-{same_name}")
    url = first_try_then_stop(serve, before, admin_token, sink, client, eventually)
    assert [h.status for h in sink.hits(url)] == [503]

    name = before.webhook_consumer if same_name else f"api-after-{same_name}"
    after = webhook_settings(redis_url, webhook_consumer=name, webhook_claim_idle=0.3)
    with serve(create_app(after)):
        first, second = eventually(lambda: (hits := sink.hits(url))[1:] and hits)
        assert second.status == 200
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        eventually(lambda: not holding(client, before.webhook_consumer))
        eventually(lambda: not holding(client, after.webhook_consumer))
    assert len(sink.hits(url)) == 2
    for consumer in {before.webhook_consumer, after.webhook_consumer}:
        client.xgroup_delconsumer(keys.ALERTS, GROUP, consumer)
