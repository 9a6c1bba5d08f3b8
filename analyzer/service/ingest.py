"""Apply a batch of decoded messages: store each once, assemble shards, advance series, detect.

Per batch: one `apply.lua` call per run (pipelined) applies every message at most once; sharded
snapshots whose partials all arrived are assembled; every series whose next snapshot arrived is
advanced (`analyzer.service.series_bank`); logged scalars feed the run's scalar detectors; user
rules (`analyzer.service.rule_engine`) see the scalars and the committed windows; the runs'
outboxes are published to the global alert stream. A START that would create a run is first put
to the admission policy (`analyzer.service.admission`), with the sender's identity. Everything
after the apply is idempotent and is redone when a duplicate arrives, so a crash before the
acknowledgement loses nothing: the producer resends, and the resend finishes the work. Deadlines
(assembly timeouts, gaps), heartbeat crashes and runs no data reached within `empty_run_ttl` are
handled by `sweep`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np

from analyzer.errors import StateError
from analyzer.records import RunInfo, RunState
from analyzer.service import assembly
from analyzer.service.admission import Admission, running_by_project
from analyzer.service.config import AnalyzerSettings
from analyzer.service.prometheus import Counters
from analyzer.service.rule_engine import RuleEngine
from analyzer.service.runs import run_state
from analyzer.service.scripts import (
    Applied,
    Assembled,
    Limits,
    Outcome,
    applied,
    apply_calls,
    assemble_call,
    run_project,
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
        self.rules = RuleEngine(store, counters, settings.keep_alerts)
        self.series = SeriesBank(store, settings, counters, self.rules.on_windows)
        self.admission = Admission(settings.max_active_runs, settings.new_runs_per_minute)

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

    def handle_batch(
        self, messages: Sequence[Message], now: float, identities: Sequence[str] | None = None
    ) -> list[str]:
        """Apply messages in order; per message `applied`, `duplicate`, `late` or a reason.
        `identities`: each message's producer identity (all "" when not given)."""
        outcomes = [_refusal(m) or "" for m in messages]
        self._admit(messages, identities or [""] * len(messages), outcomes, now)
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
            ordered = sorted(logged, key=lambda m: m.step)
            self._detect_scalars(run_id, ordered, now)
            self.rules.on_scalars(
                run_id, [(m.step, m.body.get("values", {})) for m in ordered], now
            )
        self.store.publish(sorted({m.run for _, m in valid}))
        return outcomes

    def sweep(self, now: float) -> list[str]:
        """Handle expired deadlines, publish leftover outboxes, mark silent runs crashed, remove
        runs no data reached within the TTL, recount the running runs per project."""
        crashed, runs = [], self.store.list_runs()
        limits = self.limits(now)
        for run in runs:
            self.expire(run.run_id, now, limits)
            verdict = run_state(run, now, self.settings.heartbeat_timeout)
            stale = verdict is RunState.CRASHED and run.state is RunState.RUNNING
            if stale and self.store.mark_crashed(run.run_id, run.updated_at):
                crashed.append(run.run_id)
        self.rules.sweep(runs, now)
        self.store.publish([run.run_id for run in runs])
        cutoff = now - self.settings.empty_run_ttl
        removed = set(self.store.remove_empty([r for r in runs if r.created_at <= cutoff]))
        if removed:
            self.counters.inc("runs_removed", amount=len(removed))
        self.refresh(now, [run for run in runs if run.run_id not in removed])
        return crashed

    def refresh(self, now: float, runs: Sequence[RunInfo] | None = None) -> None:
        """Give the admission policy the running runs per project (of `runs`, else the registry)."""
        runs = self.store.list_runs() if runs is None else runs
        self.admission.refresh(running_by_project(runs, now, self.settings.heartbeat_timeout), now)
        self.counters.set("rate_identities", self.admission.tracked)

    def _admit(
        self,
        messages: Sequence[Message],
        identities: Sequence[str],
        outcomes: list[str],
        now: float,
    ) -> None:
        """Put the STARTs that would create a run to the admission policy, once per run; a
        refused one's outcome becomes the reason (its other messages then meet an unknown run)."""
        starts = [i for i, m in enumerate(messages) if m.kind is Kind.START and not outcomes[i]]
        new = self.store.missing(sorted({messages[i].run for i in starts})) if starts else set()
        decided: dict[str, str] = {}
        for i in starts:
            run = messages[i].run
            if run in new and run not in decided:
                project = run_project(messages[i].body)
                decided[run] = self.admission.admit(identities[i], project, now) or ""
            outcomes[i] = decided.get(run, "")

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

    def _detect_scalars(self, run_id: str, ordered: list[Message], now: float) -> None:
        """Feed logged scalars in step order (duplicates too: the bank ignores old steps) with a
        CAS."""
        for _ in range(_CAS_ATTEMPTS):
            version, raw = self.store.detector_state(run_id)
            bank = self.series.scalar_bank(raw)
            events = [e for m in ordered for e in bank.update(m.step, _finite_values(m))]
            alerts = [alert_json(run_id, "all", 0, e, now) for e in events]
            call = scalars_call(run_id, version, bank.to_bytes(), alerts, self.settings.keep_alerts)
            if swapped(self.store.run([call])[0]):
                for event in events:
                    self.counters.inc("alerts", event.type)
                return
            self.counters.inc("cas_retries")
        raise StateError(f"scalar detectors of {run_id} kept losing their update race")


def _finite_values(message: Message) -> dict[str, float]:
    """A SCALARS message's finite values: what the built-in detectors and the store see."""
    values = message.body.get("values", {})
    return {k: v for k, v in values.items() if math.isfinite(v)}


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
    body = message.body
    if message.kind is Kind.SCALARS:  # NaN and Inf scalars are data (stored as null)
        body = {k: v for k, v in body.items() if k != "values"}
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        return "non_finite"
    except TypeError:
        return "bad_field"
    return None
