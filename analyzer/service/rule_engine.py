"""User rules in the analyzer: evaluated next to the built-in detectors on logged scalars and on
every window record committed, and for stalls on each sweep; states in Redis (`keys.rule_state`),
alerts through the run's stream and outbox like every other alert (so webhooks, formats and
cooldowns apply). `fire_rules.lua` keeps a fired rule fired, so each fires once per run (and
series) even with several analyzers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from analyzer.core.detectors import DetectorEvent
from analyzer.core.user_rules import RuleState, describe, observe, stalled
from analyzer.records import Condition, Rule, RunInfo, RunState, flat_record
from analyzer.service.prometheus import Counters
from analyzer.service.scripts import fire_rules_call
from analyzer.service.series_bank import alert_json
from analyzer.service.store import Store

log = logging.getLogger(__name__)
REFRESH = 1.0  # seconds a loaded rule list is used before it is read again


class RuleEngine:
    """The user rules of the fleet, applied to one analyzer's batches."""

    def __init__(self, store: Store, counters: Counters, keep_alerts: int) -> None:
        self.store, self.counters, self.keep = store, counters, keep_alerts
        self._rules: list[Rule] = []
        self._loaded = -REFRESH
        self._projects: dict[str, str] = {}

    def rules(self) -> list[Rule]:
        """The stored rules, read at most every REFRESH seconds; unreadable ones are skipped."""
        if time.monotonic() - self._loaded >= REFRESH:
            rules = []
            for doc in self.store.rules():
                try:
                    rules.append(Rule.model_validate_json(doc))
                except ValidationError:
                    self.counters.inc("rules_unreadable")
            self._rules, self._loaded = rules, time.monotonic()
        return self._rules

    def on_scalars(
        self, run_id: str, logged: Iterable[tuple[int, dict[str, Any]]], now: float
    ) -> None:
        """Logged (step, values) of a run, in step order."""
        rules = [r for r in self._scoped(run_id) if r.source == "scalar"]
        if rules:
            points = [(step, "all", 0, 1, values) for step, values in logged]
            self._observe(run_id, rules, points, now)

    def on_windows(
        self, run_id: str, group: str, docs: Sequence[dict[str, Any]], now: float
    ) -> None:
        """Window records (as stored documents) just committed for one series of a run."""
        rules = [r for r in self._scoped(run_id) if r.source == "window"]
        rules = [r for r in rules if r.group in (None, group)]
        if rules and docs:
            points = [(d["step"], group, d["window"], d["stride"], flat_record(d)) for d in docs]
            self._observe(run_id, rules, points, now)

    def sweep(self, runs: Callable[[], Sequence[RunInfo]], now: float) -> None:
        """Fire the stall rules of running runs whose metric has not arrived in time; `runs`
        (the registry, read only when a stall rule exists) lists them."""
        stalls = [r for r in self.rules() if r.condition is Condition.STALL]
        for run in runs() if stalls else ():
            self._projects[run.run_id] = run.project
            mine = [r for r in stalls if r.applies(run.project, run.run_id)]
            if run.state is not RunState.RUNNING or not mine:
                continue
            stored = self.store.rule_states(run.run_id, [r.id for r in mine])
            updates = []
            for rule in mine:
                state = RuleState.from_bytes(stored[rule.id])
                hit = stalled(rule, state, run.created_at, now)
                if hit is not None:
                    at = (max(state.last_step, 0), -1)  # no window: the stall has no index
                    alert = _alert(run.run_id, rule, hit, at, ("all", 0, 1), now)
                    updates.append((rule.id, state.to_bytes(), alert))
            self._write(run.run_id, updates)

    def _scoped(self, run_id: str) -> list[Rule]:
        rules = self.rules()
        if not rules:
            return []
        if run_id not in self._projects:
            info = self.store.get_run(run_id)
            self._projects[run_id] = info.project if info else "default"
        project = self._projects[run_id]
        return [r for r in rules if r.project in (None, project) and r.run_id in (None, run_id)]

    def _observe(
        self,
        run_id: str,
        rules: list[Rule],
        points: list[tuple[int, str, int, int, dict[str, Any]]],
        now: float,
    ) -> None:
        fields = {
            _field(rule, group, window, stride)
            for rule in rules
            for _, group, window, stride, values in points
            if rule.metric in values and rule.window in (None, window)
        }
        stored = self.store.rule_states(run_id, sorted(fields))
        states = {f: RuleState.from_bytes(raw) for f, raw in stored.items()}
        fired: dict[str, str] = {}
        for step, group, window, stride, values in points:
            for rule in rules:
                field = _field(rule, group, window, stride)
                value = values.get(rule.metric)
                if (
                    field not in states
                    or not isinstance(value, int | float)
                    or isinstance(value, bool)
                ):
                    continue
                hit = observe(rule, states[field], step, float(value), now)
                if hit is not None:
                    where = (group, window, stride)
                    fired[field] = _alert(run_id, rule, hit, (step, step), where, now)
        self._write(run_id, [(f, s.to_bytes(), fired.get(f, "")) for f, s in states.items()])

    def _write(self, run_id: str, updates: list[tuple[str, bytes, str]]) -> None:
        if not updates:
            return
        added = int(self.store.run([fire_rules_call(run_id, self.keep, updates)])[0])
        if added:
            self.counters.inc("alerts", "rule.*", amount=added)


def _field(rule: Rule, group: str, window: int, stride: int) -> str:
    """The state field of a rule: per run for scalars and stalls, per series for window metrics."""
    if rule.source == "scalar" or rule.condition is Condition.STALL:
        return rule.id
    return f"{rule.id}|{group}|{window}|{stride}"


def _alert(
    run_id: str,
    rule: Rule,
    hit: dict[str, float],
    at: tuple[int, int],
    series: tuple[str, int, int],
    now: float,
) -> str:
    """The alert document of a rule that fired at (step, index) of (group, W, stride)."""
    (step, index), (group, window, stride) = at, series
    text = describe(rule, hit, step)
    event = DetectorEvent(rule.type, step, index, text, hit, f"rule:{rule.id}", None)
    return alert_json(run_id, group, window, event, now, stride=stride)
