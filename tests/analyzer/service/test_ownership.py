"""Run ownership across analyzers: one analyzer applies each run, the one its producers rank
first by rendezvous hashing; killing it (SIGKILL, no hand-over) moves the run to another once its
lease runs out, with every window recorded exactly once. Real processes, sockets and Redis."""

from __future__ import annotations

import multiprocessing as mp
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import redis

from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import free_port
from analyzer.service.server import AnalyzerService
from producer.config import ProducerConfig
from producer.rendezvous import ranked
from producer.transport import Sender
from producer.wire import Kind
from tests.support.polling import eventually
from tests.support.producers import sending

D, N = 8, 30
LEASE = 2.0


def _serve(fields: dict[str, Any]) -> None:
    AnalyzerService(AnalyzerSettings(**fields)).run_forever()


def _listening(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


@pytest.fixture
def fleet(redis_url: str) -> Iterator[Callable[[int], list[tuple[str, Any]]]]:
    """Factory of analyzer processes (lease LEASE s) on free ports: [(endpoint, process)]."""
    procs: list[Any] = []

    def make(count: int) -> list[tuple[str, Any]]:
        made = []
        for _ in range(count):
            endpoint = f"tcp://127.0.0.1:{free_port()}"
            fields = {"redis_url": redis_url, "bind": endpoint, "windows": [3, 5],
                      "lease": LEASE, "sweep_interval": 3600.0}  # fmt: skip
            proc = mp.get_context("spawn").Process(target=_serve, args=(fields,), daemon=True)
            proc.start()
            procs.append(proc)
            made.append((endpoint, proc))
        for endpoint, _ in made:
            eventually(lambda e=endpoint: _listening(e), timeout=30.0)
        return made

    yield make
    for proc in procs:
        proc.kill()
        proc.join(10)


def _indices(client: redis.Redis, run_id: str, window: int) -> list[int]:
    docs = client.zrange(keys.metrics(run_id, "all", window), 0, -1)
    return sorted(int(doc.split(b'"index":')[1].split(b",")[0]) for doc in docs)


def test_one_analyzer_owns_each_run_and_a_killed_owner_hands_over_after_its_lease(
    fleet: Callable[[int], list[tuple[str, Any]]], client: redis.Redis, run_id: str
) -> None:
    analyzers = fleet(2)
    endpoints = [e for e, _ in analyzers]
    first = ranked(run_id, endpoints)[0]
    owner = dict(analyzers)[first]
    walk = np.random.default_rng(0).normal(size=(N, D)).cumsum(axis=0)
    config = ProducerConfig(endpoint=",".join(endpoints), resend_after=0.2, linger_ms=0,
                            failover_after=0.5, heartbeat=0.2)  # fmt: skip
    sender = Sender(config, run_id)
    sender.start()
    sender.send(Kind.START, body={"d": D})
    for i in range(N // 2):
        sender.send(Kind.SKETCH, step=i, index=i, d=D, payload=walk[i])
    eventually(lambda: sender.pending == 0 and sender.acked == N // 2 + 1)
    held = client.get(keys.owner(run_id))
    assert held is not None and held.decode().endswith(first)  # the rendezvous choice took it
    ttl = client.pttl(keys.owner(run_id)) / 1000
    assert 0 < ttl <= LEASE

    owner.kill()  # no clean stop: the lease stays until it expires
    killed, acked = time.monotonic(), sender.acked
    for i in range(N // 2, N):
        sender.send(Kind.SKETCH, step=i, index=i, d=D, payload=walk[i])
    eventually(lambda: sender.acked > acked, timeout=4 * LEASE)
    resumed = time.monotonic() - killed
    eventually(lambda: sender.pending == 0, timeout=10.0)
    sender.close(timeout=5.0)

    assert resumed <= 2 * LEASE, f"resumed after {resumed:.2f} s"
    assert sender.route.moves >= 1 and sender.route.endpoint != first
    successor = client.get(keys.owner(run_id))
    assert successor is not None and successor.decode().endswith(sender.route.endpoint)
    for window in (3, 5):  # every window once: none lost over the hand-over, none twice
        assert _indices(client, run_id, window) == list(range(window, N))


def test_an_analyzer_that_does_not_own_a_run_tells_its_producer_to_wait(
    make_service: Callable[..., AnalyzerService], client: redis.Redis, run_id: str
) -> None:
    owner, other = make_service(lease=LEASE), make_service(lease=LEASE)
    walk = np.random.default_rng(1).normal(size=(6, D)).cumsum(axis=0)
    first = sending(owner.endpoint, run_id, walk[:3], heartbeat=0.2)  # renews the lease
    eventually(lambda: first.pending == 0)
    second = sending(other.endpoint, f"{run_id}", walk[3:], heartbeat=0.2)
    eventually(lambda: other.counters.value("not_owner", "start") >= 1)
    assert second.acked == 0 and other.counters.value("applied", "sketch") == 0
    first.close(timeout=2.0)
    owner.stop()  # a clean stop releases the lease: the other takes the run at once
    eventually(lambda: second.pending == 0, timeout=LEASE + 2.0)
    second.close(timeout=2.0)
    assert client.get(keys.owner(run_id)).decode() == other.ingestor.name
