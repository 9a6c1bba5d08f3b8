"""A HuggingFace `TrainerCallback` that watches the trained model.

    trainer = Trainer(..., callbacks=[SpectralEdgeCallback(every=10, project="my-project")])

The watch starts at `on_train_begin` (at the trainer's current global step, so resumed runs keep
their snapshot numbering), snapshots after optimizer steps via `on_step_end`, forwards logged and
evaluation metrics as scalars (`loss` -> `train_loss`, `eval_loss` -> `val_loss`, `learning_rate`
-> `lr`) and finishes at `on_train_end`. Options are `producer.watch` keywords.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transformers import TrainerCallback

from producer.hooks import Watch, watch
from producer.integrations.scalars import scalars_from


class SpectralEdgeCallback(TrainerCallback):
    """Sketch the model every `every` optimizer steps and send the Trainer's metrics."""

    def __init__(self, groups: Mapping[str, Any] | None = None, **options: Any) -> None:
        self.groups, self.options = groups, options
        self.watch: Watch | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start watching the model the Trainer hands over."""
        model = kwargs.get("model")
        if model is not None and self.watch is None:
            self.watch = watch(model, None, groups=self.groups, step=state.global_step,
                               **self.options)  # fmt: skip

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """After each optimizer step: snapshot when the global step is a multiple of `every`."""
        if self.watch is not None:
            self.watch.advance(state.global_step)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **_: Any
    ) -> None:
        """Forward training logs (loss, learning rate) and evaluation metrics."""
        if self.watch is not None and logs:
            self.watch.log(state.global_step, **scalars_from(logs))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Finish the run."""
        if self.watch is not None:
            self.watch.close("finished")
            self.watch = None
