"""`/api/v1/webhooks` CRUD and validation against a real server."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from analyzer import keys
from api.webhooks.signing import new_secret


def test_create_generates_a_secret_shown_only_once(
    http: httpx.Client, subscribe: Callable[..., dict[str, Any]]
) -> None:
    created = subscribe("https://example.invalid/hooks")
    assert created["id"].startswith("wh_")
    assert created["event_types"] == ["*"]
    assert created["enabled"] is True
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24

    shown = http.get(f"/api/v1/webhooks/{created['id']}")
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert shown.json() == {k: v for k, v in created.items() if k != "secret"}
    listed = http.get("/api/v1/webhooks").json()["webhooks"]
    mine = [w for w in listed if w["id"] == created["id"]]
    assert len(mine) == 1 and "secret" not in mine[0]


def test_create_keeps_a_given_secret_and_event_types(
    subscribe: Callable[..., dict[str, Any]],
) -> None:
    secret = new_secret()
    created = subscribe(
        "http://127.0.0.1:9/x", secret=secret, event_types=["edge.collapse", "run.crashed"]
    )
    assert created["secret"] == secret
    assert created["event_types"] == ["edge.collapse", "run.crashed"]


def test_delete_then_404(http: httpx.Client, subscribe: Callable[..., dict[str, Any]]) -> None:
    created = subscribe("http://127.0.0.1:9/x")
    path = f"/api/v1/webhooks/{created['id']}"
    assert http.delete(path).status_code == 204
    for response in (http.get(path), http.delete(path), http.get(f"{path}/deliveries")):
        assert response.status_code == 404
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "ftp://example.com/hook"},
        {"url": "example.com/hook"},
        {"url": "http://"},
        {"url": "https://example.com", "event_types": []},
        {"url": "https://example.com", "event_types": ["has space"]},
        {"url": "https://example.com", "secret": "not-prefixed"},
        {"url": "https://example.com", "secret": "whsec_!!!"},
        {"url": "https://example.com", "secret": "whsec_" + base64.b64encode(b"short").decode()},
        {"url": "https://example.com", "colour": "blue"},
    ],
)
def test_invalid_subscriptions_are_400(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/api/v1/webhooks", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert response.json()["message"]


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/webhooks", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "the request body is not valid JSON",
    }


def test_validation_messages_name_the_field(http: httpx.Client) -> None:
    response = http.post("/api/v1/webhooks", json={"url": "ftp://example.com/hook"})
    assert response.json()["message"] == "url: must be an absolute http(s) URL"


def test_a_malformed_subscription_is_skipped_in_lists_and_a_500_alone(
    http: httpx.Client, client: redis.Redis, subscribe: Callable[..., dict[str, Any]]
) -> None:
    good = subscribe("http://127.0.0.1:9/x")
    bad = f"wh_test_bad_{uuid.uuid4().hex[:8]}"
    client.hset(keys.WEBHOOKS, bad, b"{not a subscription")
    try:
        listed = [w["id"] for w in http.get("/api/v1/webhooks").json()["webhooks"]]
        assert good["id"] in listed and bad not in listed
        response = http.get(f"/api/v1/webhooks/{bad}")
        assert response.status_code == 500
        assert response.json() == {"error_code": "INTERNAL_ERROR", "message": "internal error"}
    finally:
        client.hdel(keys.WEBHOOKS, bad)
