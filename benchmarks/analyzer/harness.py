"""Shared parts of the analyzer benchmarks: a private Redis, analyzer and producer processes.

Producers are simulated (pre-encoded random-walk sketches) but speak the real wire protocol over
real DEALER sockets, keep a bounded window of unacknowledged messages and resend on silence.
Analyzers are real `AnalyzerService`s in their own processes, each on its own endpoint.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis
import zmq

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import free_port, redis_server_binary
from analyzer.service.server import AnalyzerService
from producer import wire
from producer.rendezvous import ranked
from producer.wire import Kind, Message


class PrivateRedis:
    """redis-server on a free port with AOF (`fsync` policy given), in a temporary directory."""

    def __init__(self, fsync: str = "everysec") -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="se-bench-")
        log = str(Path(self._dir.name) / "log")
        command = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                   "--dir", self._dir.name, "--save", "", "--appendonly", "yes",
                   "--appendfsync", fsync, "--logfile", log]  # fmt: skip
        self._command = command
        self.process = subprocess.Popen(command)
        self._wait()

    def _wait(self) -> None:
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def restart(self, down: float = 0.5) -> None:
        """SIGKILL the server, stay down `down` seconds, start it again from its AOF."""
        self.process.kill()
        self.process.wait()
        time.sleep(down)
        self.process = subprocess.Popen(self._command)
        self._wait()

    def pipelined_ops(self, requests: int = 200_000) -> float:
        """`redis-benchmark -P 16` SET/GET throughput (median of the two, requests/s)."""
        out = subprocess.run(
            ["redis-benchmark", "-p", str(self.port), "-P", "16", "-q", "-t", "set,get",
             "-n", str(requests)], capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        lines = out.replace("\r", "\n").splitlines()
        rates = [float(line.split()[1]) for line in lines if "requests per second" in line]
        return statistics.median(rates)

    def close(self) -> None:
        """Stop the server and remove its files."""
        self.process.terminate()
        self.process.wait()
        self._dir.cleanup()


def walk(run: str, n: int, d: int, seed: int) -> list[list[bytes]]:
    """Encoded START (seq 0) and n sketches (seq 1..n) of a random walk."""
    xs = np.random.default_rng(seed).normal(size=(n, d)).cumsum(axis=0)
    start = Message(Kind.START, run, 0, body={"d": d, "project": "bench"})
    sketches = [Message(Kind.SKETCH, run, i + 1, step=10 * i, index=i, d=d, payload=x)
                for i, x in enumerate(xs)]  # fmt: skip
    return [wire.encode(m) for m in (start, *sketches)]


def _analyzer(settings: dict[str, Any], queue: Any, stop: Any) -> None:
    service = AnalyzerService(AnalyzerSettings(**settings))
    service.start()
    queue.put(service.endpoint)
    stop.wait()
    service.stop()
    queue.put(service.counters.snapshot())


class Analyzers:
    """`count` analyzer processes with these settings; `.endpoints`; `close()` -> counters.

    The run limits are lifted unless given: these benchmarks time ingestion, not admission.
    """

    def __init__(self, count: int, **settings: Any) -> None:
        self._queue: Any = mp.Queue()
        self._stop = mp.Event()
        settings = {"bind": "tcp://127.0.0.1:*", "sweep_interval": 3600.0,
                    "new_runs_per_minute": 10**9, "max_active_runs": 10**9, **settings}  # fmt: skip
        self._procs = [mp.Process(target=_analyzer, args=(settings, self._queue, self._stop))
                       for _ in range(count)]  # fmt: skip
        for proc in self._procs:
            proc.start()
        self.endpoints = [self._queue.get(timeout=60) for _ in self._procs]

    def close(self) -> list[dict[str, dict[str, int]]]:
        """Stop every analyzer; their counters."""
        self._stop.set()
        counters = [self._queue.get(timeout=60) for _ in self._procs]
        for proc in self._procs:
            proc.join(30)
        return counters


def send_window(
    endpoints: list[str],
    frames: list[list[bytes]],
    window: int,
    pace: float = 0.0,
    ready: Any = None,
    go: Any = None,
) -> dict[int, float]:
    """Send frames (START first, acknowledged before the rest) to the run's first endpoint in
    rendezvous order (its owner, as a real producer does), keeping at most `window` unacked,
    at most one per `pace` seconds; resend all pending after 5 s without an ack. Between START
    and the rest: `ready.set()`, `go.wait()` when given. Returns each seq's last send time."""
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(ranked(wire.decode(frames[0]).run, endpoints)[0])  # the run's owner
    sent: dict[int, float] = {}
    _exchange(sock, {0: frames[0]}, 1, 0.0, sent)
    if ready is not None:
        ready.set()
        go.wait()
    rest = {seq: f for seq, f in enumerate(frames) if seq}
    _exchange(sock, rest, window, pace, sent)
    sock.close()
    context.term()
    return sent


def _exchange(
    sock: zmq.Socket[bytes],
    frames: dict[int, list[bytes]],
    window: int,
    pace: float,
    sent: dict[int, float],
) -> None:
    order, pending = list(frames), set(frames)
    cursor, last_ack = 0, time.monotonic()
    while pending:
        while cursor < len(order) and cursor - (len(order) - len(pending)) < window:
            if pace and cursor and time.time() < sent[order[cursor - 1]] + pace:
                break
            seq = order[cursor]
            sock.send_multipart(frames[seq])
            sent[seq] = time.time()
            cursor += 1
        if sock.poll(1 if pace else 20):
            while sock.poll(0):
                pending -= set(wire.decode_ack(sock.recv_multipart()).seqs)
            last_ack = time.monotonic()
        elif time.monotonic() - last_ack > 5.0:
            for seq in pending:
                sock.send_multipart(frames[seq])
            last_ack = time.monotonic()
