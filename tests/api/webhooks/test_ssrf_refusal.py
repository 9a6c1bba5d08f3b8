"""Without an allow-list, private and loopback webhook targets are refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from analyzer.records import Alert
from api.config import ApiSettings
from tests.support.receiver import Receiver
from tests.support.webhooks import make_alert, unique_type, webhook_settings


@pytest.fixture(scope="module")
def settings(redis_url: str) -> ApiSettings:
    """The default: nothing allow-listed."""
    return webhook_settings(redis_url, webhook_allow=[])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[::1]:9/hook",
        "http://0.0.0.0:6379/",
    ],
)
def test_literal_private_targets_are_refused_at_creation(http: httpx.Client, url: str) -> None:
    response = http.post("/api/v1/webhooks", json={"url": url})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "not a public address" in response.json()["message"]


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    http: httpx.Client,
    sink: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    xadd: Callable[[Alert], bytes],
    eventually: Callable[..., Any],
) -> None:
    url = sink.endpoint().replace("127.0.0.1", "localhost")
    sub = subscribe(url, event_types=[event_type := unique_type()])
    xadd(make_alert(event_type))
    log_path = f"/api/v1/webhooks/{sub['id']}/deliveries"
    (attempt,) = eventually(lambda: http.get(log_path).json()["deliveries"])
    assert attempt["outcome"] == "refused" and attempt["status"] is None
    assert "not a public address" in attempt["error"]
    tested = http.post(f"/api/v1/webhooks/{sub['id']}/test").json()
    assert tested["outcome"] == "refused"
    time.sleep(0.3)
    assert sink.hits(url.replace("localhost", "127.0.0.1")) == []


def test_an_update_to_a_private_target_is_refused(
    http: httpx.Client, subscribe: Callable[..., dict[str, Any]]
) -> None:
    sub = subscribe("https://hooks.example.com/x")
    response = http.patch(f"/api/v1/webhooks/{sub['id']}", json={"url": "http://192.168.1.1/"})
    assert response.status_code == 400
    assert http.get(f"/api/v1/webhooks/{sub['id']}").json()["url"] == sub["url"]
