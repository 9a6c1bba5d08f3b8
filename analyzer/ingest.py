"""Apply a batch of decoded messages: store each once, assemble shards, advance series, detect.

Per batch: one `apply.lua` call per run (pipelined) applies every message at most once; sharded
snapshots whose partials all arrived are assembled; every series whose next snapshot arrived is
advanced (`analyzer.series`); logged scalars feed the run's scalar detectors; the runs' outboxes
are published to the global alert stream. Everything after the apply is idempotent and is redone
when a duplicate arrives, so a crash before the acknowledgement loses nothing: the producer
resends, and the resend finishes the work. Deadlines (assembly timeouts, gaps) and heartbeat
crashes are handled by `sweep`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from analyzer import assembly
from analyzer.config import AnalyzerSettings
from analyzer.errors import RejectedError, StateError
from analyzer.metrics import Counters
from analyzer.records import RunState
from analyzer.runs import run_state
from analyzer.scripts import Limits, apply_calls, assemble_call, scalars_call
from analyzer.series import SeriesBank, alert_json
from analyzer.store import Store
from producer.wire import Kind, Message

_CAS_ATTEMPTS = 16
MAX_ABS = 1e100  # larger sketch entries would overflow the float64 Gram (d * MAX_ABS^2 < 1e308)
APPLIED, DUPLICATE, LATE = "applied", "duplicate", "late"
_CODES = {1: APPLIED, 0: DUPLICATE, 2: LATE, -1: "unknown_run", -2: "dim_mismatch"}


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

    def handle(self, message: Message, now: float) -> bool:
        """Apply one message; True if new, False if not. Raises RejectedError to refuse it."""
        outcome = self.handle_batch([message], now)[0]
        if outcome not in (APPLIED, DUPLICATE, LATE):
            raise RejectedError(outcome, message.run)
        return outcome == APPLIED

    def handle_batch(self, messages: Sequence[Message], now: float) -> list[str]:
        """Apply messages in order; per message `applied`, `duplicate`, `late` or a reason."""
        outcomes = [_refusal(m) or "" for m in messages]
        valid = [(i, m) for i, m in enumerate(messages) if not outcomes[i]]
        limits = self.limits(now)
        results = self._apply([m for _, m in valid], now, limits)
        due: set[tuple[str, str]] = set()
        scalars: dict[str, list[Message]] = {}
        for (i, message), (code, extra) in zip(valid, results, strict=True):
            outcomes[i] = _CODES[code]
            if code < 0:
                continue
            if message.kind is Kind.SKETCH:
                self._sketch(message, code, extra, due, limits)
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

    def _apply(self, messages: list[Message], now: float, limits: Limits) -> list[tuple[int, int]]:
        """Run the apply calls; register applied or resent STARTs; (code, extra) per message."""
        replies = self.store.run(apply_calls(messages, now, limits))
        per_run = {
            run: iter(zip(r[::2], r[1::2], strict=True))
            for run, r in zip(dict.fromkeys(m.run for m in messages), replies, strict=True)
        }
        results = [next(per_run[m.run]) for m in messages]
        starts = {
            m.run: float(extra)
            for m, (code, extra) in zip(messages, results, strict=True)
            if m.kind is Kind.START and code in (0, 1)
        }
        self.store.register(starts)
        return [
            (int(code), 0 if m.kind is Kind.START else int(extra))
            for m, (code, extra) in zip(messages, results, strict=True)
        ]

    def _sketch(
        self, message: Message, code: int, extra: int, due: set[tuple[str, str]], limits: Limits
    ) -> None:
        key = (message.run, message.group)
        if code == 2:
            self.counters.inc("late")
        elif message.owners == 1:
            if extra & 2:
                payload = np.asarray(message.payload, np.float64)
                self.series.remember(key, message.index, assembly.Snapshot(message.step, payload))
            if extra & 1:
                due.add(key)
        elif extra >= message.owners and self._assemble(
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
            code = int(self.store.run([call])[0])
            if code > 0:
                self.series.remember((run, group), index, snapshot)
                if snapshot.flags:
                    self.counters.inc("assembly_timeouts")
            if code != -1:
                return code == 2
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
            if int(self.store.run([call])[0]) == 1:
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
