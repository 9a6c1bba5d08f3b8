"""Benchmark e: the analyzer is absent for the whole run. Step time, memory, exit time.

    python -m benchmarks.producer.absent

1. Step time: the demo model trains in alternating blocks without and with a watch (every=10,
   online, nobody listening); ratio of plain to watched step rate, median over repeats.
2. Memory: a tiny model watched with every=1 and d=4096 (32 KiB per sketch) for thousands of
   snapshots; RSS and the sender's buffer are sampled as it runs: the buffer stops at its byte
   bound (buffer_bytes, 32 MiB by default) and older messages are dropped and counted.
3. Exit: time of `close()` (FINISH, bounded wait, socket close) with no analyzer.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import producer
from benchmarks.producer.models import trainer

NOBODY = "tcp://127.0.0.1:5897"


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
    return 0


def step_time(repeats: int, block: int) -> None:
    model, optimizer, step = trainer("demo")
    step()
    ratios = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(block):
            step()
        plain = time.perf_counter() - began
        watched = producer.watch(model, optimizer, every=10, endpoint=NOBODY, env={})
        began = time.perf_counter()
        for _ in range(block):
            step()
        ratios.append(plain / (time.perf_counter() - began))
        watched.close()
    print(f"step-rate ratio watched/plain (every=10, analyzer absent): "
          f"{statistics.median(ratios):.4f}  (median of {repeats} x {block} steps)")  # fmt: skip


def memory(snapshots: int) -> None:
    model = torch.nn.Linear(64, 64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    watched = producer.watch(model, optimizer, every=1, dim=4096, endpoint=NOBODY, env={})
    sender = watched._sink
    start = rss()
    for n in range(1, snapshots + 1):
        optimizer.step()
        if n % (snapshots // 4) == 0:
            time.sleep(0.2)  # let the sender thread drain its inbox into the buffer
            print(f"  after {n:6d} snapshots: RSS +{(rss() - start) / 2**20:6.1f} MiB  "
                  f"buffer {sender._buffer.bytes / 2**20:5.1f} MiB in {sender.pending} msgs  "
                  f"dropped {sender.dropped}", flush=True)  # fmt: skip
    began = time.perf_counter()
    watched.close()
    print(f"close() with the analyzer absent: {time.perf_counter() - began:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--snapshots", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    step_time(options.repeats, options.block)
    memory(options.snapshots)


if __name__ == "__main__":
    main()
