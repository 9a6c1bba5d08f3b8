"""A Lightning `Callback` that watches the LightningModule.

    trainer = L.Trainer(callbacks=[SpectralEdgeCallback(every=10, project="my-project")])

The watch starts at `on_train_start`, snapshots when `trainer.global_step` (optimizer steps, so
gradient accumulation is respected) reaches a multiple of `every`, sends `trainer.callback_metrics`
after each validation (`val_loss`, `val_acc`, ...), finishes at `on_train_end` and reports a
failure from `on_exception`. Options are `producer.watch` keywords.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch.callbacks import Callback

from producer.hooks import Watch, watch
from producer.integrations.scalars import scalars_from


class SpectralEdgeCallback(Callback):
    """Sketch the module every `every` optimizer steps and send validation metrics."""

    def __init__(self, groups: Mapping[str, Any] | None = None, **options: Any) -> None:
        self.groups, self.options = groups, options
        self.watch: Watch | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Start watching the module."""
        if self.watch is None:
            self.watch = watch(pl_module, None, groups=self.groups, step=trainer.global_step,
                               **self.options)  # fmt: skip

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Snapshot when the optimizer-step count reaches a multiple of `every`."""
        if self.watch is not None:
            self.watch.advance(trainer.global_step)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Send the validation metrics of this evaluation."""
        if self.watch is not None and not trainer.sanity_checking:
            self.watch.log(trainer.global_step, **scalars_from(trainer.callback_metrics))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """Finish the run."""
        self._close("finished")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Mark the run failed."""
        self._close("failed")

    def _close(self, status: str) -> None:
        if self.watch is not None:
            self.watch.close(status)
            self.watch = None
