"""Faults with real parts only: the analyzer as a process killed with SIGKILL mid-stream and
restarted, and Redis (AOF, fsync always) killed and restarted mid-stream. Real producer Senders
resend; afterwards every run holds exactly the records of a fault-free delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis, free_port
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.server import AnalyzerService
from analyzer.service.store import Store
from producer.config import ProducerConfig
from producer.transport import Sender
from producer.wire import Kind, Message
from tests.support.cluster import AofRedis
from tests.support.seeding import handle_message

RUNS, N, D = 3, 240, 24
WINDOWS = [3, 8]


def _walks() -> list[np.ndarray]:
    return [np.random.default_rng(k).normal(size=(N, D)).cumsum(axis=0) for k in range(RUNS)]


def _reference(url: str, run: str, xs: np.ndarray) -> list[list[str]]:
    """The records of an in-order, fault-free delivery, as JSON without the run id."""
    client = redis.Redis.from_url(url)
    ingest = Ingestor(Store(client), AnalyzerSettings(windows=WINDOWS), Counters())
    handle_message(ingest, Message(Kind.START, run, 0, body={"d": D}), 1.0)
    sketches = [
        Message(Kind.SKETCH, run, i + 1, step=10 * i, index=i, d=D, payload=x)
        for i, x in enumerate(xs)
    ]
    for start in range(0, N, 50):
        ingest.handle_batch(sketches[start : start + 50], 2.0)
    records = _records(ingest.store, run)
    client.close()
    return records


def _records(store: Store, run: str) -> list[list[str]]:
    return [
        [r.model_dump_json(exclude={"run_id"}) for r in store.metrics(run, "all", w)]
        for w in WINDOWS
    ]


def _senders(endpoint: str, prefix: str) -> list[Sender]:
    config = ProducerConfig(endpoint=endpoint, resend_after=0.3, heartbeat=0.5, linger_ms=0)
    senders = [Sender(config, f"{prefix}-{k}") for k in range(RUNS)]
    for sender in senders:
        sender.start()
        sender.send(Kind.START, body={"d": D, "project": "faults"})
    return senders


def _stream(senders: list[Sender], walks: list[np.ndarray], fault_at: dict[int, object]) -> None:
    """Send every sketch, calling fault_at[i]() just before sketch i."""
    for i in range(N):
        if i in fault_at:
            fault_at[i]()  # type: ignore[operator]
        for sender, xs in zip(senders, walks, strict=True):
            sender.send(Kind.SKETCH, step=10 * i, index=i, d=D, payload=xs[i])
        time.sleep(0.002)


def _finish(senders: list[Sender]) -> None:
    time.sleep(0.5)  # each sender thread moves its queue into its buffer (`pending`)
    deadline = time.monotonic() + 60.0
    while any(s.pending for s in senders) and time.monotonic() < deadline:
        time.sleep(0.05)  # the Sender gives up on close after a quiet second: drain first
    for sender in senders:
        sender.close(timeout=60.0)
        assert (sender.pending, sender.dropped, sender.failed) == (0, 0, False)
    assert sum(sender.resent for sender in senders) > 0  # the fault really cost messages


def _check(url: str, prefix: str, walks: list[np.ndarray]) -> None:
    store = Store(redis.Redis.from_url(url))
    for k, xs in enumerate(walks):
        got = _records(store, f"{prefix}-{k}")
        assert [len(w) for w in got] == [N - w for w in WINDOWS]
        assert got == _reference(url, f"{prefix}-ref-{k}", xs)
    store.client.close()


class AnalyzerProcess:
    """`spectral-edge analyzer` as a child process on a fixed endpoint."""

    def __init__(self, redis_url: str) -> None:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.redis_url = redis_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        code = "from api.cli import main; main()"
        command = [
            sys.executable,
            "-c",
            code,
            "analyzer",
            "--redis-url",
            self.redis_url,
            "--bind",
            self.endpoint,
        ]
        env = {**os.environ, "SPECTRAL_EDGE_WINDOWS": json.dumps(WINDOWS)}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().split()[-1].decode() == self.endpoint

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def private_url() -> Iterator[str]:
    with EmbeddedRedis() as server:
        yield server.url


def test_kill_9_of_the_analyzer_loses_and_duplicates_nothing(private_url: str) -> None:
    analyzer = AnalyzerProcess(private_url)
    analyzer.start()
    walks = _walks()

    def restart() -> None:
        analyzer.kill()
        analyzer.stop()
        analyzer.start()

    try:
        senders = _senders(analyzer.endpoint, "kill")
        _stream(senders, walks, {N // 3: restart, 2 * N // 3: restart})
        _finish(senders)
        assert analyzer.process is not None and analyzer.process.poll() is None
    finally:
        analyzer.stop()
    assert analyzer.process.returncode == 0  # SIGTERM: graceful
    _check(private_url, "kill", walks)


def test_a_redis_restart_with_aof_loses_nothing() -> None:
    walks = _walks()
    with AofRedis() as aof:
        settings = AnalyzerSettings(redis_url=aof.url, bind="tcp://127.0.0.1:*", windows=WINDOWS)
        service = AnalyzerService(settings)
        service.start()
        try:
            senders = _senders(service.endpoint, "aof")
            _stream(senders, walks, {N // 2: lambda: aof.restart(down=0.5)})
            _finish(senders)
        finally:
            service.stop()
            service.client.close()
        assert service.counters.value("redis_errors") >= 1
        _check(aof.url, "aof", walks)
