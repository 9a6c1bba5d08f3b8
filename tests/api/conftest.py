"""Fixtures for the api suite: the machine's Redis, a real uvicorn api, a real HTTP receiver.

The api needs tokens: `http` sends an admin token made for the module (`tokens`, `admin_token`,
`read_token` revoke what they made). On the shared Redis everything a test writes is deleted
afterwards, and only that: run keys under the run's tag, the tokens it made, the subscription
ids it created (the `keys.WEBHOOKS` hash is global), the alert entries it added to the shared
`keys.ALERTS` stream, and its dispatcher's consumer (unique per module). Modules whose assertions
another dispatcher could disturb (any api process consuming the shared group takes alerts and
delivers them with its own policy) override `redis_url` with `private_redis`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI

from analyzer.records import Alert, KStar, WindowRecord
from analyzer.service import keys
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.store import Store
from api.app import create_app
from api.auth import Scope, TokenStore
from api.client import Client
from api.config import ApiSettings
from api.webhooks.stream import GROUP
from producer.wire import Kind, Message
from tests.support import polling
from tests.support.receiver import Receiver
from tests.support.seeding import apply_message, write_record
from tests.support.webhooks import make_alert

REDIS_URL = "redis://127.0.0.1:6379/0"


class ServerThread:
    """A uvicorn server running an ASGI app in a thread, on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        polling.eventually(lambda: self.server.started or not self.thread.is_alive())
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on a free loopback port, shared by the session."""
    with Receiver() as recv:
        yield recv


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The machine's shared Redis (never flushed); a module may override it with a private one."""
    return REDIS_URL


@pytest.fixture(scope="module")
def private_redis() -> Iterator[str]:
    """URL of a private redis-server on a free port, for tests no other consumer may disturb."""
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="module")
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A raw-bytes client of the module's Redis."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def settings(redis_url: str) -> ApiSettings:
    """Api settings with fast retries and a consumer name unique to this module."""
    return ApiSettings(
        redis_url=redis_url,
        webhook_timeout=2.0,
        webhook_max_attempts=3,
        webhook_backoff_base=0.05,
        webhook_backoff_cap=0.2,
        webhook_consumer=f"api-test-{uuid.uuid4().hex[:12]}",
    )


@pytest.fixture(scope="module")
def api_url(settings: ApiSettings, client: redis.Redis) -> Iterator[str]:
    """Base URL of a real uvicorn server running `create_app(settings)`, one per test module."""
    with ServerThread(create_app(settings)) as server:
        yield server.url
    client.xgroup_delconsumer(keys.ALERTS, GROUP, settings.webhook_consumer)


@pytest.fixture(scope="module")
def tokens(client: redis.Redis) -> Iterator[Callable[[Scope], str]]:
    """`tokens(scope)`: a fresh api token of that scope; every one made is revoked afterwards."""
    store, made = TokenStore(client), []

    def make(scope: Scope) -> str:
        secret, token = store.create(scope, "api-test", time.time())
        made.append(token.id)
        return secret

    yield make
    for token_id in made:
        store.revoke(token_id)


@pytest.fixture(scope="module")
def admin_token(tokens: Callable[[Scope], str]) -> str:
    """An admin token of the module's Redis."""
    return tokens(Scope.ADMIN)


@pytest.fixture(scope="module")
def read_token(tokens: Callable[[Scope], str]) -> str:
    """A read-only token of the module's Redis."""
    return tokens(Scope.READ)


@pytest.fixture
def http(api_url: str, admin_token: str) -> Iterator[httpx.Client]:
    """An HTTP client of the api, authenticated with an admin token."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=api_url, timeout=10.0, headers=auth) as c:
        yield c


@pytest.fixture
def run_id(client: redis.Redis) -> Iterator[str]:
    """A unique run id; its keys and registry entry are deleted afterwards."""
    run = f"api-test-{uuid.uuid4().hex}"
    yield run
    stale = list(client.scan_iter(match=f"se:{{{run}}}:*", count=1000))
    if stale:
        client.delete(*stale)
    client.zrem(keys.RUNS, run)


@pytest.fixture
def store(client: redis.Redis) -> Store:
    """The analyzer's store over the shared Redis: tests write runs through its write path."""
    return Store(client)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """`eventually(check, timeout=10)`: poll until `check()` is truthy and return its value."""
    return polling.eventually


