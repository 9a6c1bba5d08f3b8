"""Advancing series in Redis: local cache, batched evaluation, detectors, one CAS per series.

A `SeriesBank` keeps each series' state (`series.Series`) and the snapshots this analyzer applied
but the series has not consumed, so the usual advance reads nothing from Redis. Every advance is
a compare-and-set on the series' version (`advance.lua`) that writes the new state, the window
records, the detector states and their alerts at once, for every (W, stride) of the series: a
window is stored exactly once even with several analyzers. A lost race, or a next snapshot
only Redis knows, reloads the series from Redis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import orjson

from analyzer.core.detectors import DetectorEvent, ScalarDetectors, SeriesDetectors
from analyzer.errors import StateError
from analyzer.records import Alert, WindowRecord
from analyzer.service import assembly, keys
from analyzer.service.assembly import Snapshot
from analyzer.service.config import AnalyzerSettings
from analyzer.service.prometheus import Counters
from analyzer.service.scripts import Advanced, Call, Limits, advance_call
from analyzer.service.series import Due, Evaluated, Series, evaluate_windows
from analyzer.service.store import Store

Key = tuple[str, str]
OnWindows = Callable[[str, str, Sequence[dict[str, Any]], float], None]
_CAS_ATTEMPTS = 16
_MAX_HELD_BYTES = 64 << 20  # snapshots held locally; beyond that the cache starts afresh


class _KStar(NamedTuple):
    argmax: int
    weighted: int
    floor: int


@dataclass(slots=True)
class _View:
    """The attributes of a `WindowRecord` the detector banks read, without building one."""

    window: int
    stride: int
    index: int
    step: int
    edge_ratio: float
    g23: float
    k_star: _KStar


class _Plan(NamedTuple):
    key: Key
    series: Series
    consumed: list[int]
    dues: list[Due]
    events: list[str]
    skipped: bool
    windows: list[dict[str, Any]]


class SeriesBank:
    """The series this analyzer advances, cached between batches."""

    def __init__(
        self,
        store: Store,
        settings: AnalyzerSettings,
        counters: Counters,
        on_windows: OnWindows | None = None,
    ) -> None:
        """`on_windows(run, group, records, now)` sees each series' records once committed."""
        self.store, self.settings, self.counters = store, settings, counters
        self.on_windows = on_windows
        self.lengths = tuple(settings.windows)
        self.strides = tuple(settings.strides)
        self._cache: dict[Key, Series] = {}
        self._pending: dict[Key, dict[int, Snapshot]] = {}
        self._held = 0

    def remember(self, key: Key, index: int, snapshot: Snapshot) -> None:
        """Note a snapshot applied in Redis, so advancing over it needs no read."""
        if self._held >= _MAX_HELD_BYTES:
            self.forget()
        self._pending.setdefault(key, {})[index] = snapshot
        self._held += snapshot.x.nbytes

    def forget(self) -> None:
        """Drop every cached state (after a Redis failure the truth is only in Redis)."""
        self._cache.clear()
        self._pending.clear()
        self._held = 0

    def scalar_bank(self, raw: bytes | None) -> ScalarDetectors:
        """A run's scalar detectors from their stored state, or fresh ones."""
        if raw is None:
            return ScalarDetectors.from_settings(self.settings)
        return ScalarDetectors.from_bytes(raw)

    def advance(self, keys: Iterable[Key], now: float, limits: Limits, skip: bool = False) -> int:
        """Advance series as far as their snapshots go (`skip`: over one hole); advances made."""
        todo = dict.fromkeys(sorted(keys), (False, skip))  # a fixed order: alerts stream in it
        made = 0
        for _ in range(_CAS_ATTEMPTS):
            plans = [plan for key, how in todo.items() if (plan := self._plan(key, *how))]
            if not plans:
                return made
            metrics = evaluate_windows([p.dues for p in plans], self.settings.edge_rule)
            calls = [self._call(p, m, now, limits) for p, m in zip(plans, metrics, strict=True)]
            todo = {}
            for plan, reply in zip(plans, self.store.run(calls), strict=True):
                result = Advanced(int(reply))
                if result is Advanced.RACED:
                    self.counters.inc("cas_retries")
                    self._cache.pop(plan.key, None)
                    todo[plan.key] = (True, skip)
                    continue
                self._commit(plan)
                if self.on_windows is not None:
                    self.on_windows(*plan.key, plan.windows, now)
                made += 1
                if result is Advanced.AGAIN:
                    todo[plan.key] = (True, False)
        if todo:
            raise StateError(f"series {sorted(todo)} kept losing their update race")
        return made

    def _plan(self, key: Key, reload: bool, skip: bool) -> _Plan | None:
        series, pending = self._state(key, reload)
        consumed, dues = series.advance(pending, skip)
        if not consumed and not reload:
            series, pending = self._state(key, True)
            consumed, dues = series.advance(pending, skip)
        return _Plan(key, series, consumed, dues, [], skip, []) if consumed else None

    def _state(self, key: Key, reload: bool) -> tuple[Series, dict[int, Snapshot]]:
        local = self._pending.setdefault(key, {})
        if not reload and key in self._cache:
            return self._cache[key], local
        fields, stored = self.store.load(*key)
        series = Series.from_fields(self.lengths, fields, self.strides)
        self._cache[key] = series
        local.update({int(i): assembly.unpack(blob) for i, blob in stored.items()})
        self._held += sum(len(blob) for blob in stored.values())
        return series, local

    def _commit(self, plan: _Plan) -> None:
        plan.series.version += 1
        self._cache[plan.key] = plan.series
        local = self._pending.get(plan.key, {})
        for index in [i for i in local if i <= plan.series.frontier]:
            self._held -= local.pop(index).x.nbytes
        self.counters.inc("windows", amount=len(plan.dues))
        if plan.skipped:
            self.counters.inc("gaps")
        for event in plan.events:
            self.counters.inc("alerts", event)

    def _call(self, plan: _Plan, evaluated: list[Evaluated], now: float, limits: Limits) -> Call:
        (run_id, group), series = plan.key, plan.series
        records: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
        alerts: list[str] = []
        banks: dict[tuple[int, int], SeriesDetectors] = {}
        for due, (fields, _) in zip(plan.dues, evaluated, strict=True):
            w, s = where = due.length, due.stride
            doc = {"run_id": run_id, "group": group, "window": w, "stride": s, "index": due.end,
                   "step": due.step, **fields}  # fmt: skip
            records.setdefault(where, []).append((due.step, orjson.dumps(doc)))
            plan.windows.append(doc)
            bank = banks.get(where) or self._detectors(series, where)
            banks[where] = bank
            view = _View(w, s, due.end, due.step, fields["edge_ratio"], fields["g23"],
                         _KStar(**fields["k_star"]))  # fmt: skip
            record = cast(WindowRecord, view)  # the banks read these attributes only
            for event in bank.update(record):
                alerts.append(alert_json(run_id, group, w, event, now, stride=s))
                plan.events.append(event.type)
        for (w, s), bank in banks.items():
            series.lanes[s].detectors[w] = bank.to_bytes()
        series.remember(plan.dues, [e.top for e in evaluated])
        return advance_call(run_id, group, series.version, series.to_fields(), plan.consumed,
                            records, alerts, limits)  # fmt: skip

    def _detectors(self, series: Series, where: tuple[int, int]) -> SeriesDetectors:
        length, stride = where
        raw = series.lanes[stride].detectors.get(length)
        if raw is None:
            return SeriesDetectors.from_settings(self.settings)
        return SeriesDetectors.from_bytes(raw)


def alert_json(
    run_id: str, group: str, window: int, event: DetectorEvent, now: float, stride: int = 1
) -> str:
    """The alert document of a detector event; its id is derived from where and what fired
    (the series named `W` for stride 1, as before strides, `W/s` for stride s)."""
    series = keys.strided(str(window), stride)
    where = f"{run_id}\0{group}\0{series}\0{event.index}\0{event.type}\0{event.detector}"
    return Alert(
        id=f"al_{hashlib.sha256(where.encode()).hexdigest()[:24]}",
        type=event.type,
        run_id=run_id,
        group=group,
        window=window,
        stride=stride,
        step=event.step,
        index=event.index,
        message=event.message,
        evidence=event.evidence,
        created_at=now,
        detector=event.detector,
        confidence=event.confidence,
    ).model_dump_json()
