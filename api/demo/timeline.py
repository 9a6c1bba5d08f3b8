"""What the demo saw: evaluations from training and webhooks from the receiver, in arrival order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from training.loop import GROK_LEVEL, Evaluation


@dataclass(frozen=True)
class Arrival:
    """One webhook as it arrived: alert type, the training step it reports, which detector, the
    alert's confidence."""

    type: str
    step: int
    detector: str | None
    confidence: float | None
    verified: bool
    arrived: float


@dataclass
class Timeline:
    """Evaluations and webhook arrivals of one demo run (thread-safe appends)."""

    started: float
    evaluations: list[Evaluation] = field(default_factory=list)
    jump_seen: float | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def evaluated(self, evaluation: Evaluation) -> None:
        """Record one evaluation, and when the first one at the grok level was seen."""
        self.evaluations.append(evaluation)
        if self.jump_seen is None and evaluation.test_acc >= GROK_LEVEL:
            self.jump_seen = time.monotonic() - self.started

    def record(self, envelope: dict[str, Any], verified: bool) -> None:
        """A receiver callback: record one delivery."""
        data = envelope.get("data", {})
        elapsed = time.monotonic() - self.started
        kind, step = str(envelope.get("type")), int(data.get("step", -1))
        detector, confidence = data.get("detector"), data.get("confidence")
        arrival = Arrival(kind, step, detector, confidence, verified, elapsed)
        with self.lock:
            self.arrivals.append(arrival)

    def on_webhook(self, console: Console) -> Callable[[dict[str, Any], bool], None]:
        """A receiver callback that records and prints each delivery."""

        def record_and_print(envelope: dict[str, Any], verified: bool) -> None:
            self.record(envelope, verified)
            data = envelope.get("data", {})
            mark = "signature verified" if verified else "SIGNATURE INVALID"
            console.print(
                f"[bold red]webhook[/] {envelope.get('type')} at step {data.get('step')} "
                f"(W={data.get('window')}): {data.get('message')} ({mark})"
            )

        return record_and_print

    def first(self, kind: str) -> Arrival | None:
        """The verified arrival of `kind` reporting the earliest step, or None."""
        with self.lock:
            found = [a for a in self.arrivals if a.type == kind and a.verified]
        return min(found, key=lambda a: a.step, default=None)

    def wait_for(self, kind: str, timeout: float) -> Arrival | None:
        """Poll up to `timeout` seconds for an arrival of `kind`."""
        deadline = time.monotonic() + timeout
        while (found := self.first(kind)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return found
