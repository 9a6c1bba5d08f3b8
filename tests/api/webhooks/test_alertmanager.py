"""The Alertmanager output delivers to a real Alertmanager, whose `/api/v2/alerts` shows it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from analyzer.records import Alert
from tests.support.alertmanager import Alertmanager, alertmanager_binary
from tests.support.webhooks import make_alert, unique_type

BINARY = alertmanager_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")


@pytest.fixture(scope="module")
def alertmanager() -> Iterator[Alertmanager]:
    """A real Alertmanager on a free loopback port."""
    assert BINARY is not None
    with Alertmanager(BINARY) as am:
        yield am


def test_an_alert_shows_in_alertmanager(
    http: httpx.Client,
    alertmanager: Alertmanager,
    subscribe: Callable[..., dict[str, Any]],
    xadd: Callable[[Alert], bytes],
    eventually: Callable[..., Any],
    start_run: Callable[..., None],
    run_id: str,
) -> None:
    event_type = unique_type()
    start_run(run_id, time.time(), project="vision")
    url = f"{alertmanager.url}/api/v2/alerts"
    sub = subscribe(url, event_types=[event_type], format="alertmanager")
    event = make_alert(event_type, run_id=run_id)
    xadd(event)

    def shown() -> list[dict[str, Any]]:
        alerts = httpx.get(url, params={"filter": f'alertname="{event_type}"'}).json()
        return [a for a in alerts if a["labels"].get("run_id") == run_id]

    (shown_alert,) = eventually(shown)
    assert shown_alert["labels"]["project"] == "vision"
    assert shown_alert["labels"]["source"] == "spectral-edge"
    assert shown_alert["annotations"]["description"] == event.message
    assert shown_alert["annotations"]["alert_id"] == event.id
    assert shown_alert["status"]["state"] in ("active", "unprocessed")
    (attempt,) = http.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["deliveries"]
    assert (attempt["status"], attempt["outcome"]) == (200, "delivered")
