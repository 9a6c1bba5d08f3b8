"""Redis as a platform team deploys it, end to end: the analyzer stores a run's windows and the api
(sync reads, token checks, the async live stream) serves them, through `rediss://` to a TLS-only
server with a self-signed certificate, and through `redis://user:password@` to an ACL user. The
token comes from `spectral-edge token create --redis-url`."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from typer.testing import CliRunner

from analyzer.service.config import AnalyzerSettings
from analyzer.service.server import AnalyzerService
from api.app import create_app
from api.cli import app as cli
from api.config import ApiSettings
from producer import wire
from producer.wire import Ack, Kind, Message
from tests.support import polling
from tests.support.certificates import Authority
from tests.support.cluster import RedisProcess, running
from tests.support.secured_redis import acl_server, tls_binary, tls_server

D, WINDOW, RUN = 8, 3, "deployed-run"


@pytest.fixture(params=["tls", "acl"])
def deployed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisProcess]:
    """A private TLS-only server, or one whose only user is an ACL user with a password."""
    binary = tls_binary()
    if binary is None:
        pytest.skip("no redis-server with TLS on PATH")
    if request.param == "tls":
        (tmp_path / "ca").mkdir()
        server = tls_server(binary, Authority(tmp_path / "ca"), tmp_path)
    else:
        server = acl_server(binary, tmp_path)
    with running(server) as started:
        yield started


@pytest.fixture
def api_url(deployed: RedisProcess) -> Iterator[str]:
    """A real uvicorn api (tokens required) over the deployed Redis, in a thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(ApiSettings(redis_url=deployed.url)), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    polling.eventually(lambda: server.started or not thread.is_alive())
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


def _messages() -> list[Message]:
    body = {"project": "deployed", "every": 10, "d": D, "seed": 0, "method": "countsketch"}
    xs = np.random.default_rng(0).normal(size=(6, D))
    sketches = [
        Message(Kind.SKETCH, RUN, 1 + i, step=10 * i, index=i, d=D, payload=x)
        for i, x in enumerate(xs)
    ]
    return [Message(Kind.START, RUN, 0, body=body), *sketches]


def _live_metrics(http: httpx.Client) -> list[int]:
    """Indices of the `metric` events in the live stream's first turn (it ends with `state`)."""
    indices, name = [], ""
    with http.stream("GET", f"/api/v1/runs/{RUN}/events", params={"since_step": 0}) as events:
        for line in events.iter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif name == "metric" and line.startswith("data:"):
                indices.append(json.loads(line.removeprefix("data:"))["index"])
            elif name == "state":
                return indices
    raise AssertionError("the live stream ended before its first state event")


def test_the_api_serves_what_the_analyzer_stored(deployed: RedisProcess, api_url: str) -> None:
    created = CliRunner().invoke(
        cli, ["token", "create", "--scope", "read", "--redis-url", deployed.url]
    )
    assert created.exit_code == 0, created.output
    token = created.output.split()[-1]
    service = AnalyzerService(
        AnalyzerSettings(redis_url=deployed.url, bind="tcp://127.0.0.1:*", windows=[WINDOW])
    )
    service.start()
    try:
        acks = service.process([[b"p", *wire.encode(m)] for m in _messages()])
    finally:
        service.stop()
        service.client.close()
    assert acks == {b"p": Ack(list(range(7)))}

    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=api_url, headers=headers, timeout=10) as http:
        assert http.get("/healthz").json()["redis"] is True
        served = http.get(f"/api/v1/runs/{RUN}/metrics", params={"window": WINDOW}).json()
        assert [record["index"] for record in served["records"]] == [3, 4, 5]
        assert _live_metrics(http) == [3, 4, 5]
        assert (
            http.get("/api/v1/runs", headers={"authorization": "Bearer wrong"}).status_code == 401
        )
