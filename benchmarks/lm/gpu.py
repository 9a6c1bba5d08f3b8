"""The GPU script: the LM experiment at the paper's 51M shape with the CUDA sketch path, CUDA sketch
throughput against `torch.sum` on the same device, and the step overhead of `watch(every=10)`.

    python -m benchmarks.lm.gpu --out DIR [--steps 10000]

A GPU machine may have no package registry, so build the token cache here first
(`python -m benchmarks.lm.gpu --prepare`, vocabulary 50,257 as in the paper's 51M model) and carry
`benchmarks/lm/results/cache` with the run. Writes `gpu.json` (throughput and overhead) and the
report of the 51M run (`results.md`, figures) into DIR.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import producer
from benchmarks.lm import report
from benchmarks.lm.runs import DIM, LMRunSpec, plan
from benchmarks.pipeline import pipeline
from producer.config import ProducerConfig
from producer.hooks import sketch_for
from training.lm import LMConfig, LMTrainer, corpus
from training.lm.gpt import GPTConfig

SIZES = (1 << 20, 1 << 24, 51_000_000)  # elements: 1M, 16M and one 51M-parameter model


def _timed(call: Callable[[], object], repeats: int, device: str) -> float:
    """Median seconds of `call` over `repeats` (after one warm-up call), the device synchronised
    around each."""

    def synchronize() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    call()
    times = []
    for _ in range(repeats):
        synchronize()
        started = time.perf_counter()
        call()
        synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sketch_throughput(
    device: str = "cuda", sizes: tuple[int, ...] = SIZES, repeats: int = 7
) -> list[dict[str, float]]:
    """GB/s of the producer's sketch and of `torch.sum` over the same float32 tensor on `device`."""
    sketch = sketch_for(ProducerConfig(dim=DIM))
    rows = []
    for n in sizes:
        values = torch.randn(n, device=device)
        ours = _timed(lambda v=values: sketch.sketch("w", v, 0), repeats, device)
        reference = _timed(lambda v=values: torch.sum(v), repeats, device)
        rows.append(
            {
                "elements": n,
                "sketch_gb_s": 4 * n / ours / 1e9,
                "sum_gb_s": 4 * n / reference / 1e9,
                "sketch_over_sum": ours / reference,
            }
        )
    return rows


def step_overhead(spec: LMRunSpec, steps: int = 100, every: int = 10) -> dict[str, float]:
    """Mean step time of `spec`'s model on `spec.device`, without and with `watch(every=every)`
    sending to a real analyzer (the mean, since one step in `every` carries the snapshot)."""
    text = corpus.load(Path(spec.cache), spec.vocab, spec.file_limit)
    layers, width, heads, batch = spec.shape
    model = GPTConfig(spec.vocab, spec.context, layers, width, heads)
    trainer = LMTrainer(model, LMConfig(steps=10 * steps, batch=batch), spec.device)

    def mean_step() -> float:
        times = [_timed(lambda: trainer.train_step(text.docs_train), 1, spec.device)
                 for _ in range(steps)]  # fmt: skip
        return sum(times) / steps

    plain = mean_step()
    with (
        pipeline(windows=(10,)) as service,
        producer.watch(trainer.model, trainer.optimizer, every=every, dim=DIM,
                       endpoint=service.endpoint, project="lm-gpu-overhead"),
    ):  # fmt: skip
        watched = mean_step()
    return {"plain_step_s": plain, "watched_step_s": watched, "overhead": watched / plain - 1.0,
            "every": every, "parameters": trainer.model.size()}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=report.RESULTS / "gpu")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--prepare", action="store_true", help="only build the token cache")
    args = parser.parse_args(argv)
    cache = report.RESULTS / "cache"
    (spec,) = plan("gpu", str(cache), str(args.out / "deltas")).runs
    if args.prepare:
        corpus.load(cache, spec.vocab)
        return
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine")
    args.out.mkdir(parents=True, exist_ok=True)
    measured: dict[str, Any] = {"device": torch.cuda.get_device_name()}
    measured["throughput"] = sketch_throughput(spec.device)
    measured["overhead"] = step_overhead(spec)
    (args.out / "gpu.json").write_text(json.dumps(measured, indent=1), encoding="utf-8")
    print(json.dumps(measured, indent=1), flush=True)
    report.main(["--gpu", "--out", str(args.out), "--steps", str(args.steps)])


if __name__ == "__main__":
    main()
