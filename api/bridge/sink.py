"""What a tracker must take from the bridge, and the names metrics get there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

PREFIX = "spectral_edge"
_IDS = {"run_id", "group", "window", "stride", "index", "step", "flags"}


@dataclass(frozen=True)
class RunView:
    """The run as a tracker names it: id, project, state, configuration."""

    run_id: str
    project: str
    state: str
    config: dict[str, Any]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> RunView:
        """From the api's run document."""
        return cls(
            doc["run_id"], doc.get("project", "default"), doc["state"], doc.get("config", {})
        )


Point = tuple[int, dict[str, float]]  # (step, {metric name: value})


class Sink(Protocol):
    """One tracker: metrics and alerts of a run in, the run closed when it ends."""

    def metrics(self, run: RunView, points: list[Point]) -> None:
        """Log each point's values at its step."""

    def alerts(self, run: RunView, alerts: list[dict[str, Any]]) -> None:
        """Record alerts (the api's documents), oldest first."""

    def finish(self, run: RunView) -> None:
        """The run ended (its `state` says how) and everything of it was sent."""

    def close(self) -> None:
        """Flush and release everything."""


def series_prefix(group: str, window: int, stride: int) -> str:
    """`spectral_edge/<group>/W<window>` (and `/s<stride>` past 1): one series' metric names."""
    name = f"{PREFIX}/{group}/W{window}"
    return name if stride == 1 else f"{name}/s{stride}"


def point(row: dict[str, Any], prefix: str) -> Point:
    """A flattened window record (`analyzer.records.flat_record`) as its step and named numbers."""
    values = {
        f"{prefix}/{name}": float(value)
        for name, value in row.items()
        if name not in _IDS and isinstance(value, int | float) and not isinstance(value, bool)
    }
    return int(row["step"]), values


def alert_metric(alert: dict[str, Any]) -> str:
    """The marker metric of an alert type: 1.0 at each step it fired."""
    return f"{PREFIX}/alerts/{alert['type']}"
