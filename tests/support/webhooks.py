"""Helpers of the webhook tests and benchmark: api settings, alerts, what a receiver got."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from analyzer.records import Alert
from api.config import ApiSettings
from tests.support.receiver import Hit, Receiver

LOOPBACK = ["127.0.0.0/8"]


def webhook_settings(redis_url: str, **overrides: Any) -> ApiSettings:
    """Api settings with fast retries, loopback allow-listed, no cooldown, a fresh consumer."""
    fields: dict[str, Any] = {
        "redis_url": redis_url,
        "webhook_allow": LOOPBACK,
        "webhook_cooldown": 0.0,
        "webhook_timeout": 2.0,
        "webhook_max_attempts": 3,
        "webhook_backoff_base": 0.05,
        "webhook_backoff_cap": 0.2,
        "webhook_consumer": f"api-test-{uuid.uuid4().hex[:12]}",
    }
    return ApiSettings(**{**fields, **overrides})


def make_alert(event_type: str, run_id: str | None = None, **fields: Any) -> Alert:
    """An alert of `event_type` with a unique id (and run, unless given), created now."""
    doc: dict[str, Any] = {
        "id": f"al_{uuid.uuid4().hex[:24]}",
        "type": event_type,
        "run_id": run_id or f"run-{uuid.uuid4().hex[:12]}",
        "group": "all",
        "window": 10,
        "step": 1200,
        "index": 120,
        "message": "edge ratio fell to 1.100 (< 1.2) after a plateau",
        "evidence": {"edge_ratio": 1.1, "peak": 2.5, "threshold": 1.2},
        "created_at": time.time(),
    }
    return Alert.model_validate({**doc, **fields})


def unique_type() -> str:
    """An alert type no other test uses."""
    return f"test.{uuid.uuid4().hex[:12]}"


def of_alert(sink: Receiver, url: str, alert: Alert) -> list[Hit]:
    """Standard-format requests to `url` that carried `alert`."""
    return [h for h in sink.hits(url) if h.json()["data"]["id"] == alert.id]


def log_of(http: httpx.Client, sub: dict[str, Any]) -> list[dict[str, Any]]:
    """A subscription's delivery log through the api, newest first."""
    response = http.get(f"/api/v1/webhooks/{sub['id']}/deliveries")
    deliveries: list[dict[str, Any]] = response.json()["deliveries"]
    return deliveries
