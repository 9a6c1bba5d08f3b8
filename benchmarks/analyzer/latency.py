"""Benchmark b: latency from the arrival of the sketch that completes a window to its alert event
in Redis, p50 and p99, at a paced load (default: half the maximum end-to-end rate of benchmark a).

Every run's collapse rule is set to fire on its first window of each length, so each run of
K snapshots yields one alert per W at a known snapshot. Latency = the alert's XADD time (its
stream entry id, Redis clock, ms) - the producer's send time of that snapshot (same host clock).

Run: python -m benchmarks.analyzer.latency --rate 1400
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from typing import Any

import numpy as np
import redis

from analyzer.records import Alert
from analyzer.service import keys
from benchmarks.analyzer.harness import Analyzers, PrivateRedis, send_window, walk

WINDOWS = [10, 20, 30]
FIRE_AT_ONCE = {"plateau_min": 0.0, "plateau_windows": 1, "collapse_threshold": 1e9}


def _producer(endpoints: list[str], first: int, runs: int, d: int, pace: float, out: Any) -> None:
    sent = {}
    for k in range(first, first + runs):
        run = f"lat-{k}"
        times = send_window(endpoints, walk(run, max(WINDOWS) + 5, d, k), window=64, pace=pace)
        sent[run] = times
    out.put(sent)


def latencies(url: str, sent: dict[str, dict[int, float]]) -> list[float]:
    """Seconds from each alert's completing sketch send to its XADD."""
    client = redis.Redis.from_url(url)
    found = []
    for run, times in sent.items():
        for entry_id, fields in client.xrange(keys.run_alerts(run)):
            alert = Alert.model_validate_json(fields[b"alert"])
            if alert.type == "edge.collapse":
                written = int(entry_id.split(b"-")[0]) / 1000.0
                found.append(written - times[alert.index + 1])
    client.close()
    return found


def main() -> None:
    """Print p50/p99 of the alert latency at the given total sketch rate."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1400.0, help="total sketches/s offered")
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=60, help="runs per producer")
    parser.add_argument("--dim", type=int, default=100)
    args = parser.parse_args()
    server = PrivateRedis()
    fleet = Analyzers(1, redis_url=server.url, windows=WINDOWS, **FIRE_AT_ONCE)
    out: Any = mp.Queue()
    pace = args.producers / args.rate
    procs = [mp.Process(target=_producer, args=(fleet.endpoints, p * args.runs, args.runs,
                                                args.dim, pace, out))
             for p in range(args.producers)]  # fmt: skip
    for proc in procs:
        proc.start()
    sent: dict[str, dict[int, float]] = {}
    for _ in procs:
        sent.update(out.get(timeout=1200))
    for proc in procs:
        proc.join()
    fleet.close()
    found = np.array(latencies(server.url, sent)) * 1000.0
    server.close()
    expected = len(sent) * len(WINDOWS)
    print(f"offered {args.rate:,.0f} sketches/s, d={args.dim}, W={WINDOWS}: "
          f"{found.size}/{expected} alerts, latency p50 {np.percentile(found, 50):.1f} ms, "
          f"p99 {np.percentile(found, 99):.1f} ms, max {found.max():.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
