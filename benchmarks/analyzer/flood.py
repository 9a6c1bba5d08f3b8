"""Benchmark d: a flood of START messages under made-up run ids, beside real runs.

Each scenario gets a fresh private redis-server and an analyzer process with CURVE on (any client
key: knowing the server's public key is enough, as in `spectral-edge up`). A few real producer
runs (real `Sender`s sharing one client key) send their START and then paced sketches while a
flooder with a key of its own sends `--flood` STARTs under made-up run ids in the same project
without waiting for acknowledgements. Redis INFO used_memory and its key count are read before
the flood (the real runs registered), after it (the flood handled and every real message
acknowledged) and, with limits, after the empty-run TTL. Scenarios: the real runs alone; the flood
with limits out of reach (as before limits existed); the flood under the default limits with the
TTL shortened to `--ttl` seconds so that its removal shows. The flood's cost is the end state
minus that of the real runs alone. Figures go to `flood_results.json` beside this file.

Run: python -m benchmarks.analyzer.flood
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis
import zmq

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from benchmarks.analyzer.harness import Analyzers
from producer import wire
from producer.config import ProducerConfig
from producer.transport import Sender
from producer.wire import Kind, Message

WINDOWS = [10, 20, 30]
PROJECT = "default"
RESULTS = Path(__file__).with_name("flood_results.json")
UNLIMITED = {"max_active_runs": 10**9, "new_runs_per_minute": 10**9, "empty_run_ttl": 1e9}
DEFAULT_LIMITS = {name: AnalyzerSettings.model_fields[name].default
                  for name in ("max_active_runs", "new_runs_per_minute")}  # fmt: skip


def redis_state(client: redis.Redis) -> dict[str, int]:
    """Redis's used_memory (bytes) and key count."""
    return {"used_memory": int(client.info("memory")["used_memory"]), "keys": client.dbsize()}


def real_runs(
    endpoint: str, keys: tuple[bytes, bytes, bytes], args: argparse.Namespace
) -> list[Sender]:
    """Start the real runs' Senders and wait until their STARTs are acknowledged."""
    server, public, secret = (k.decode() for k in keys)
    config = ProducerConfig(endpoint=endpoint, resend_after=1.0, linger_ms=0, server_key=server,
                            public_key=public, secret_key=secret)  # fmt: skip
    senders = [Sender(config, f"real-{k}") for k in range(args.runs)]
    for sender in senders:
        sender.start()
        sender.send(Kind.START, body={"d": args.dim, "project": PROJECT})
    while any(s.acked < 1 for s in senders):
        time.sleep(0.01)
    return senders


def feed(senders: list[Sender], args: argparse.Namespace) -> None:
    """Send each real run's random-walk sketches, one snapshot of every run per `--pace`."""
    walks = [np.random.default_rng(k).normal(size=(args.snapshots, args.dim)).cumsum(axis=0)
             for k in range(len(senders))]  # fmt: skip
    for i in range(args.snapshots):
        for sender, walk in zip(senders, walks, strict=True):
            sender.send(Kind.SKETCH, step=10 * i, index=i, d=args.dim, payload=walk[i])
        time.sleep(args.pace)


def flood(endpoint: str, keys: tuple[bytes, bytes, bytes], count: int) -> float:
    """Send `count` STARTs under made-up run ids, then a HEARTBEAT of the first, whose
    acknowledgement says every START before it was handled (a socket's messages are handled in
    order); the seconds that took."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = keys
    sock.connect(endpoint)
    started = time.monotonic()
    for i in range(count):
        body = {"d": 32, "project": PROJECT}
        sock.send_multipart(wire.encode(Message(Kind.START, f"flood-{i}", i, body=body)))
    sock.send_multipart(wire.encode(Message(Kind.HEARTBEAT, "flood-0", count)))
    while True:
        if not sock.poll(120_000):
            raise TimeoutError("the analyzer did not acknowledge the flood's last message")
        if count in wire.decode_ack(sock.recv_multipart()).seqs:
            break
    elapsed = time.monotonic() - started
    sock.close()
    context.term()
    return elapsed


def drain(senders: list[Sender], args: argparse.Namespace) -> None:
    """Wait until every real message is acknowledged, then close the Senders (FINISH)."""
    deadline = time.monotonic() + 600.0
    while time.monotonic() < deadline and any(
        s.sent < 1 + args.snapshots or s.pending for s in senders
    ):
        time.sleep(0.05)
    for sender in senders:
        sender.close(timeout=60.0)


def flood_keys(client: redis.Redis) -> int:
    """How many keys the flood's runs hold."""
    return sum(1 for _ in client.scan_iter(match="se:{flood-*", count=1000))


def windows_present(client: redis.Redis, args: argparse.Namespace) -> tuple[int, int]:
    """(records found, records expected) over every real run's series."""
    found = sum(client.zcard(f"se:{{real-{k}}}:metrics:all:{w}")
                for k in range(args.runs) for w in WINDOWS)  # fmt: skip
    return found, args.runs * sum(args.snapshots - w for w in WINDOWS)


