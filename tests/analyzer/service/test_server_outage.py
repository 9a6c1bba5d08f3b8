"""A real outage of a private redis-server (stopped by pid, restarted on its port): the service
logs its first failure, counts the rest without a line each, and logs the recovery."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from analyzer.service.config import AnalyzerSettings
from analyzer.service.server import AnalyzerService
from producer import wire
from producer.wire import Ack, Kind, Message
from tests.support.cluster import RedisProcess, running

D = 8
SENDER = b"producer-1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A private AOF server (the run survives the restart), stopped afterwards."""
    with running(RedisProcess(tmp_path, "--appendonly", "yes", "--appendfsync", "always")) as aof:
        yield aof


@pytest.fixture
def service(server: RedisProcess) -> Iterator[AnalyzerService]:
    """An analyzer over the private server, driven through `process` (no socket needed)."""
    analyzer = AnalyzerService(AnalyzerSettings(redis_url=server.url, windows=[3]))
    yield analyzer
    analyzer.client.close()


def _frames(message: Message) -> list[bytes]:
    return [SENDER, *wire.encode(message)]


def test_an_outage_logs_its_first_failure_and_its_end_only(
    server: RedisProcess, service: AnalyzerService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="analyzer.service.server")
    body = {"project": "outage", "every": 10, "d": D, "seed": 0, "method": "countsketch"}
    assert service.process([_frames(Message(Kind.START, "outage-run", 0, body=body))])
    xs = np.random.default_rng(0).normal(size=(6, D))
    sketches = [
        _frames(Message(Kind.SKETCH, "outage-run", 1 + i, step=10 * i, index=i, d=D, payload=x))
        for i, x in enumerate(xs)
    ]
    server.stop()
    failed_calls = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert service.process(sketches) == {}
        failed_calls += 1
        time.sleep(0.01)
    server.start()
    assert service.process(sketches) == {SENDER: Ack(list(range(1, 7)))}

    lines = [r.getMessage() for r in caplog.records if r.name == "analyzer.service.server"]
    assert failed_calls >= 20
    assert service.counters.value("redis_errors") == failed_calls
    assert len(lines) == 2, lines
    assert lines[0].startswith("Redis failed; 6 messages left to resend: Error 111 connecting")
    assert re.fullmatch(rf"Redis is back after \d+\.\d s: {failed_calls} failed batches", lines[1])
    assert [r.index for r in service.store.metrics("outage-run", "all", 3)] == [3, 4, 5]
