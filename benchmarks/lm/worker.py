"""One LM run in its own process: train through the real producer, save a summary (and the deltas).

Usage: python -m benchmarks.lm.worker SPEC_JSON RUN_ID ENDPOINT OUT_JSON

Validation loss on both distributions, the learning rate and the training loss are logged at
every snapshot step. With `save_deltas`, the exact update between consecutive snapshots (all
parameters, flattened in `named_parameters` order, float32) goes to `deltas_dir/RUN_ID.npy`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import producer
from benchmarks.lm.runs import DIM, LMRunSpec
from training.lm import LMConfig, LMTrainer, corpus, learning_rate
from training.lm.gpt import GPTConfig


class DeltaRecorder:
    """Writes x_i - x_(i-1) of the model's flattened parameters at each call, to a .npy memmap."""

    def __init__(self, model: torch.nn.Module, path: Path, updates: int) -> None:
        self.parameters = list(model.parameters())
        self.previous = self._flat()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.out = np.lib.format.open_memmap(path, "w+", np.float32, (updates, self.previous.size))
        self.count = 0

    def _flat(self) -> np.ndarray:
        flat = torch.cat([p.detach().reshape(-1) for p in self.parameters])
        return flat.double().cpu().numpy()

    def take(self) -> None:
        """Record the update since the last call."""
        current = self._flat()
        self.out[self.count] = current - self.previous
        self.previous, self.count = current, self.count + 1

    def close(self) -> None:
        """Flush the file."""
        self.out.flush()


def run(spec: LMRunSpec, run_id: str, endpoint: str) -> dict[str, Any]:
    """Train `spec` watched by the producer (sending to `endpoint`); the run's summary."""
    torch.set_num_threads(1)
    text = corpus.load(Path(spec.cache), spec.vocab, spec.file_limit)
    layers, width, heads, batch = spec.shape
    model = GPTConfig(
        vocab=spec.vocab, context=spec.context, layers=layers, d_model=width, heads=heads
    )
    config = LMConfig(steps=spec.steps, warmup=spec.warmup, batch=batch, seed=spec.seed)
    trainer = LMTrainer(model, config, spec.device)
    recorder = None
    if spec.save_deltas:
        path = Path(spec.deltas_dir) / f"{run_id}.npy"
        recorder = DeltaRecorder(trainer.model, path, spec.steps // spec.every)
    evaluations: list[dict[str, float]] = []
    started = time.monotonic()
    with producer.watch(
        trainer.model,
        trainer.optimizer,
        every=spec.every,
        dim=DIM,
        run_id=run_id,
        endpoint=endpoint,
        project="lm-repro",
    ) as watch:

        def evaluate(loss: float | None) -> None:
            values = {
                "val_loss": trainer.evaluate(text.docs_val, spec.eval_batches),
                "val_loss_code": trainer.evaluate(text.code_val, spec.eval_batches),
                "lr": learning_rate(max(trainer.step - 1, 0), config),
                **({} if loss is None else {"train_loss": loss}),
            }
            evaluations.append({"step": trainer.step, **values})
            watch.log(trainer.step, **values)

        evaluate(None)
        while trainer.step < spec.steps:
            shifted = spec.shift_step is not None and trainer.step >= spec.shift_step
            loss = trainer.train_step(text.code_train if shifted else text.docs_train)
            if trainer.step % spec.every == 0:
                evaluate(loss)
                if recorder is not None:
                    recorder.take()
    if recorder is not None:
        recorder.close()
    return {
        "run_id": run_id,
        "spec": spec.to_dict(),
        "parameters": trainer.model.size(),
        "names": [[n, p.numel()] for n, p in trainer.model.named_parameters()],
        "steps": trainer.step,
        "snapshots": trainer.step // spec.every,
        "evaluations": evaluations,
        "train_seconds": time.monotonic() - started,
    }


def main() -> None:
    """Command-line entry point."""
    spec_json, run_id, endpoint, out = sys.argv[1:5]
    summary = run(LMRunSpec(**json.loads(spec_json)), run_id, endpoint)
    Path(out).write_text(json.dumps(summary), encoding="utf-8")


if __name__ == "__main__":
    main()
