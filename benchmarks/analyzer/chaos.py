"""Benchmark c: chaos. 50 runs x 2,000 snapshots from real producer Senders; the analyzer (the
`spectral-edge analyzer` process) is killed with SIGKILL 5 times and Redis (AOF, fsync always)
once. Afterwards every series must hold exactly the records of a fault-free in-process delivery
of the same sketches: lost 0, duplicated 0, identical JSON.

With `--analyzers 2` the producers know both endpoints (one owner per run by rendezvous hashing)
and each kill hits one analyzer in turn, which stays down for the lease plus a second, so its runs
must move to the other. Printed: each run's longest stall (messages outstanding, no new
acknowledgement), against the lease; the Redis restart stalls every run too.

Run: python -m benchmarks.analyzer.chaos [--analyzers 2 --lease 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import redis

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis, free_port
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.store import Store
from benchmarks.analyzer.harness import PrivateRedis
from producer.config import ProducerConfig
from producer.transport import Sender
from producer.wire import Kind, Message

WINDOWS = [10, 20, 30]


def _walk(k: int, n: int, d: int) -> np.ndarray:
    return np.random.default_rng(k).normal(size=(n, d)).cumsum(axis=0)


def _producer(endpoint: str, runs: list[int], n: int, d: int, failover: float, out: Any) -> None:
    config = ProducerConfig(endpoint=endpoint, resend_after=1.0, heartbeat=1.0, linger_ms=0,
                            failover_after=failover)  # fmt: skip
    senders = {k: Sender(config, f"chaos-{k}") for k in runs}
    for sender in senders.values():
        sender.start()
        sender.send(Kind.START, body={"d": d, "project": "chaos"})
    walks = {k: _walk(k, n, d) for k in runs}
    stalls = dict.fromkeys(runs, 0.0)
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(senders, stalls, done), daemon=True)
    watcher.start()
    for i in range(n):
        for k, sender in senders.items():
            sender.send(Kind.SKETCH, step=10 * i, index=i, d=d, payload=walks[k][i])
        if i % 50 == 0:
            time.sleep(0.01)
    time.sleep(1.0)  # each sender thread moves its queue into its buffer (`pending`)
    deadline = time.monotonic() + 1800.0
    while any(s.pending for s in senders.values()) and time.monotonic() < deadline:
        time.sleep(0.1)  # a Sender gives up on close after a quiet second: drain first
    done.set()
    watcher.join()
    for sender in senders.values():
        sender.close(timeout=600.0)
    out.put({k: (s.pending, s.dropped, s.resent, stalls[k]) for k, s in senders.items()})


def _watch(senders: dict[int, Sender], stalls: dict[int, float], done: threading.Event) -> None:
    """Each run's longest stall: seconds with messages outstanding and no new acknowledgement."""
    since = {k: time.monotonic() for k in senders}
    acked = {k: 0 for k in senders}
    while not done.wait(0.05):
        now = time.monotonic()
        for k, sender in senders.items():
            if sender.acked != acked[k] or not sender.pending:
                acked[k], since[k] = sender.acked, now
            stalls[k] = max(stalls[k], now - since[k])


class Analyzer:
    """The analyzer CLI as a child process on a fixed endpoint."""

    def __init__(self, url: str, lease: float) -> None:
        self.url, self.endpoint = url, f"tcp://127.0.0.1:{free_port()}"
        self.lease = lease
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "SPECTRAL_EDGE_WINDOWS": json.dumps(WINDOWS),
               "SPECTRAL_EDGE_LEASE": str(self.lease)}  # fmt: skip
        command = [sys.executable, "-c", "from api.cli import main; main()", "analyzer",
                   "--redis-url", self.url, "--bind", self.endpoint]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)


def reference(runs: int, n: int, d: int) -> dict[int, list[list[bytes]]]:
    """Each run's records (JSON, run id blanked) from an in-order, fault-free delivery."""
    records = {}
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        ingest = Ingestor(Store(client), AnalyzerSettings(windows=WINDOWS), Counters())
        for k in range(runs):
            run = f"chaos-{k}"
            ingest.handle_batch([Message(Kind.START, run, 0, body={"d": d})], 1.0)
            sketches = [Message(Kind.SKETCH, run, i + 1, step=10 * i, index=i, d=d, payload=x)
                        for i, x in enumerate(_walk(k, n, d))]  # fmt: skip
            for at in range(0, n, 512):
                ingest.handle_batch(sketches[at : at + 512], 2.0)
            records[k] = _records(client, run)
        client.close()
    return records


