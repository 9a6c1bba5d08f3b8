"""Benchmark b: from an alert event XADDed to Redis to the receiver's 200, p50 and p99.

The api runs in its own process (uvicorn, the real app and dispatcher) on a private
redis-server; the alerts are XADDed to `keys.ALERTS` like the analyzer does, at a steady rate,
each from its own run (so each passes the per (rule, run) cooldown check); the demo's HTTP
receiver on loopback verifies each signature and records when each request arrived. Latency is
arrival minus the moment before XADD, on one clock. Goal: p99 < 250 ms.

    python -m benchmarks.api.bench_webhooks [--alerts 500 --repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import redis
import uvicorn

from analyzer.records import Alert
from analyzer.service import keys
from analyzer.service.embedded_redis import EmbeddedRedis, free_port
from api.app import create_app
from api.config import ApiSettings
from api.demo.receiver import Receiver
from api.webhooks.signing import new_secret

GOAL_MS = 250.0
WARMUP = 20


class Sink:
    """Every delivery the receiver got: (arrival time, alert id, signature verified)."""

    def __init__(self) -> None:
        self.secret = new_secret()
        self.lock = threading.Lock()
        self.hits: list[tuple[float, str, bool]] = []
        self.receiver = Receiver(self.secret, self.on_event)

    def on_event(self, envelope: dict[str, Any], verified: bool) -> None:
        """Record one delivery."""
        with self.lock:
            self.hits.append((time.time(), envelope["data"]["id"], verified))

    def count(self) -> int:
        """Deliveries so far."""
        with self.lock:
            return len(self.hits)


def make_alert(event_type: str) -> Alert:
    """An alert of `event_type` from a run of its own, created now."""
    return Alert(
        id=f"al_{uuid.uuid4().hex[:24]}", type=event_type, run_id=f"bench-{uuid.uuid4().hex[:12]}",
        group="all", window=10, step=1200, index=120,
        message="edge ratio fell to 1.100 (< 1.2) after a plateau",
        evidence={"edge_ratio": 1.1, "peak": 2.5, "threshold": 1.2}, created_at=time.time(),
    )  # fmt: skip


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
    scenario: Scenario, alerts: int, api: httpx.Client, client: redis.Redis, sink: Sink
) -> np.ndarray:
    """Send `alerts` alerts at the scenario's rate; every (alert, subscription) latency in ms."""
    event_type = f"bench.{uuid.uuid4().hex[:8]}"
    body = {"url": sink.receiver.url, "event_types": [event_type], "secret": sink.secret}
    ids = [
        api.post("/api/v1/webhooks", json=body).json()["id"] for _ in range(scenario.subscriptions)
    ]
    before = sink.count()
    sent: dict[str, float] = {}
    entries = []
    start = time.perf_counter()
    for i in range(WARMUP + alerts):
        alert = make_alert(event_type)
        time.sleep(max(0.0, start + i / scenario.rate - time.perf_counter()))
        sent[alert.id] = time.time()
        entries.append(client.xadd(keys.ALERTS, {"alert": alert.model_dump_json()}))
    expected = (WARMUP + alerts) * scenario.subscriptions
    deadline = time.monotonic() + 60
    while sink.count() - before < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    with sink.lock:
        hits = sink.hits[before:]
    warm = set(list(sent)[WARMUP:])
    kept = [(at - sent[alert_id]) * 1000 for at, alert_id, _ in hits if alert_id in warm]
    for sub_id in ids:
        api.delete(f"/api/v1/webhooks/{sub_id}")
    client.xdel(keys.ALERTS, *entries)
    if len(hits) != expected or not all(verified for _, _, verified in hits):
        raise RuntimeError(f"{scenario.name}: {len(hits)} of {expected} arrived, not all verified")
    return np.array(kept)


def row(scenario: Scenario, runs: list[np.ndarray]) -> str:
    """One table line: median p50 and p99 over the repeats, the p99 range, p99 over the goal."""
    p50s, p99s = np.array([np.percentile(lat, [50, 99]) for lat in runs]).T
    p50, p99 = float(np.median(p50s)), float(np.median(p99s))
    spread = f"{p99s.min():.1f}-{p99s.max():.1f}"
    return f"{scenario.name:32} {p50:7.2f} {p99:7.2f} {spread:>15} {p99 / GOAL_MS:9.3f}"


def measure(url: str, client: redis.Redis, sink: Sink, alerts: int, repeats: int) -> None:
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
    port, sink = free_port(), Sink()
    sink.receiver.start()
    with EmbeddedRedis() as server:
        settings = ApiSettings(
            redis_url=server.url,
            open=True,
            port=port,
            webhook_allow=["127.0.0.0/8"],
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
            sink.receiver.stop()


if __name__ == "__main__":
    main()
