"""TensorBoard: one event-file directory per run, `<root>/<project>/<run_id>`, written with
TensorBoard's own `tensorboard.summary.Writer`; an alert is a 1.0 at its step on its marker tag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.bridge.sink import Point, RunView, alert_metric


class TensorBoardSink:
    """Scalars of every mirrored run as TensorBoard event files under `root`."""

    def __init__(self, root: Path) -> None:
        from tensorboard.summary import Writer

        self.root, self.writer_type = root, Writer
        self.writers: dict[str, Any] = {}

    def metrics(self, run: RunView, points: list[Point]) -> None:
        writer = self._writer(run)
        for step, values in points:
            for tag, value in values.items():
                writer.add_scalar(tag, value, step)
        writer.flush()

    def alerts(self, run: RunView, alerts: list[dict[str, Any]]) -> None:
        writer = self._writer(run)
        for alert in alerts:
            writer.add_scalar(alert_metric(alert), 1.0, alert["step"], description=alert["message"])
        writer.flush()

    def finish(self, run: RunView) -> None:
        writer = self.writers.pop(run.run_id, None)
        if writer is not None:
            writer.close()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def _writer(self, run: RunView) -> Any:
        if run.run_id not in self.writers:
            self.writers[run.run_id] = self.writer_type(str(self.root / run.project / run.run_id))
        return self.writers[run.run_id]
