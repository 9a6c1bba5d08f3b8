"""Fixtures for the analyzer suite: Redis backends, per-test run ids, running services.

`backend` is parametrised over the machine's shared Redis, a private redis-server and a private
3-master Redis Cluster (both started once per session); store and ingest tests use it through
`backend_client`, the rest use the shared Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import zmq

from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.server import AnalyzerService
from analyzer.service.store import Client, Store, connect
from tests.support.cluster import RedisClusterFixture

REDIS_URL = "redis://127.0.0.1:6379/0"
Backend = tuple[str, bool]


@pytest.fixture(scope="session")
def private_server() -> Iterator[str]:
    """A private redis-server for the whole session."""
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def cluster_server() -> Iterator[str]:
    """A private 3-master Redis Cluster for the whole session (URL of one node)."""
    with RedisClusterFixture() as cluster:
        yield cluster.url


@pytest.fixture(params=["shared", "private", "cluster"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """(url, is_cluster) of one of the three Redis backends."""
    if request.param == "shared":
        return REDIS_URL, False
    if request.param == "private":
        return request.getfixturevalue("private_server"), False
    return request.getfixturevalue("cluster_server"), True


@pytest.fixture
def backend_client(backend: Backend) -> Iterator[Client]:
    """A raw-bytes client of the parametrised backend."""
    connection = connect(*backend)
    yield connection
    connection.close()


@pytest.fixture
def redis_url() -> str:
    """The shared Redis on 127.0.0.1:6379 (never flushed: tests delete only their own keys)."""
    return REDIS_URL


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A raw-bytes Redis client."""
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def store(client: redis.Redis) -> Store:
    """A Store over the shared Redis."""
    return Store(client)


@pytest.fixture
def run_id(client: Client) -> Iterator[str]:
    """A unique run id; afterwards the keys, registry entries and global alerts of it and of
    every run id it prefixes (tests derive `f"{run_id}-x"` ids) are deleted."""
    run = f"test-{uuid.uuid4().hex}"
    last = client.xrevrange(keys.ALERTS, count=1)
    since = last[0][0].decode() if last else "0-0"
    yield run
    stale = list(client.scan_iter(match=f"se:{{{run}*", count=1000))
    if stale:
        client.delete(*stale)
    registered = [member for member, _ in client.zscan_iter(keys.RUNS, match=f"{run}*")]
    if registered:
        client.zrem(keys.RUNS, *registered)
    added = [
        entry_id
        for entry_id, fields in client.xrange(keys.ALERTS, min=f"({since}")
        if f'"run_id":"{run}'.encode() in fields.get(b"alert", b"")
    ]
    if added:
        client.xdel(keys.ALERTS, *added)


@pytest.fixture
def make_service(redis_url: str) -> Iterator[Callable[..., AnalyzerService]]:
    """Factory of started services on a free loopback port; all are stopped afterwards."""
    started: list[AnalyzerService] = []

    def make(**overrides: object) -> AnalyzerService:
        fields = {
            "redis_url": redis_url,
            "bind": "tcp://127.0.0.1:*",
            "windows": [3, 5],
            "sweep_interval": 3600.0,  # the shared Redis holds others' runs: sweep only on demand
        }
        settings = AnalyzerSettings(**{**fields, **overrides})
        service = AnalyzerService(settings)
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()
        service.client.close()


@pytest.fixture
def private_redis_url() -> Iterator[str]:
    """A private redis-server on a free port, for tests that touch every run (crash sweeps)."""
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    """A private ZeroMQ context whose sockets are closed with linger 0."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)
