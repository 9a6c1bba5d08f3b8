"""The app factory's lifespan: the dispatcher stops fast mid-backoff and resumes after a restart.

This module runs its own servers, one at a time, on a private Redis, so that no other consumer
of the group takes the alert it publishes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from analyzer.records import Alert
from api.app import create_app
from api.config import ApiSettings
from tests.support.receiver import Receiver
from tests.support.webhooks import log_of, of_alert

BACKOFF = 30.0


@pytest.fixture(scope="module")
def redis_url(private_redis: str) -> str:
    """A private Redis: no other consumer of the group may take the alert this module publishes."""
    return private_redis


@pytest.fixture
def patient(redis_url: str) -> ApiSettings:
    """Settings whose backoff may reach `BACKOFF` s (full jitter: a draw in [0, BACKOFF) s)."""
    return ApiSettings(
        redis_url=redis_url,
        webhook_timeout=2.0,
        webhook_backoff_base=BACKOFF,
        webhook_backoff_cap=BACKOFF,
        webhook_consumer="api-test-restart",
        webhook_allow=["127.0.0.1/32"],
        open=True,
    )


def test_restart_redelivers_what_a_stop_interrupted(
    patient: ApiSettings,
    serve: Callable[..., Any],
    receiver: Receiver,
    alert: Callable[[str], Alert],
    publish: Callable[[Alert], None],
    eventually: Callable[..., Any],
    holds: Callable[[str, Alert], bool],
) -> None:
    event = alert(f"test.{uuid.uuid4().hex[:12]}")
    # The jittered wait alone may be short enough to retry (and get the 200) before the stop;
    # Retry-After is a floor on it, so the dispatcher waits exactly BACKOFF s after this 500.
    url = receiver.endpoint((500, {"retry-after": str(int(BACKOFF))}))
    server = serve(create_app(patient))
    with server, httpx.Client(base_url=server.url) as http:
        response = http.post("/api/v1/webhooks", json={"url": url, "event_types": [event.type]})
        assert response.status_code == 201, response.text
        sub = response.json()
        publish(event)
        # The receiver records a request before answering it; the dispatcher logs the attempt
        # after the answer, just before its backoff: from then on the stop interrupts the wait.
        logged = eventually(lambda: log_of(http, sub))
        assert [(d["status"], d["outcome"], d["next_delay"]) for d in logged] == [
            (500, "retry", BACKOFF)
        ]
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 3.0, f"stop waited for the {BACKOFF} s backoff"
    assert len(of_alert(receiver, url, event)) == 1
    assert holds(patient.webhook_consumer, event)

    with serve(create_app(patient)):
        hits = eventually(lambda: of_alert(receiver, url, event)[1:])
        eventually(lambda: not holds(patient.webhook_consumer, event))
    first, again = of_alert(receiver, url, event)
    assert (first.status, again.status) == (500, 200)
    assert hits[0].headers["webhook-id"] == first.headers["webhook-id"]


def test_create_app_connects_to_nothing_until_started() -> None:
    app = create_app(ApiSettings(redis_url="redis://127.0.0.1:1/0"))
    assert app.title == "spectral-edge"
    assert not hasattr(app.state, "reader")
