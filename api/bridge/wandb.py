"""W&B: one offline run per spectral-edge run under `<root>/wandb/`, files that `wandb sync`
uploads later; values are logged against the custom step metric `spectral_edge/step` (our
series arrive out of step order), an alert as a 1.0 on its marker metric."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from api.bridge.sink import PREFIX, Point, RunView, alert_metric

STEP = f"{PREFIX}/step"


def wandb_id(run_id: str) -> str:
    """A W&B run id (letters, digits, `-`, `_`; at most 64) for our run id, stable per run."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", run_id)
    if len(safe) <= 64 and safe == run_id:
        return safe
    return f"{safe[:47]}-{hashlib.sha256(run_id.encode()).hexdigest()[:16]}"


class WandbSink:
    """Mirrored runs as W&B offline runs in `root`."""

    def __init__(self, root: Path) -> None:
        import wandb

        self.wandb, self.root = wandb, root
        self.runs: dict[str, Any] = {}

    def metrics(self, run: RunView, points: list[Point]) -> None:
        handle = self._run(run)
        for step, values in points:
            handle.log({STEP: step, **values})

    def alerts(self, run: RunView, alerts: list[dict[str, Any]]) -> None:
        handle = self._run(run)
        for alert in alerts:
            handle.log({STEP: alert["step"], alert_metric(alert): 1.0})

    def finish(self, run: RunView) -> None:
        handle = self.runs.pop(run.run_id, None) or self._open(run)
        handle.finish(exit_code=0 if run.state == "finished" else 1)

    def close(self) -> None:
        for handle in self.runs.values():
            handle.finish()
        self.runs.clear()

    def _run(self, run: RunView) -> Any:
        if run.run_id not in self.runs:
            self.runs[run.run_id] = self._open(run)
        return self.runs[run.run_id]

    def _open(self, run: RunView) -> Any:
        self.root.mkdir(parents=True, exist_ok=True)
        handle = self.wandb.init(
            mode="offline",
            dir=str(self.root),
            project=run.project,
            id=wandb_id(run.run_id),
            name=run.run_id,
            config=run.config,
            reinit="create_new",
            settings=self.wandb.Settings(silent=True, console="off"),
        )
        handle.define_metric(STEP)
        handle.define_metric(f"{PREFIX}/*", step_metric=STEP)
        return handle
