"""Apply one decoded message: store it once, compute the windows it completes, advance detectors.

Everything after the at-most-once apply (shard assembly, windows, detectors) is idempotent and runs
again when a duplicate arrives, so a crash between apply and acknowledgement loses nothing: the
producer resends, and the resend finishes the work.
"""

from __future__ import annotations

import hashlib
import json

from analyzer import spectrum, windows
from analyzer.config import AnalyzerSettings
from analyzer.detectors import CollapseDetector, CollapseEvent
from analyzer.errors import RejectedError, StateError
from analyzer.metrics import Counters
from analyzer.records import Alert, RunInfo, RunState, WindowRecord
from analyzer.store import Applied, Store
from producer.wire import Kind, Message

_CAS_ATTEMPTS = 16


def run_state(run: RunInfo, now: float, timeout: float) -> RunState:
    """A run's state as of `now`: running runs silent for longer than `timeout` have crashed."""
    if run.state is RunState.RUNNING and now - run.updated_at > timeout:
        return RunState.CRASHED
    return run.state


class Ingestor:
    """The per-message logic of the analyzer service, over a Store."""

    def __init__(self, store: Store, settings: AnalyzerSettings, counters: Counters) -> None:
        self.store = store
        self.settings = settings
        self.counters = counters

    def handle(self, message: Message, now: float) -> bool:
        """Apply `message`; True if new, False if a duplicate. Raises RejectedError to refuse it."""
        _validate(message)
        outcome, partials = self.store.apply(message, now)
        if outcome is Applied.UNKNOWN_RUN:
            raise RejectedError("unknown_run", message.run)
        if outcome is Applied.DIM_MISMATCH:
            raise RejectedError("dim_mismatch", f"d={message.d} differs from the run's")
        if message.kind is Kind.SKETCH:
            needs_assembly = message.owners > 1 and (
                outcome is Applied.DUPLICATE or partials >= message.owners
            )
            if needs_assembly:
                self.store.assemble(message.run, message.group, message.index, message.owners)
            self.complete_windows(message.run, message.group, message.index, now)
        return outcome is Applied.APPLIED

    def complete_windows(self, run_id: str, group: str, index: int, now: float) -> list[Alert]:
        """Compute the windows snapshot `index` completes, then advance their detectors."""
        lengths = self.settings.windows
        present = self.store.present(run_id, group, windows.span(index, lengths))
        alerts: list[Alert] = []
        for length in lengths:
            due = windows.completed(index, present, [length])
            done = self.store.recorded(run_id, group, length, [w.end for w in due])
            for window in due:
                if window.end not in done:
                    self._record(run_id, group, window)
            if due:
                alerts += self.advance(run_id, group, length, now)
        return alerts

    def advance(self, run_id: str, group: str, length: int, now: float) -> list[Alert]:
        """Feed a series' detector its unseen records in index order (compare-and-set)."""
        for _ in range(_CAS_ATTEMPTS):
            raw = self.store.detector_state(run_id, group, length)
            detector = self._detector(raw)
            first = length if detector.last_index is None else detector.last_index + 1
            records = self.store.window_records(run_id, group, length, first)
            if not records:
                return []
            events = [detector.update(r.index, r.step, r.edge_ratio) for r in records]
            alerts = [_alert(run_id, group, length, e, now) for e in events if e is not None]
            if self.store.advance_detector(run_id, group, length, raw, detector.to_bytes(), alerts):
                if alerts:
                    self.counters.inc("alerts", CollapseDetector.rule, len(alerts))
                return alerts
        raise StateError(f"detector of {run_id}/{group}/W={length} kept losing its update race")

    def sweep(self, now: float) -> list[str]:
        """Mark running runs crashed when their heartbeats stopped; returns their ids."""
        crashed = []
        for run in self.store.list_runs():
            verdict = run_state(run, now, self.settings.heartbeat_timeout)
            stale = verdict is RunState.CRASHED and run.state is RunState.RUNNING
            if stale and self.store.mark_crashed(run.run_id, run.updated_at):
                crashed.append(run.run_id)
        return crashed

    def _record(self, run_id: str, group: str, window: windows.Window) -> None:
        block = self.store.snapshot_block(run_id, group, window.first, window.end)
        metrics = spectrum.window_metrics(block[1:] - block[:-1], self.settings.edge_rule)
        record = WindowRecord(
            run_id=run_id,
            group=group,
            window=window.length,
            index=window.end,
            step=self.store.step_of(run_id, group, window.end),
            **metrics.fields(),
        )
        if self.store.record_window(record):
            self.counters.inc("windows")

    def _detector(self, raw: bytes | None) -> CollapseDetector:
        if raw is not None:
            return CollapseDetector.from_bytes(raw)
        s = self.settings
        return CollapseDetector(s.plateau_min, s.plateau_windows, s.collapse_threshold)


def _validate(message: Message) -> None:
    """Refuse bodies that are not strict JSON (the codec checks only their top level)."""
    if message.kind is Kind.SCALARS:
        values = message.body.get("values", {})
        numbers = isinstance(values, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()
        )
        if not numbers:
            raise RejectedError("bad_field", "scalars values must map names to numbers")
    try:
        json.dumps(message.body, allow_nan=False)
    except ValueError:
        raise RejectedError("non_finite", "body holds NaN or Inf") from None
    except TypeError:
        raise RejectedError("bad_field", "body is not JSON") from None


def _alert(run_id: str, group: str, length: int, event: CollapseEvent, now: float) -> Alert:
    """The `edge.collapse` alert for an event; its id is derived from the series and index."""
    digest = hashlib.sha256(f"{run_id}\0{group}\0{length}\0{event.index}".encode()).hexdigest()
    return Alert(
        id=f"al_{digest[:24]}",
        type=CollapseDetector.rule,
        run_id=run_id,
        group=group,
        window=length,
        step=event.step,
        index=event.index,
        message=(
            f"edge ratio fell to {event.edge_ratio:.3f} (< {event.threshold:g}) after a plateau "
            f"at peak {event.peak:.3f} (W={length}, step {event.step})"
        ),
        evidence={
            "edge_ratio": event.edge_ratio,
            "peak": event.peak,
            "threshold": event.threshold,
        },
        created_at=now,
    )