def _records(client: redis.Redis, run: str) -> list[list[bytes]]:
    store = Store(client)
    return [[r.model_dump_json(exclude={"run_id"}).encode() for r in store.metrics(run, "all", w)]
            for w in WINDOWS]  # fmt: skip


def main() -> None:
    """Run the chaos schedule and print lost / duplicated / differing record counts."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--snapshots", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--producers", type=int, default=5)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--every", type=float, default=6.0, help="seconds between faults")
    parser.add_argument("--analyzers", type=int, default=1)
    parser.add_argument("--lease", type=float, default=5.0)
    parser.add_argument("--failover-after", type=float, default=2.0)
    args = parser.parse_args()
    server = PrivateRedis(fsync="always")
    fleet = [Analyzer(server.url, args.lease) for _ in range(args.analyzers)]
    for analyzer in fleet:
        analyzer.start()
    time.sleep(2.0)
    out: Any = mp.Queue()
    shares = np.array_split(np.arange(args.runs), args.producers)
    endpoints = ",".join(a.endpoint for a in fleet)
    procs = [mp.Process(target=_producer, args=(endpoints, share.tolist(), args.snapshots,
                                                args.dim, args.failover_after, out))
             for share in shares]  # fmt: skip
    started = time.monotonic()
    for proc in procs:
        proc.start()
    faults = ["kill"] * args.kills
    faults.insert(len(faults) // 2, "redis")
    for turn, fault in enumerate(faults):
        time.sleep(args.every)
        note = ""
        if fault == "redis":
            server.restart(down=0.5)
        elif len(fleet) == 1:
            fleet[0].kill()
            time.sleep(0.2)
            fleet[0].start()
        else:
            victim = fleet[turn % len(fleet)]
            victim.kill()
            time.sleep(args.lease + 1.0)  # its runs must move to the other analyzer meanwhile
            victim.start()
            note = f" analyzer {turn % len(fleet)}, down {args.lease + 1.0:.0f} s"
        print(f"{time.monotonic() - started:6.1f} s  {fault}{note}", flush=True)
    senders: dict[int, tuple[int, int, int, float]] = {}
    for _ in procs:
        senders.update(out.get(timeout=3600))
    elapsed = time.monotonic() - started
    for proc in procs:
        proc.join()
    for analyzer in fleet:
        analyzer.stop()
    client = redis.Redis.from_url(server.url)
    got = {k: _records(client, f"chaos-{k}") for k in range(args.runs)}
    client.close()
    server.close()
    want = reference(args.runs, args.snapshots, args.dim)
    _report(got, want, senders, elapsed, args)


def _report(
    got: dict[int, list[list[bytes]]],
    want: dict[int, list[list[bytes]]],
    senders: dict[int, tuple[int, int, int, float]],
    elapsed: float,
    args: argparse.Namespace,
) -> None:
    lost = dup = differ = 0
    for k, series in want.items():
        for theirs, ours in zip(series, got[k], strict=True):
            lost += len(set(theirs) - set(ours))
            dup += len(ours) - len(set(ours))
            differ += sum(a != b for a, b in zip(theirs, ours, strict=False))
    total = sum(len(w) for series in want.values() for w in series)
    sketches = args.runs * args.snapshots
    rate = sketches / elapsed
    print(f"{args.runs} runs x {args.snapshots} snapshots (d={args.dim}), {args.analyzers} "
          f"analyzer(s), {args.kills} analyzer "
          f"kills + 1 Redis restart: {elapsed:.1f} s ({rate:,.0f} sketches/s)")  # fmt: skip
    print(f"records expected {total}, lost {lost}, duplicated {dup}, differing {differ}; "
          f"producer resends {sum(s[2] for s in senders.values())}, "
          f"unacked {sum(s[0] for s in senders.values())}, "
          f"dropped {sum(s[1] for s in senders.values())}")  # fmt: skip
    stalls = sorted(s[3] for s in senders.values())
    print(
        f"longest stall per run (outstanding, no ack): median {stalls[len(stalls) // 2]:.2f} s, "
        f"max {stalls[-1]:.2f} s; lease {args.lease:.1f} s, failover after "
        f"{args.failover_after:.1f} s: max = {stalls[-1] / args.lease:.2f} x the lease"
    )


if __name__ == "__main__":
    main()
