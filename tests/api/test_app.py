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
from tests.support.webhooks import of_alert


@pytest.fixture(scope="module")
def redis_url(private_redis: str) -> str:
    """A private Redis: no other consumer of the group may take the alert this module publishes."""
    return private_redis


@pytest.fixture
def patient(redis_url: str) -> ApiSettings:
    """Settings whose dispatcher waits 30 s between attempts."""
    return ApiSettings(
        redis_url=redis_url,
        webhook_timeout=2.0,
        webhook_backoff_base=30.0,
        webhook_backoff_cap=30.0,
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
    url = receiver.endpoint(500)
    first = serve(create_app(patient))
    with first, httpx.Client(base_url=first.url) as http:
        body = {"url": url, "event_types": [event.type]}
        assert http.post("/api/v1/webhooks", json=body).status_code == 201
        publish(event)
        eventually(lambda: of_alert(receiver, url, event))
        time.sleep(3.0)  # TEMP widen window
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 3.0, "stop waited for the 30 s backoff"
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
