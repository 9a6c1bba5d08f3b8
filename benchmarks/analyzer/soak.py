"""Benchmark d: fleet soak. Many concurrent simulated runs through a fleet of analyzers.

Each run sends, every `--period` seconds, one sketch (a random-walk snapshot), one SCALARS
message (val_loss) and one heartbeat, spread evenly over the period, over real DEALER sockets to
its rendezvous owner (`producer.rendezvous`), resending what is unacknowledged after 5 s. The
analyzers are real `AnalyzerService` processes (ownership, deadline index and sweeps on) over a
private redis-server with AOF. Printed: the processing lag of sketches (send to acknowledgement)
p50/p99, Redis memory per run sampled over the soak (retention `--keep-records` per series must
keep it flat once every series is full), and messages lost (sent, never acknowledged).

Run: python -m benchmarks.analyzer.soak --runs 10000 --minutes 10
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any

import numpy as np
import redis
import zmq

from benchmarks.analyzer.harness import Analyzers, PrivateRedis
from producer import wire
from producer.rendezvous import ranked
from producer.wire import Kind, Message

RESEND = 5.0


def _producer(runs: list[str], first: int, endpoints: list[str], args: Any, out: Any) -> None:
    """Drive `runs` for `args.minutes`, then drain; put (sent, acked, lags) on `out`.

    Run j numbers its messages from base (first + j + 1) << 32, as a real producer numbers from
    a clock-derived base, so an acknowledged seq names its run; heartbeats carry the base.
    """
    context = zmq.Context()
    sockets = {}
    for endpoint in endpoints:
        sock = context.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        sockets[endpoint] = sock
    owner = {run: sockets[ranked(run, endpoints)[0]] for run in runs}
    rng = np.random.default_rng(first)
    state = {run: rng.normal(size=args.dim) for run in runs}
    base = {run: (first + j + 1) << 32 for j, run in enumerate(runs)}
    seq = dict(base)
    pending: dict[int, list[Any]] = {}  # seq -> [first sent, last sent, run, frames, sketch]
    lags: list[float] = []
    sent = 0

    def send(kind: Kind, run: str, sketch: bool = False, **fields: Any) -> None:
        nonlocal sent
        frames = wire.encode(Message(kind, run, seq[run], **fields))
        owner[run].send_multipart(frames)
        now = time.monotonic()
        pending[seq[run]] = [now, now, run, frames, sketch]
        seq[run] += 1
        sent += 1

    poller = zmq.Poller()
    for sock in sockets.values():
        poller.register(sock, zmq.POLLIN)

    def read_acks(timeout_ms: int) -> None:
        for sock, _ in poller.poll(timeout_ms):
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                for number in wire.decode_ack(frames).seqs:
                    held = pending.pop(number, None)
                    if held is not None and held[4]:
                        lags.append(time.monotonic() - held[0])

    for run in runs:
        send(Kind.START, run, body={"d": args.dim, "project": "soak"})
    start = time.monotonic()
    stop, cursor, cycle, checked = start + args.minutes * 60, 0, 0, start
    while time.monotonic() < stop:
        now = time.monotonic()
        while start + (cycle + cursor / len(runs)) * args.period <= now:  # runs evenly spread
            run = runs[cursor]
            state[run] = state[run] + rng.normal(size=args.dim) * 0.01
            step = 10 * cycle
            send(Kind.SKETCH, run, True, step=step, index=cycle, d=args.dim, payload=state[run])
            send(Kind.SCALARS, run, step=step, body={"values": {"val_loss": 1.0 / (1 + cycle)}})
            send(Kind.HEARTBEAT, run, step=step, body={"base": base[run]})
            cursor += 1
            if cursor == len(runs):
                cursor, cycle = 0, cycle + 1
        read_acks(5)
        if now - checked >= 1.0:
            _resend(pending, owner)
            checked = now
    drain = time.monotonic() + 60
    while pending and time.monotonic() < drain:
        read_acks(50)
        _resend(pending, owner)
    out.put((sent, sent - len(pending), lags))
    for sock in sockets.values():
        sock.close()
    context.term()


def _resend(pending: dict[int, list[Any]], owner: Any) -> None:
    """Send again what waited RESEND seconds since its last send (the lag counts from the first)."""
    now = time.monotonic()
    for entry in pending.values():
        if now - entry[1] >= RESEND:
            entry[1] = now
            owner[entry[2]].send_multipart(entry[3])


def main() -> None:
    """Soak the fleet and print lag, memory per run and losses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--period", type=float, default=10.0, help="seconds between sketches")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--analyzers", type=int, default=2)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--keep-records", type=int, default=20)
    parser.add_argument("--keep-scalars", type=int, default=20)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples")
    args = parser.parse_args()
    server = PrivateRedis()
    fleet = Analyzers(args.analyzers, redis_url=server.url, windows=[10, 20, 30],
                      keep_records=args.keep_records, keep_scalars=args.keep_scalars,
                      sweep_interval=5.0)  # fmt: skip
    client = redis.Redis.from_url(server.url)
    names = [f"soak-{k}" for k in range(args.runs)]
    shares = np.array_split(np.arange(args.runs), args.producers)
    out: Any = mp.Queue()
    procs = [mp.Process(target=_producer, args=([names[k] for k in share], int(share[0]),
                                                fleet.endpoints, args, out))
             for share in shares]  # fmt: skip
    for proc in procs:
        proc.start()
    started = time.monotonic()
    samples = []
    print(
        f"{args.runs} runs, a sketch + scalars + heartbeat each per {args.period:.0f} s, "
        f"d={args.dim}, W={{10,20,30}}, {args.analyzers} analyzers, {args.minutes:.0f} min"
    )
    print("elapsed s  Redis used_memory MB  bytes/run")
    while time.monotonic() - started < args.minutes * 60:
        time.sleep(min(args.sample, max(0.0, args.minutes * 60 - (time.monotonic() - started))))
        used = int(client.info("memory")["used_memory"])
        samples.append(used)
        print(f"{time.monotonic() - started:9.0f}  {used / 2**20:20.1f}  {used / args.runs:9,.0f}",
              flush=True)  # fmt: skip
    results = [out.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join()
    counters = fleet.close()
    sent = sum(r[0] for r in results)
    acked = sum(r[1] for r in results)
    lags = np.sort(np.concatenate([np.asarray(r[2]) for r in results]))
    half = samples[len(samples) // 2] if samples else 0
    print(f"messages sent {sent:,}, acknowledged {acked:,}, lost {sent - acked:,}; sketches "
          f"acknowledged {lags.size:,}")  # fmt: skip
    print(
        f"sketch processing lag p50 {1000 * np.quantile(lags, 0.5):.1f} ms, "
        f"p99 {1000 * np.quantile(lags, 0.99):.1f} ms, max {1000 * lags[-1]:.1f} ms"
    )
    if samples:
        print(
            f"Redis memory per run: {samples[-1] / args.runs:,.0f} bytes at the end, "
            f"{half / args.runs:,.0f} at half time (end / half = {samples[-1] / max(half, 1):.2f})"
        )
    not_owner = sum(sum(c.get("not_owner", {}).values()) for c in counters)
    windows = sum(c.get("windows", {}).get("", 0) for c in counters)
    print(f"windows computed {windows:,}; not_owner replies {not_owner}")
    client.close()
    server.close()


if __name__ == "__main__":
    main()
