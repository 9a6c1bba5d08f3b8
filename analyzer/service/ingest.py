"""Apply a batch of decoded messages: store each once, assemble shards, advance series, detect.

Per batch: one `apply.lua` call per run (pipelined) applies every message at most once; sharded
snapshots whose partials all arrived are assembled; every series whose next snapshot arrived is
advanced (`analyzer.service.series_bank`); logged scalars feed the run's scalar detectors; the
runs' outboxes are published to the global alert stream. Everything after the apply is
idempotent and is redone when a duplicate arrives, so a crash before the acknowledgement loses
nothing: the producer resends, and the resend finishes the work. Deadlines (assembly timeouts,
gaps) and heartbeat crashes are handled by `sweep`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from analyzer.errors import StateError
from analyzer.records import RunState
from analyzer.service import assembly
from analyzer.service.config import AnalyzerSettings
from analyzer.service.prometheus import Counters
from analyzer.service.runs import run_state
from analyzer.service.scripts import (
    Applied,
    Assembled,
    Limits,
    Outcome,
    applied,
    apply_calls,
    assemble_call,
    scalars_call,
    swapped,
)
from analyzer.service.series_bank import SeriesBank, alert_json
from analyzer.service.store import Store
from producer.wire import Kind, Message

_CAS_ATTEMPTS = 16
MAX_ABS = 1e100  # larger sketch entries would overflow the float64 Gram (d * MAX_ABS^2 < 1e308)


class Ingestor:
    """The per-batch logic of the analyzer service, over a Store."""

    def __init__(self, store: Store, settings: AnalyzerSettings, counters: Counters) -> None:
        self.store = store
        self.settings = settings
        self.counters = counters
        self.series = SeriesBank(store, settings, counters)

    def limits(self, now: float) -> Limits:
        """Deadlines and retention for writes made at `now`."""
        s = self.settings
        return Limits(
            now + s.assembly_timeout,
            now + s.gap_timeout,
            s.keep_records,
            s.keep_alerts,
            s.keep_scalars,
        )

    def handle_batch(self, messages: Sequence[Message], now: float) -> list[str]:
        """Apply messages in order; per message `applied`, `duplicate`, `late` or a reason."""
        outcomes = [_refusal(m) or "" for m in messages]
        valid = [(i, m) for i, m in enumerate(messages) if not outcomes[i]]
        limits = self.limits(now)
        results = self._apply([m for _, m in valid], now, limits)
        due: set[tuple[str, str]] = set()
        scalars: dict[str, list[Message]] = {}
        for (i, message), result in zip(valid, results, strict=True):
            outcomes[i] = result.outcome
            if not result.accepted:
                continue
            if message.kind is Kind.SKETCH:
                self._sketch(message, result, due, limits)
            elif message.kind is Kind.SCALARS:
                scalars.setdefault(message.run, []).append(message)
        self.series.advance(due, now, limits)
        for run_id, logged in scalars.items():
            self._detect_scalars(run_id, logged, now)
        self.store.publish(sorted({m.run for _, m in valid}))
        return outcomes

    def sweep(self, now: float) -> list[str]:
        """Handle expired deadlines, publish leftover outboxes, mark silent runs crashed."""
        crashed, runs = [], self.store.list_runs()
        limits = self.limits(now)
        for run in runs:
            self.expire(run.run_id, now, limits)
            verdict = run_state(run, now, self.settings.heartbeat_timeout)
            stale = verdict is RunState.CRASHED and run.state is RunState.RUNNING
            if stale and self.store.mark_crashed(run.run_id, run.updated_at):
                crashed.append(run.run_id)
        self.store.publish([run.run_id for run in runs])
        return crashed

    def _apply(self, messages: list[Message], now: float, limits: Limits) -> list[Applied]:
        """Run the apply calls and register applied or resent STARTs; a result per message."""
        results = applied(messages, self.store.run(apply_calls(messages, now, limits)))
        starts = {
            m.run: r.created_at
            for m, r in zip(messages, results, strict=True)
            if r.created_at is not None
        }
        self.store.register(starts)
        return results

    def _sketch(
        self, message: Message, result: Applied, due: set[tuple[str, str]], limits: Limits
    ) -> None:
        key = (message.run, message.group)
        if result.outcome is Outcome.LATE:
            self.counters.inc("late")
        elif message.owners == 1:
            if result.stored:
                payload = np.asarray(message.payload, np.float64)
                self.series.remember(key, message.index, assembly.Snapshot(message.step, payload))
            if result.next_snapshot:
                due.add(key)
        elif result.partials >= message.owners and self._assemble(
            message.run, message.group, message.index, message.owners, limits
        ):
            due.add(key)

    def _assemble(self, run: str, group: str, index: int, owners: int, limits: Limits) -> bool:
        """Sum a snapshot's partials into its snapshot; True when it is its series' next one."""
        for _ in range(_CAS_ATTEMPTS):
            partials = self.store.partials(run, group, index)
            if not partials:
                self.store.clear_deadline(run, f"part|{group}|{index}|{owners}")
                return False
            snapshot = assembly.assemble(partials, owners)
            blob = assembly.pack(snapshot)
            call = assemble_call(run, group, index, owners, blob, len(partials), limits.gap_at)
            result = Assembled(int(self.store.run([call])[0]))
            if result in (Assembled.STORED, Assembled.NEXT):
                self.series.remember((run, group), index, snapshot)
                if snapshot.flags:
                    self.counters.inc("assembly_timeouts")
            if result is not Assembled.RACED:
                return result is Assembled.NEXT
        raise StateError(f"assembly of {run}/{group}/{index} kept losing its race")

    def expire(self, run_id: str, now: float, limits: Limits | None = None) -> None:
        """Assemble timed-out snapshots (flagged incomplete) and skip timed-out gaps of a run."""
        limits = limits or self.limits(now)
        for member in self.store.expired(run_id, now):
            kind, group, *rest = member.split("|")
            if kind == "gap":
                if not self.series.advance({(run_id, group)}, now, limits, skip=True):
                    self.store.clear_deadline(run_id, member)
            elif self._assemble(run_id, group, int(rest[0]), int(rest[1]), limits):
                self.series.advance({(run_id, group)}, now, limits)

    def _detect_scalars(self, run_id: str, logged: list[Message], now: float) -> None:
        """Feed logged scalars (duplicates too: the bank ignores old steps) with a CAS."""
        ordered = sorted(logged, key=lambda m: m.step)
        for _ in range(_CAS_ATTEMPTS):
            version, raw = self.store.detector_state(run_id)
            bank = self.series.scalar_bank(raw)
            events = [e for m in ordered for e in bank.update(m.step, m.body.get("values", {}))]
            alerts = [alert_json(run_id, "all", 0, e, now) for e in events]
            call = scalars_call(run_id, version, bank.to_bytes(), alerts, self.settings.keep_alerts)
            if swapped(self.store.run([call])[0]):
                for event in events:
                    self.counters.inc("alerts", event.type)
                return
            self.counters.inc("cas_retries")
        raise StateError(f"scalar detectors of {run_id} kept losing their update race")


def _refusal(message: Message) -> str | None:
    """The reason to refuse a decoded message before it reaches Redis, or None."""
    if message.payload is not None and np.abs(message.payload).max(initial=0.0) > MAX_ABS:
        return "out_of_range"
    if message.kind is Kind.SCALARS:
        values = message.body.get("values", {})
        numbers = isinstance(values, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()
        )
        if not numbers:
            return "bad_field"
    if not message.body:
        return None
    try:
        json.dumps(message.body, allow_nan=False)
    except ValueError:
        return "non_finite"
    except TypeError:
        return "bad_field"
    return None