def scenario(limits: dict[str, Any], count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One scenario on a fresh Redis and analyzer: its figures."""
    server_public, server_secret = zmq.curve_keypair()
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        analyzers = Analyzers(1, redis_url=server.url, windows=WINDOWS, sweep_interval=1.0,
                              curve_secret_key=server_secret.decode(), **limits)  # fmt: skip
        try:
            result = measure(client, analyzers.endpoints[0], server_public, limits, count, args)
        finally:
            counters = analyzers.close()[0]
        result["rejected"] = counters.get("rejected", {})
        result["runs_removed"] = counters.get("runs_removed", {}).get("", 0)
        client.close()
    return result


def measure(
    client: redis.Redis,
    endpoint: str,
    server_public: bytes,
    limits: dict[str, Any],
    count: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Real runs beside a flood of `count` STARTs (none: the real runs alone); Redis as it was
    before, after and, with a TTL in reach, after the TTL; the real runs' windows."""
    senders = real_runs(endpoint, (server_public, *zmq.curve_keypair()), args)
    result: dict[str, Any] = {"flood_starts": count, "before": redis_state(client)}
    started = time.monotonic()
    feeder = threading.Thread(target=feed, args=(senders, args))
    feeder.start()
    flooder = (server_public, *zmq.curve_keypair())
    result["flood_s"] = flood(endpoint, flooder, count) if count else 0.0
    feeder.join()
    drain(senders, args)
    result["real_s"] = time.monotonic() - started
    result["after"] = redis_state(client)
    result["flood_runs"] = sum(1 for _ in client.zscan_iter("se:runs", match="flood-*"))
    result["flood_keys"] = flood_keys(client)
    ttl = limits.get("empty_run_ttl", UNLIMITED["empty_run_ttl"])
    if count and ttl < UNLIMITED["empty_run_ttl"]:
        deadline = time.monotonic() + 3 * ttl + 30.0
        while flood_keys(client) and time.monotonic() < deadline:
            time.sleep(0.5)
        result["after_ttl"] = redis_state(client)
        result["flood_keys_after_ttl"] = flood_keys(client)
    result["windows"] = windows_present(client, args)
    return result


def main() -> None:
    """Run the three scenarios, print the table and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood", type=int, default=20_000, help="STARTs under made-up ids")
    parser.add_argument("--runs", type=int, default=4, help="real producer runs")
    parser.add_argument("--snapshots", type=int, default=300)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between snapshots")
    parser.add_argument("--ttl", type=float, default=10.0, help="empty-run TTL with limits")
    args = parser.parse_args()
    results = {
        "real runs alone": scenario({}, 0, args),
        "flood, no limits": scenario(UNLIMITED, args.flood, args),
        "flood, limits": scenario({**DEFAULT_LIMITS, "empty_run_ttl": args.ttl}, args.flood, args),
    }
    report(results, args)
    RESULTS.write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")
    print(f"figures written to {RESULTS}")


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Print the scenarios side by side, and the flood's cost with limits against without."""
    alone = results["real runs alone"]["after"]
    rows: dict[str, list[str]] = {}
    for r in results.values():
        found, expected = r["windows"]
        ttl = r.get("after_ttl")
        cost = {k: r["after"][k] - alone[k] for k in ("keys", "used_memory")}
        cells = {
            "flood STARTs sent": f"{r['flood_starts']:,}",
            "flood runs registered": f"{r['flood_runs']:,}",
            "rejected, by reason": ", ".join(f"{k} {v:,}" for k, v in r["rejected"].items()) or "-",
            "flood handled in": f"{r['flood_s']:.1f} s",
            "real runs done in": f"{r['real_s']:.1f} s",
            "real windows present": f"{found:,}/{expected:,}",
            "Redis keys before / after": f"{r['before']['keys']:,} / {r['after']['keys']:,}",
            "used_memory before / after": f"{_mb(r['before'])} / {_mb(r['after'])}",
            "after the TTL: keys, memory": "-" if ttl is None else f"{ttl['keys']:,}, {_mb(ttl)}",
            "runs removed by the TTL": f"{r['runs_removed']:,}",
            "flood's cost: keys, memory": f"{cost['keys']:,}, {cost['used_memory'] / 1e6:.2f} MB",
        }
        for name, cell in cells.items():
            rows.setdefault(name, []).append(cell)
    print(f"{args.runs} real runs x {args.snapshots} snapshots (d={args.dim}) beside "
          f"{args.flood:,} STARTs under made-up ids; CURVE on; empty-run TTL {args.ttl:g} s "
          "with limits")  # fmt: skip
    print(f"{'':30}" + "".join(f"{name:>24}" for name in results))
    for name, values in rows.items():
        print(f"{name:30}" + "".join(f"{value:>24}" for value in values))
    off, on = results["flood, no limits"], results["flood, limits"]
    ratio = (on["after"]["used_memory"] - alone["used_memory"]) / max(
        1, off["after"]["used_memory"] - alone["used_memory"]
    )
    print(f"flood's memory cost with limits / without: {ratio:.3f}; "
          f"runs it registered: {on['flood_runs']:,} / {off['flood_runs']:,}")  # fmt: skip


def _mb(state: dict[str, int]) -> str:
    return f"{state['used_memory'] / 1e6:.1f} MB"


if __name__ == "__main__":
    main()
