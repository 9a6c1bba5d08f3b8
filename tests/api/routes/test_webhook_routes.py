"""`/api/v1/webhooks` CRUD, rotation, validation and scopes against a real server."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from analyzer.service import keys
from api.auth import Scope
from api.webhooks.signing import new_secret

Subscribe = Callable[..., dict[str, Any]]
HOOK = "https://hooks.example.com/spectral-edge"


def test_create_generates_a_secret_shown_only_once(
    http: httpx.Client, subscribe: Subscribe
) -> None:
    created = subscribe(HOOK)
    assert created["id"].startswith("wh_")
    assert created["event_types"] == ["*"]
    assert (created["projects"], created["runs"], created["rules"]) == ([], [], [])
    assert created["format"] == "standard"
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


def test_create_keeps_given_fields(subscribe: Subscribe) -> None:
    secret = new_secret()
    created = subscribe(
        HOOK,
        secret=secret,
        event_types=["run.crashed", "edge.collapse", "edge.collapse"],
        projects=["vision"],
        runs=["run-1", "run-2"],
        rules=["lambda_max"],
        format="alertmanager",
    )
    assert created["secret"] == secret
    assert created["event_types"] == ["edge.collapse", "run.crashed"]
    assert created["projects"] == ["vision"] and created["runs"] == ["run-1", "run-2"]
    assert created["rules"] == ["lambda_max"] and created["format"] == "alertmanager"


def test_update_changes_only_the_given_fields(http: httpx.Client, subscribe: Subscribe) -> None:
    created = subscribe(HOOK, event_types=["edge.collapse"])
    path = f"/api/v1/webhooks/{created['id']}"
    updated = http.patch(path, json={"format": "slack", "runs": ["run-9"]})
    assert updated.status_code == 200
    expected = {k: v for k, v in created.items() if k != "secret"}
    assert updated.json() == {**expected, "format": "slack", "runs": ["run-9"]}
    assert http.get(path).json() == updated.json()
    assert http.patch(path, json={"format": "teams"}).status_code == 400
    assert http.patch(path, json={"secret": new_secret()}).status_code == 400


def test_rotate_makes_a_new_secret_and_keeps_the_old_one_for_a_while(
    http: httpx.Client, subscribe: Subscribe
) -> None:
    created = subscribe(HOOK)
    path = f"/api/v1/webhooks/{created['id']}/rotate"
    given = new_secret()
    rotated = http.post(path, json={"secret": given, "grace_seconds": 60}).json()
    assert rotated["secret"] == given
    assert rotated["previous_secret_expires_at"] > created["created_at"] + 59
    assert http.post(path, json={"grace_seconds": -1}).status_code == 400
    assert http.post(path, json={"secret": "whsec_!!!"}).status_code == 400


def test_delete_then_404(http: httpx.Client, subscribe: Subscribe) -> None:
    created = subscribe(HOOK)
    path = f"/api/v1/webhooks/{created['id']}"
    assert http.delete(path).status_code == 204
    for response in (
        http.get(path),
        http.delete(path),
        http.patch(path, json={"enabled": False}),
        http.get(f"{path}/deliveries"),
        http.post(f"{path}/test"),
        http.post(f"{path}/rotate", json={}),
        http.post(f"{path}/deliveries/msg_x/redeliver"),
    ):
        assert response.status_code == 404
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": "ftp://example.com/hook"},
        {"url": "example.com/hook"},
        {"url": "http://"},
        {"url": "http://a b/hook"},
        {"url": "http://example.com:99999/hook"},
        {"url": "http://[::1/hook"},
        {"url": HOOK, "event_types": []},
        {"url": HOOK, "event_types": ["has space"]},
        {"url": HOOK, "projects": [""]},
        {"url": HOOK, "format": "teams"},
        {"url": HOOK, "secret": "not-prefixed"},
        {"url": HOOK, "secret": "whsec_!!!"},
        {"url": HOOK, "secret": "whsec_" + base64.b64encode(b"short").decode()},
        {"url": HOOK, "colour": "blue"},
        {"url": "http://127.0.0.1:9/x"},
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


def test_reading_needs_a_token_and_changing_an_admin_token(
    api_url: str, tokens: Callable[[Scope], str], subscribe: Subscribe
) -> None:
    created = subscribe(HOOK)
    path = f"/api/v1/webhooks/{created['id']}"
    read = {"authorization": f"Bearer {tokens(Scope.READ)}"}
    with httpx.Client(base_url=api_url) as anonymous:
        assert anonymous.get("/api/v1/webhooks").status_code == 401
        assert anonymous.post("/api/v1/webhooks", json={"url": HOOK}).status_code == 401
    with httpx.Client(base_url=api_url, headers=read) as reader:
        assert reader.get(path).status_code == 200
        assert reader.get(f"{path}/deliveries").status_code == 200
        for response in (
            reader.post("/api/v1/webhooks", json={"url": HOOK}),
            reader.patch(path, json={"enabled": False}),
            reader.post(f"{path}/rotate", json={}),
            reader.post(f"{path}/test"),
            reader.post(f"{path}/deliveries/msg_x/redeliver"),
            reader.delete(path),
        ):
            assert response.status_code == 403
            assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_a_malformed_subscription_is_skipped_in_lists_and_a_500_alone(
    http: httpx.Client, client: redis.Redis, subscribe: Subscribe
) -> None:
    good = subscribe(HOOK)
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
