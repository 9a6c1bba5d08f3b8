"""Benchmark b: from an alert event XADDed to Redis to the receiver's 200, p50 and p99.

The api runs in its own process (uvicorn, the real app and dispatcher) on a private
redis-server; the alerts are XADDed to `keys.ALERTS` like the analyzer does, at a steady rate,
each from its own run (so each passes the per (rule, run) cooldown check); a real HTTP receiver
on loopback records when each request arrives, just before it answers 200. Latency is arrival
minus the moment before XADD, on one clock. Goal: p99 < 250 ms.

    python -m benchmarks.api.bench_webhooks [--alerts 500 --repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from dataclasses import dataclass

import httpx
import numpy as np
import redis
import uvicorn

from analyzer.service import keys
from analyzer.service.embedded_redis import EmbeddedRedis
from api.app import create_app
from api.config import ApiSettings
from tests.support.receiver import Receiver, free_port
from tests.support.webhooks import LOOPBACK, make_alert

GOAL_MS = 250.0
WARMUP = 20


@dataclass(frozen=True)
class Scenario:
    """How many subscriptions receive each alert, and how many alerts per second are sent."""

    name: str
    subscriptions: int
    rate: float


SCENARIOS = [
    Scenario("1 subscription, 20 alerts/s", 1, 20.0),
    Scenario("1 subscription, 100 alerts/s", 1, 100.0),
    Scenario("5 subscriptions, 20 alerts/s", 5, 20.0),
]


def serve(settings_json: str, port: int) -> None:
    """The api process: the real app under uvicorn."""
    settings = ApiSettings.model_validate_json(settings_json)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def wait_ready(url: str, timeout: float = 30.0) -> None:
    """Poll `/healthz` until the api answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the api did not start")


def run(
    scenario: Scenario, alerts: int, api: httpx.Client, client: redis.Redis, sink: Receiver
) -> np.ndarray:
    """Send `alerts` alerts at the scenario's rate; every (alert, subscription) latency in ms."""
    event_type = f"bench.{uuid.uuid4().hex[:8]}"
    urls = [sink.endpoint() for _ in range(scenario.subscriptions)]
    ids = [
        api.post("/api/v1/webhooks", json={"url": u, "event_types": [event_type]}).json()["id"]
        for u in urls
    ]
    sent: dict[str, float] = {}
    entries = []
    start = time.perf_counter()
    for i in range(WARMUP + alerts):
        alert = make_alert(event_type, run_id=f"bench-{uuid.uuid4().hex[:12]}")
        time.sleep(max(0.0, start + i / scenario.rate - time.perf_counter()))
        sent[alert.id] = time.time()
        entries.append(client.xadd(keys.ALERTS, {"alert": alert.model_dump_json()}))
    expected = (WARMUP + alerts) * scenario.subscriptions
    deadline = time.monotonic() + 60
    while sum(len(sink.hits(u)) for u in urls) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    hits = [h for u in urls for h in sink.hits(u)]
    warm = set(list(sent)[WARMUP:])
    latencies = [(h.at - sent[h.json()["data"]["id"]]) * 1000 for h in hits]
    kept = [lat for h, lat in zip(hits, latencies, strict=True) if h.json()["data"]["id"] in warm]
    for sub_id in ids:
        api.delete(f"/api/v1/webhooks/{sub_id}")
    client.xdel(keys.ALERTS, *entries)
    if len(hits) != expected:
        raise RuntimeError(f"{scenario.name}: {len(hits)} of {expected} deliveries arrived")
    return np.array(kept)


def row(scenario: Scenario, runs: list[np.ndarray]) -> str:
    """One table line: median p50 and p99 over the repeats, the p99 range, p99 over the goal."""
    p50s, p99s = np.array([np.percentile(lat, [50, 99]) for lat in runs]).T
    p50, p99 = float(np.median(p50s)), float(np.median(p99s))
    spread = f"{p99s.min():.1f}-{p99s.max():.1f}"
    return f"{scenario.name:32} {p50:7.2f} {p99:7.2f} {spread:>15} {p99 / GOAL_MS:9.3f}"


def measure(url: str, client: redis.Redis, sink: Receiver, alerts: int, repeats: int) -> None:
    """Print the table for every scenario."""
    print(
        f"alert XADDed -> receiver's 200 (ms): {alerts} alerts per repeat, "
        f"median over {repeats} repeats (min-max of the repeats' p99)"
    )
    print(f"{'scenario':32} {'p50':>7} {'p99':>7} {'p99 range':>15} {'p99/goal':>9}")
    with httpx.Client(base_url=url, timeout=10) as api:
        for scenario in SCENARIOS:
            runs = [run(scenario, alerts, api, client, sink) for _ in range(repeats)]
            print(row(scenario, runs))


def main() -> None:
    """Start Redis, the api process and a receiver; measure every scenario."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500, help="alerts per scenario and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per scenario (medians)")
    args = parser.parse_args()
    port = free_port()
    with EmbeddedRedis() as server, Receiver() as sink:
        settings = ApiSettings(
            redis_url=server.url,
            open=True,
            port=port,
            webhook_allow=LOOPBACK,
            webhook_consumer="bench",
        )
        process = multiprocessing.get_context("spawn").Process(
            target=serve, args=(settings.model_dump_json(), port), daemon=True
        )
        process.start()
        client = redis.Redis.from_url(server.url)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
            measure(url, client, sink, args.alerts, args.repeats)
        finally:
            client.close()
            process.terminate()
            process.join(timeout=10)


if __name__ == "__main__":
    main()
