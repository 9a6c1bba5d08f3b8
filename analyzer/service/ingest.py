"""Apply a batch of decoded messages: store each once, assemble shards, advance series, detect.

Per batch: one `apply.lua` call per run (pipelined) applies every message at most once; sharded
snapshots whose partials all arrived are assembled; every series whose next snapshot arrived is
advanced (`analyzer.service.series_bank`); logged scalars feed the run's scalar detectors; user
rules (`analyzer.service.rule_engine`) see the scalars and the committed windows; the runs'
outboxes are published to the global alert stream; the deadline index (`keys.DUE`) is brought
forward. A START that would create a run is first put to the admission policy
(`analyzer.service.admission`), with the sender's identity. A run whose lease another analyzer
holds is not applied here: its messages get `not_owner` and the lease's remaining seconds.
Everything after the apply is idempotent and is redone when a duplicate arrives, so a crash before
the acknowledgement loses nothing: the producer resends, and the resend finishes the work.
Deadlines (assembly timeouts, gaps), heartbeat crashes and runs no data reached within
`empty_run_ttl` are handled by `sweep`, which looks only at the runs the index says are due.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from analyzer.errors import StateError
from analyzer.records import RunInfo, RunState
from analyzer.service import assembly
from analyzer.service.admission import PROJECT_FULL, Admission, running_by_project
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
    earliest_deadlines,
    run_project,
    scalars_call,
    swapped,
)
from analyzer.service.series_bank import SeriesBank, alert_json
from analyzer.service.store import Store
from producer.wire import Kind, Message

_CAS_ATTEMPTS = 16
MAX_ABS = 1e100  # larger sketch entries would overflow the float64 Gram (d * MAX_ABS^2 < 1e308)


class Verdict(NamedTuple):
    """What became of one message: an `Outcome` or the reason it was refused ("" after a Redis
    failure), and for `not_owner` the seconds until the owner's lease runs out."""

    outcome: str
    wait: float | None = None


