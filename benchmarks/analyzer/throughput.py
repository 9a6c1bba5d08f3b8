"""Benchmark a: end-to-end sketches/s through real sockets into Redis, next to its limits.

N producer processes (pre-encoded random walks, real DEALER sockets, a window of unacknowledged
messages) feed 1 or 2 analyzer processes; a sketch counts when its acknowledgement arrived, which
the analyzer sends only after the batch's Redis writes returned (private redis-server, AOF
everysec). Printed side by side from the same run: the compute-only limit (decode + series
advance + batched spectra of the same messages in one process, no I/O), the eigen-solver floor
(numpy's batched `eigvalsh` alone on as many Grams of each W, the sketches/s nothing in Python
can beat with this solver) and redis-benchmark's pipelined (-P 16) SET/GET rate on the same
server. Medians over --repeats.

Run: python -m benchmarks.analyzer.throughput
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from typing import Any

import numpy as np
import redis

from analyzer.service import assembly
from analyzer.service.series import Series, evaluate_windows
from benchmarks.analyzer.harness import Analyzers, PrivateRedis, send_window, walk
from producer import wire


def _producer(
    endpoints: list[str], frames: list[list[bytes]], ready: Any, go: Any, out: Any
) -> None:
    send_window(endpoints, frames, window=4096, ready=ready, go=go)
    out.put(time.time())  # every sketch acknowledged


def compute_only(streams: list[list[list[bytes]]], lengths: tuple[int, ...], batch: int) -> float:
    """Sketches/s of decode + advance + evaluate of the streams, interleaved like the producers."""
    series = {k: Series(lengths) for k in range(len(streams))}
    frames = [
        (k, f) for i in range(1, len(streams[0])) for k, s in enumerate(streams) for f in [s[i]]
    ]
    start = time.perf_counter()
    for at in range(0, len(frames), batch):
        pending: dict[int, dict[int, assembly.Snapshot]] = {}
        for k, f in frames[at : at + batch]:
            m = wire.decode(f)
            pending.setdefault(k, {})[m.index] = assembly.Snapshot(m.step, m.payload)  # type: ignore[arg-type]
        groups = [series[k].advance(snaps)[1] for k, snaps in pending.items()]
        evaluate_windows(groups, "weighted")
    return len(frames) / (time.perf_counter() - start)


def eigen_floor(lengths: tuple[int, ...], d: int) -> float:
    """Sketches/s if each sketch cost only one batched eigvalsh per window length."""
    rng = np.random.default_rng(0)
    seconds = 0.0
    for w in lengths:
        n = max(512, 8_000_000 // (w * d))
        u = rng.normal(size=(n, w, d))
        grams = u @ u.transpose(0, 2, 1)
        start = time.perf_counter()
        np.linalg.eigvalsh(grams)
        seconds += (time.perf_counter() - start) / n
    return 1.0 / seconds


def end_to_end(
    url: str, streams: list[list[list[bytes]]], analyzers: int, lengths: list[int]
) -> float:
    """Sketches/s of one delivery of every stream; checks every window was recorded."""
    redis.Redis.from_url(url).flushall()
    fleet = Analyzers(analyzers, redis_url=url, windows=lengths)
    ready = [mp.Event() for _ in streams]
    go, out = mp.Event(), mp.Queue()
    procs = [mp.Process(target=_producer, args=(fleet.endpoints, s, r, go, out))
             for s, r in zip(streams, ready, strict=True)]  # fmt: skip
    for proc in procs:
        proc.start()
    for event in ready:
        event.wait(120)
    start = time.time()
    go.set()
    end = max(out.get(timeout=600) for _ in procs)
    for proc in procs:
        proc.join()
    counters = fleet.close()
    n = len(streams[0]) - 1
    windows_done = sum(c.get("windows", {}).get("", 0) for c in counters)
    assert windows_done == len(streams) * sum(n - w for w in lengths), "windows missing"
    return len(streams) * n / (end - start)


def main() -> None:
    """Print one row per (d, W set, analyzers)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dims", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--windows", nargs="+", default=["10,20,30", "10", "20", "30"])
    parser.add_argument("--analyzers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--sketches", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.producers} producers x {args.sketches} sketches, medians of {args.repeats}")
    print("d     W         analyzers  sketches/s  compute-only/s  ratio  eigvalsh-floor/s  "
          "redis-benchmark-P16 ops/s")  # fmt: skip
    for d in args.dims:
        server = PrivateRedis()
        try:
            pipelined = server.pipelined_ops()
            streams = [walk(f"bench-{k}", args.sketches, d, k) for k in range(args.producers)]
            for spec in args.windows:
                lengths = [int(w) for w in spec.split(",")]
                limit = statistics.median(
                    compute_only(streams, tuple(lengths), 1024) for _ in range(args.repeats)
                )
                floor = statistics.median(
                    eigen_floor(tuple(lengths), d) for _ in range(args.repeats)
                )
                for count in args.analyzers:
                    rate = statistics.median(
                        end_to_end(server.url, streams, count, lengths) for _ in range(args.repeats)
                    )
                    print(f"{d:<5} {spec:<9} {count:<10} {rate:>10,.0f}  {limit:>14,.0f}  "
                          f"{rate / limit:>5.2f}  {floor:>16,.0f}  {pipelined:>14,.0f}",
                          flush=True)  # fmt: skip
        finally:
            server.close()


if __name__ == "__main__":
    main()
