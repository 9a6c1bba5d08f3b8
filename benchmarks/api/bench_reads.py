"""Benchmark a: GET latest metrics and metric history under open-loop load, p50/p99 latency.

The api runs as its own process (`spectral-edge api`, token auth on) over a private redis-server
holding one run with `--records` window records (W=10, 10 singular values each). This process is
the load generator: requests leave on a fixed arrival schedule (i / rate seconds after the start,
whether or not earlier ones finished), each over a free keep-alive HTTP/1.1 connection or a new
one, and latency is measured from the scheduled send time, so queueing delay is counted
(no coordinated omission). Medians over `--repeats` runs per (endpoint, rate), for each
`--workers` count (`spectral-edge api --workers N`, side by side in one run).

    python -m benchmarks.api.bench_reads --workers 1 2
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter

import httpx
import redis

from analyzer.records import KStar, WindowRecord
from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.store import Store
from api.auth import Scope, TokenStore
from producer.wire import Kind, Message

RUN = "bench-reads"
GOAL_P99_MS = 20.0


def seed(url: str, records: int) -> str:
    """One run with `records` window records; returns a read token."""
    client = redis.Redis.from_url(url)
    ingest = Ingestor(Store(client), AnalyzerSettings(), Counters())
    body = {"project": "bench", "every": 10, "d": 64, "groups": ["all"], "config": {}}
    ingest.handle_batch([Message(kind=Kind.START, run=RUN, seq=0, d=64, body=body)], time.time())
    for i in range(1, records + 1):
        sigma = [10.0 / (k + 1) + 0.001 * i for k in range(10)]
        record = WindowRecord(
            run_id=RUN, group="all", window=10, index=i, step=10 * i, sigma=sigma,
            ratios=[sigma[k] / sigma[k + 1] for k in range(9)],
            k_star=KStar(argmax=1, weighted=1, floor=1), edge_ratio=2.0, gap=1.0, g23=1.5,
            energy=[0.5] * 10, k95=5, drift_speed=0.01,
        )  # fmt: skip
        client.zadd(keys.metrics(RUN, "all", 10), {record.model_dump_json(): record.step})
    secret, _ = TokenStore(client).create(Scope.READ, "bench", time.time())
    client.close()
    return secret


class Pool:
    """Keep-alive HTTP/1.1 connections to one host; a new one whenever none is free."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
        self.free: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, path: str) -> int:
        """Send one GET and read the whole response; returns the status.

        A reused connection the server closed while idle (uvicorn's keep-alive timeout) is
        retried once on a new connection, as HTTP clients do.
        """
        if self.free:
            try:
                return await self._exchange(self.free.pop(), path)
            except (OSError, asyncio.IncompleteReadError):
                pass
        return await self._exchange(await asyncio.open_connection("127.0.0.1", self.port), path)

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str
    ) -> int:
        reader, writer = conn
        writer.write(f"GET {path} HTTP/1.1\r\n{self.head}".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length"))
        await reader.readexactly(length)
        self.free.append(conn)
        return int(lines[0].split()[1])


async def load(
    pool: Pool, path: str, rate: float, seconds: float
) -> tuple[list[float], Counter[str], float]:
    """Open-loop load: latencies (ms) from scheduled send times, errors by kind, achieved rate."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: Counter[str] = Counter()

    async def one(at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        try:
            status = await pool.get(path)
        except (OSError, asyncio.IncompleteReadError) as exc:
            status = type(exc).__name__
        if status != 200:
            errors[str(status)] += 1
        latencies.append((time.perf_counter() - at) * 1000)

    start = time.perf_counter() + 0.05
    tasks = [asyncio.create_task(one(start + i / rate)) for i in range(total)]
    await asyncio.gather(*tasks)
    return latencies, errors, total / (time.perf_counter() - start)


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start `spectral-edge api --workers N` in its own processes; wait until /healthz answers."""
    command = [sys.executable, "-c", "from api.cli import main; main()", "api",
               "--redis-url", url, "--port", str(port), "--workers", str(workers)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the api did not start")


async def measure(port: int, token: str, args: argparse.Namespace, workers: int) -> None:
    """Run every (endpoint, rate) `args.repeats` times and print medians."""
    endpoints = {
        "latest": f"/api/v1/runs/{RUN}/metrics/latest",
        "history": f"/api/v1/runs/{RUN}/metrics?start_step=10000&end_step={10000 + 10 * 99}",
    }
    pool = Pool(port, token)
    await load(pool, endpoints["latest"], 200, 1.0)
    print(f"{'workers':<8}{'endpoint':<9}{'rate/s':>8}{'achieved':>10}{'p50 ms':>9}"
          f"{'p99 ms':>9}{'p99/goal':>10}  errors")  # fmt: skip
    for name, path in endpoints.items():
        for rate in args.rates:
            runs = [await load(pool, path, rate, args.seconds) for _ in range(args.repeats)]
            p50 = statistics.median(quantile(lat, 0.50) for lat, _, _ in runs)
            p99 = statistics.median(quantile(lat, 0.99) for lat, _, _ in runs)
            achieved = statistics.median(r for _, _, r in runs)
            errors = sum((e for _, e, _ in runs), Counter())
            print(f"{workers:<8}{name:<9}{rate:>8.0f}{achieved:>10.0f}{p50:>9.2f}{p99:>9.2f}"
                  f"{p99 / GOAL_P99_MS:>10.2f}  {dict(errors) or 0}")  # fmt: skip


def main() -> None:
    """Seed, serve, load, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[200.0, 1000.0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with EmbeddedRedis() as embedded:
        token = seed(embedded.url, args.records)
        print(f"history = 100 records of {args.records}; goal p99 < {GOAL_P99_MS} ms")
        for workers in args.workers:
            port = free_port()
            server = serve(embedded.url, port, workers)
            try:
                asyncio.run(measure(port, token, args, workers))
            finally:
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    main()
