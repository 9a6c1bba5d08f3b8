"""`/healthz` against a real server, with its Redis up and with its Redis unreachable."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from api.app import create_app
from api.config import ApiSettings


def test_healthz_ok(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": True}


def test_unreachable_redis_is_503_and_the_app_still_starts_and_stops(
    serve: Callable[..., Any],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    settings = ApiSettings(redis_url=f"redis://127.0.0.1:{dead}/0", webhook_consumer="api-test")
    server = serve(create_app(settings))
    auth = {"Authorization": "Bearer se_any-token-needs-redis-to-check"}
    with server, httpx.Client(base_url=server.url, timeout=30.0, headers=auth) as http:
        for path in ("/healthz", "/api/v1/runs", "/api/v1/webhooks"):
            response = http.get(path)
            assert response.status_code == 503, path
            assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        started = time.monotonic()
    assert not server.thread.is_alive()
    assert time.monotonic() - started < 5.0