class Ingestor:
    """The per-batch logic of the analyzer service, over a Store."""

    def __init__(self, store: Store, settings: AnalyzerSettings, counters: Counters) -> None:
        self.store = store
        self.settings = settings
        self.counters = counters
        self.rules = RuleEngine(store, counters, settings.keep_alerts)
        self.series = SeriesBank(store, settings, counters, self.rules.on_windows)
        self.admission = Admission(settings.max_active_runs, settings.new_runs_per_minute)
        self.name = settings.name or f"{socket.gethostname()}|pid {os.getpid()}"
        self._counted_at = self._recount_at = -math.inf
        self.held: set[str] = set()  # runs this analyzer applied under its lease

    def limits(self, now: float) -> Limits:
        """Deadlines, retention and this analyzer's lease for writes made at `now`."""
        s = self.settings
        return Limits(
            now + s.assembly_timeout,
            now + s.gap_timeout,
            s.keep_records,
            s.keep_alerts,
            s.keep_scalars,
            self.name,
            round(s.lease * 1000),
        )

    def handle_batch(
        self, messages: Sequence[Message], now: float, identities: Sequence[str] | None = None
    ) -> list[Verdict]:
        """Apply messages in order; per message `applied`, `duplicate`, `late`, `not_owner` or a
        reason. `identities`: each message's producer identity (all "" when not given)."""
        outcomes = [_refusal(m) or "" for m in messages]
        self._admit(messages, identities or [""] * len(messages), outcomes, now)
        verdicts = [Verdict(outcome) for outcome in outcomes]
        valid = [(i, m) for i, m in enumerate(messages) if not outcomes[i]]
        limits = self.limits(now)
        results = self._apply([m for _, m in valid], now, limits)
        due: set[tuple[str, str]] = set()
        scalars: dict[str, list[Message]] = {}
        for (i, message), result in zip(valid, results, strict=True):
            verdicts[i] = Verdict(result.outcome, result.wait)
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
        return verdicts

    def sweep(self, now: float) -> list[str]:
        """Look at the due runs of the deadline index that this analyzer owns or nobody does:
        handle expired deadlines, mark silent runs crashed, remove runs no data reached within
        the TTL, publish leftover outboxes, set each one's next look. Then the stall rules, and
        every `registry_refresh` seconds the running runs per project. Returns the crashed."""
        limits = self.limits(now)
        due = self.store.due(now, self.settings.sweep_max)
        if limits.lease_ms and due:
            held = self.store.owners(due)
            due = [r for r, owner in zip(due, held, strict=True) if owner in (None, self.name)]
        crashed, runs = [], []
        looks: dict[str, float | None] = {}
        for run_id, (run, first) in zip(due, self.store.glance(due), strict=True):
            looks[run_id] = None
            if run is None:
                continue
            runs.append(run)
            if first is not None and first <= now:
                self.expire(run_id, now, limits)
            verdict = run_state(run, now, self.settings.heartbeat_timeout)
            stale = verdict is RunState.CRASHED and run.state is RunState.RUNNING
            if stale and self.store.mark_crashed(run_id, run.updated_at):
                crashed.append(run_id)
            looks[run_id] = self._next_look(run, now, stale)
        cutoff = now - self.settings.empty_run_ttl
        removed = set(self.store.remove_empty([r for r in runs if r.created_at <= cutoff]))
        if removed:
            self.counters.inc("runs_removed", amount=len(removed))
        self.store.publish(due)
        self.store.reschedule({r: at for r, at in looks.items() if r not in removed})
        self.rules.sweep(self.store.list_runs, now)
        if now >= self._recount_at:
            self.refresh(now)
        return crashed

    def _next_look(self, run: RunInfo, now: float, crashed: bool) -> float | None:
        """When the sweep should look at a run again for its heartbeat timeout or its empty-run
        TTL (its deadlines are added by `Store.reschedule`); None when for neither."""
        looks = []
        if run.state is RunState.RUNNING and not crashed:
            looks.append(run.updated_at + self.settings.heartbeat_timeout)
        if run.created_at + self.settings.empty_run_ttl > now:
            looks.append(run.created_at + self.settings.empty_run_ttl)
        return min(looks, default=None)

    def refresh(self, now: float) -> None:
        """Give the admission policy the running runs per project, read from the registry."""
        runs = self.store.list_runs()
        self.admission.refresh(running_by_project(runs, now, self.settings.heartbeat_timeout), now)
        self.counters.set("rate_identities", self.admission.tracked)
        self._counted_at, self._recount_at = now, now + self.settings.registry_refresh

    def release(self) -> int:
        """Hand over the runs this analyzer holds (a clean stop): another may apply them at once."""
        held, self.held = sorted(self.held), set()
        return self.store.release(held, self.name)

    def index(self, now: float) -> None:
        """Put every registered run in the deadline index by `now` (at start: runs written
        before the index existed, or whose entry a crash lost, get looked at once)."""
        self.store.schedule(dict.fromkeys(self.store.run_ids(), now))

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
                verdict = self.admission.admit(identities[i], project, now)
                if (
                    verdict == PROJECT_FULL
                    and now >= self._counted_at + self.settings.sweep_interval
                ):
                    self.refresh(now)  # a slot may have freed since the last count
                    verdict = self.admission.admit(identities[i], project, now)
                decided[run] = verdict or ""
            outcomes[i] = decided.get(run, "")

    def _apply(self, messages: list[Message], now: float, limits: Limits) -> list[Applied]:
        """Run the apply calls, register applied or resent STARTs and bring the accepted runs'
        next looks forward; a result per message."""
        replies = self.store.run(apply_calls(messages, now, limits))
        results = applied(messages, replies)
        starts = {
            m.run: r.created_at
            for m, r in zip(messages, results, strict=True)
            if r.created_at is not None
        }
        self.store.register(starts)
        firsts = earliest_deadlines(messages, replies)
        beat = now + self.settings.heartbeat_timeout
        accepted = {m.run for m, r in zip(messages, results, strict=True) if r.accepted}
        if limits.lease_ms:
            self.held |= accepted
        looks = {run: min(beat, firsts.get(run, beat)) for run in accepted}
        for run, created_at in starts.items():  # a run no data reaches goes at its TTL
            looks[run] = min(looks.get(run, beat), created_at + self.settings.empty_run_ttl)
        self.store.schedule(looks)
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