@pytest.fixture
def start_run(store: Store) -> Callable[..., None]:
    """`start_run(run_id, now)`: register a run the way the analyzer does, from a START message."""

    def start(run_id: str, now: float, project: str = "api-test") -> None:
        body = {"project": project, "every": 10, "d": 8, "groups": ["all"], "config": {}}
        apply_message(store, Message(kind=Kind.START, run=run_id, seq=0, d=8, body=body), now)

    return start


@pytest.fixture
def record() -> Callable[..., WindowRecord]:
    """`record(run_id, index, window=10)`: a plausible window record (step 10 * index)."""
    return _window_record


def _window_record(run_id: str, index: int, window: int = 10, group: str = "all") -> WindowRecord:
    """A plausible window record ending at snapshot `index` (step 10 * index)."""
    return WindowRecord(
        run_id=run_id,
        group=group,
        window=window,
        index=index,
        step=10 * index,
        sigma=[3.0, 1.0, 0.5],
        ratios=[3.0, 2.0],
        k_star=KStar(argmax=1, weighted=1, floor=1),
        edge_ratio=3.0 - 0.1 * index,
        gap=2.0,
        g23=2.0,
        energy=[0.9, 0.1],
        k95=2,
        drift_speed=0.01,
    )


@pytest.fixture
def seeded(
    run_id: str,
    store: Store,
    start_run: Callable[..., None],
    record: Callable[..., WindowRecord],
    client: redis.Redis,
) -> list[WindowRecord]:
    """A run with 5 window records, 3 logged steps of scalars and 2 alerts of its own."""
    start_run(run_id, now=1.0)
    written = [record(run_id, index) for index in range(1, 6)]
    for rec in written:
        assert write_record(client, rec)
    for step in (10, 20, 30):
        values = {"val_loss": 1.0 / step, "val_acc": step / 100}
        client.zadd(keys.scalars(run_id), {json.dumps({"step": step, "values": values}): step})
    for kind in ("edge.collapse", "phase.rise"):
        alert = make_alert(kind, run_id=run_id)
        client.xadd(keys.run_alerts(run_id), {"alert": alert.model_dump_json()})
    return written


@pytest.fixture
def se(api_url: str, read_token: str) -> Iterator[Client]:
    """A client of the module's api with a read token."""
    with Client(api_url, read_token) as c:
        yield c


@pytest.fixture
def subscribe(http: httpx.Client, client: redis.Redis) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create subscriptions through the api; afterwards exactly those are deleted."""
    created: list[str] = []

    def make(url: str, **fields: Any) -> dict[str, Any]:
        response = http.post("/api/v1/webhooks", json={"url": url, **fields})
        assert response.status_code == 201, response.text
        doc: dict[str, Any] = response.json()
        created.append(doc["id"])
        return doc

    yield make
    for sub_id in created:
        client.hdel(keys.WEBHOOKS, sub_id)
        client.delete(keys.deliveries(sub_id))


@pytest.fixture
def publish(client: redis.Redis) -> Iterator[Callable[[Alert], None]]:
    """XADD alerts to the shared stream like the analyzer; afterwards exactly those are XDELed."""
    added: list[Any] = []

    def add(alert: Alert) -> None:
        added.append(client.xadd(keys.ALERTS, {"alert": alert.model_dump_json()}))

    yield add
    if added:
        client.xdel(keys.ALERTS, *added)


@pytest.fixture
def alert() -> Callable[[str], Alert]:
    """`alert(event_type)`: an alert of that type with a unique id, created now."""
    return partial(make_alert, run_id="api-test-run")


@pytest.fixture
def serve() -> type[ServerThread]:
    """`with serve(app) as server:` runs an app under uvicorn; `server.url` is its base URL."""
    return ServerThread


@pytest.fixture
def holds(client: redis.Redis) -> Callable[[str, Alert], bool]:
    """`holds(consumer, alert)`: whether `consumer` has an unacknowledged entry of this alert."""

    def check(consumer: str, alert: Alert) -> bool:
        pending = client.xpending_range(keys.ALERTS, GROUP, "-", "+", 1000, consumername=consumer)
        ids = [p["message_id"] for p in pending]
        entries: list[Any] = [e for i in ids for e in client.xrange(keys.ALERTS, i, i) or []]
        return any(alert.id.encode() in (fields or {}).get(b"alert", b"") for _, fields in entries)

    return check
