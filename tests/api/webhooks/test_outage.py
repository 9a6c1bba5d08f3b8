"""A receiver that is down, then answers 503 with Retry-After, then 200, gets the alert once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from analyzer.records import Alert
from analyzer.service import keys
from api.config import ApiSettings
from api.webhooks.stream import GROUP
from tests.support.receiver import Receiver
from tests.support.webhooks import make_alert, unique_type, webhook_settings

RETRY_AFTER = 1


@pytest.fixture(scope="module")
def settings(redis_url: str) -> ApiSettings:
    """Enough attempts to outlast a short outage; the cap leaves room for Retry-After."""
    return webhook_settings(
        redis_url, webhook_max_attempts=12, webhook_backoff_base=0.1, webhook_backoff_cap=2.0
    )


@pytest.fixture
def down() -> Iterator[Receiver]:
    """A receiver on a free port that is not serving yet; the test starts it."""
    receiver = Receiver()
    yield receiver
    receiver.stop()


def test_outage_then_retry_after_then_success_delivers_exactly_once(
    http: httpx.Client,
    down: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    xadd: Callable[[Alert], bytes],
    eventually: Callable[..., Any],
    client: redis.Redis,
    settings: ApiSettings,
) -> None:
    url = down.endpoint((503, {"retry-after": str(RETRY_AFTER)}))
    sub = subscribe(url, event_types=[event_type := unique_type()])
    xadd(make_alert(event_type))
    log_path = f"/api/v1/webhooks/{sub['id']}/deliveries"

    def log() -> list[dict[str, Any]]:
        deliveries: list[dict[str, Any]] = http.get(log_path).json()["deliveries"]
        return deliveries[::-1]

    eventually(lambda: len(log()) >= 3)
    down.start()
    eventually(lambda: log()[-1]["outcome"] == "delivered")
    time.sleep(RETRY_AFTER + 0.5)

    hits = down.hits(url)
    assert [h.status for h in hits] == [503, 200]
    assert hits[1].at - hits[0].at >= RETRY_AFTER
    assert hits[0].headers["webhook-id"] == hits[1].headers["webhook-id"]
    attempts = log()
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    *outage, refused, accepted = attempts
    assert len(outage) >= 3
    assert all(a["status"] is None and "Connect" in a["error"] for a in outage)
    assert all(a["outcome"] == "retry" and a["next_delay"] is not None for a in outage)
    assert (refused["status"], refused["outcome"]) == (503, "retry")
    assert refused["next_delay"] >= RETRY_AFTER
    assert (accepted["status"], accepted["outcome"]) == (200, "delivered")
    pending = client.xpending_range(
        keys.ALERTS, GROUP, "-", "+", 10, consumername=settings.webhook_consumer
    )
    assert pending == []
