"""Benchmark b: training steps/s with and without the producer, in the same run.

    python -m benchmarks.producer.overhead [--models demo gpt]

For each model and every in {1, 10, 100}: blocks of `block` optimizer steps (a multiple of every)
alternate between a plain run and a watched run (online, to an acknowledging stand-in analyzer in
another process). Two figures per row, from the same blocks:
- wall: median over repeats of watched/plain block time - 1 (exposed to other load on the machine);
- accounted: (time inside the producer's optimizer hook + CPU time of the sender thread) per step,
  over the plain step time: what the producer itself costs the training process.
The watch is created before and closed after its timed block, so only in-training costs count.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import producer
from benchmarks.producer.analyzer_stub import AckingAnalyzer
from benchmarks.producer.models import Step, parameter_count, trainer

ENDPOINT = "tcp://127.0.0.1:5899"


def timed(step: Step, count: int) -> float:
    began = time.perf_counter()
    for _ in range(count):
        step()
    return time.perf_counter() - began


def measure(name: str, every: int, block: int, repeats: int, dim: int) -> dict[str, float]:
    """Per-step plain time, wall overhead and accounted overhead, medians over repeats."""
    model, optimizer, step = trainer(name)
    step()
    plain, walls, accounted = [], [], []
    for _ in range(repeats):
        base = timed(step, block)
        watched = producer.watch(model, optimizer, every=every, dim=dim, endpoint=ENDPOINT,
                                 project="bench", env={})  # fmt: skip
        hook = HookTimer(watched)
        clock = time.pthread_getcpuclockid(watched._sink._thread.ident)  # type: ignore[union-attr]
        sender_before = time.clock_gettime(clock)
        with_producer = timed(step, block)
        sender = time.clock_gettime(clock) - sender_before
        watched.close()
        plain.append(base / block)
        walls.append(with_producer / base - 1)
        accounted.append((hook.seconds + sender) / base)
    return {
        "step": statistics.median(plain),
        "wall": statistics.median(walls),
        "accounted": statistics.median(accounted),
    }


class HookTimer:
    """Wraps a watch's optimizer hook to add up the time spent inside it."""

    def __init__(self, watched: producer.Watch) -> None:
        self.seconds = 0.0
        self._advance = watched.advance
        watched.advance = self._timed  # type: ignore[method-assign]

    def _timed(self, step: int) -> None:
        began = time.perf_counter()
        self._advance(step)
        self.seconds += time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["demo", "gpt"])
    parser.add_argument("--everies", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-block-seconds", type=float, default=20.0)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    with AckingAnalyzer(ENDPOINT):
        for name in options.models:
            model, _, step = trainer(name)
            seconds = timed(step, 3) / 3
            print(f"\n{name}: {parameter_count(model):,} parameters, ~{seconds * 1e3:.0f} ms/step")
            for every in options.everies:
                fits = max(1, int(options.max_block_seconds / seconds) // every)
                block = every * fits
                got = measure(name, every, block, options.repeats, options.dim)
                print(f"  every={every:<4d} block={block:<4d} plain {1 / got['step']:7.2f} steps/s"
                      f"  wall {got['wall'] * 100:+6.2f} %  accounted "
                      f"{got['accounted'] * 100:6.3f} %", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
