"""Every operation of the OpenAPI document: 401 without a token, 403 for a read token on admin."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from api.auth import Scope


def _operations(api_url: str) -> list[tuple[str, str, list[str]]]:
    doc = httpx.get(f"{api_url}/openapi.json").json()
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            scopes = [s for req in op.get("security", []) for s in req.get("bearer", [])]
            found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path), scopes))
    return found


def _call(api_url: str, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return httpx.request(method, api_url + path, headers=headers, json=body, timeout=10)


def test_every_operation_but_healthz_needs_a_token(api_url: str) -> None:
    operations = _operations(api_url)
    assert len(operations) >= 20
    for method, path, scopes in operations:
        if path == "/healthz":
            assert not scopes
            assert _call(api_url, method, path, None).status_code == 200
            continue
        assert scopes, f"{method} {path} declares no scope"
        for token in (None, "se_unknown"):
            response = _call(api_url, method, path, token)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error_code"] == "UNAUTHENTICATED"
            assert response.headers["www-authenticate"] == "Bearer"


def test_read_token_gets_403_on_admin_and_passes_read(api_url: str, read_token: str) -> None:
    admin_ops = 0
    for method, path, scopes in _operations(api_url):
        response = _call(api_url, method, path, read_token)
        if Scope.ADMIN in scopes:
            admin_ops += 1
            assert response.status_code == 403, (method, path)
            assert response.json()["error_code"] == "PERMISSION_DENIED"
        else:
            assert response.status_code not in (401, 403), (method, path)
    assert admin_ops >= 3


def test_revoked_token_is_401(api_url: str, tokens: Callable[[Scope], str], client: Any) -> None:
    from api.auth import TokenStore

    store = TokenStore(client)
    secret = tokens(Scope.ADMIN)
    token = store.resolve(secret)
    assert token is not None
    assert _call(api_url, "GET", "/api/v1/runs", secret).status_code == 200
    store.revoke(token.id)
    assert _call(api_url, "GET", "/api/v1/runs", secret).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/tokens", "/metrics"])
def test_open_server_needs_no_token(path: str, serve: Callable[..., Any], settings: Any) -> None:
    from api.app import create_app

    with serve(create_app(settings.model_copy(update={"open": True}))) as server:
        assert httpx.get(server.url + path, timeout=10).status_code == 200


def test_current_token_names_the_caller(api_url: str, read_token: str) -> None:
    body = _call(api_url, "GET", "/api/v1/tokens/current", read_token).json()
    assert body["scope"] == "read"
    assert body["token"]["id"].startswith("tok_") and "token" not in body["token"]


def test_dashboard_shell_is_static_and_public(api_url: str) -> None:
    page = httpx.get(f"{api_url}/", follow_redirects=True, timeout=10)
    assert page.status_code == 200 and str(page.url).endswith("/dashboard/")
    assert "<canvas" in page.text and "http" not in page.text.replace(api_url, "")
    for asset in ("app.js", "chart.js", "style.css"):
        response = httpx.get(f"{api_url}/dashboard/{asset}", timeout=10)
        assert response.status_code == 200
        assert "http:" not in response.text and "https:" not in response.text, asset
