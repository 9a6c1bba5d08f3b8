"""One run of the evaluation, in its own process: train through the real producer, save a summary.

Usage: python -m benchmarks.grokking.worker SPEC_JSON RUN_ID ENDPOINT OUT_JSON
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

import producer
from benchmarks.grokking.grid import RunSpec
from producer.probe import CommutatorProbe
from training import TrainConfig, Trainer, build
from training.loop import train_logged


def run(spec: RunSpec, run_id: str, endpoint: str) -> dict[str, object]:
    """Train `spec` watched by the producer (sending to `endpoint`); the run's summary."""
    torch.set_num_threads(1)
    task = build(spec.task, spec.seed, **spec.options)
    config = TrainConfig(
        d_model=spec.d_model, layers=spec.layers, lr=spec.lr, weight_decay=spec.weight_decay,
        batch=spec.batch, seed=spec.seed,
    )  # fmt: skip
    trainer = Trainer(task, config)
    started = time.monotonic()
    defects: list[tuple[int, float]] = []
    with producer.watch(
        trainer.model, trainer.optimizer, every=spec.every, run_id=run_id, endpoint=endpoint,
        project="grokking-eval",
    ) as watch:  # fmt: skip

        def log(step: int, **values: float) -> None:
            if "commutator_defect" in values:
                defects.append((step, values["commutator_defect"]))
            watch.log(step, **values)

        probe = CommutatorProbe(
            trainer.model, lambda model, batch: trainer.loss(*batch), trainer.batch,
            every=spec.probe_every, pairs=spec.probe_pairs, log=log,
        )  # fmt: skip
        evaluations = train_logged(trainer, log, spec.steps, spec.eval_every, probe)
    return {
        "run_id": run_id,
        "spec": spec.to_dict(),
        "steps": trainer.step,
        "snapshots": trainer.step // spec.every,
        "evaluations": [asdict(e) for e in evaluations],
        "defects": defects,
        "train_seconds": time.monotonic() - started,
    }


def main() -> None:
    """Command-line entry point."""
    spec_json, run_id, endpoint, out = sys.argv[1:5]
    summary = run(RunSpec(**json.loads(spec_json)), run_id, endpoint)
    Path(out).write_text(json.dumps(summary), encoding="utf-8")


if __name__ == "__main__":
    main()
