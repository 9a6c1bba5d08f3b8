"""Typed reads of the analyzer's Redis state: runs, series, window records, scalars, alerts.

The one read façade over the layout of `analyzer.service.keys`: the api serves what it returns,
and `Store` (the writer) inherits it. Works with `redis.Redis` and `redis.cluster.RedisCluster`
alike; the client must not decode responses.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import redis
from pydantic import ValidationError

from analyzer.records import Alert, RunInfo, WindowRecord
from analyzer.service import keys
from analyzer.service.runs import run_info

Client: TypeAlias = "redis.Redis | redis.RedisCluster"


class Reader:
    """Reads over a sync, non-decoding Redis client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def run_ids(self) -> list[str]:
        """Every registered run's id, newest first."""
        return [r.decode() for r in self.client.zrevrange(keys.RUNS, 0, -1)]

    def list_runs(self) -> list[RunInfo]:
        """Every registered run, newest first."""
        run_ids = self.run_ids()
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hgetall(keys.meta(run_id))
            metas = pipe.execute()
        return [info for raw in metas if (info := run_info(raw)) is not None]

    def get_run(self, run_id: str) -> RunInfo | None:
        """One run's registry entry, or None when unknown."""
        return run_info(self.client.hgetall(keys.meta(run_id)))

    def series(self, run_id: str) -> list[tuple[str, int, int]]:
        """The (group, W, stride) series that hold metric records, sorted."""
        found = set()
        for key in self.client.scan_iter(match=keys.metrics_match(run_id), count=1000):
            if (named := keys.metrics_series(run_id, key.decode())) is not None:
                found.add(named)
        return sorted(found)

    def metrics(
        self,
        run_id: str,
        group: str = "all",
        window: int = 10,
        start_step: int | None = None,
        end_step: int | None = None,
        stride: int = 1,
    ) -> list[WindowRecord]:
        """Window records of one series in step order, optionally within [start_step, end_step]."""
        members = self.metrics_json(run_id, group, window, start_step, end_step, stride)
        return [WindowRecord.model_validate_json(m) for m in members]

    def metrics_json(
        self,
        run_id: str,
        group: str,
        window: int,
        start_step: int | None = None,
        end_step: int | None = None,
        stride: int = 1,
    ) -> list[bytes]:
        """The stored JSON of the series' records in step order, optionally in a step range."""
        low, high = _score_range(start_step, end_step)
        members: list[bytes] = self.client.zrangebyscore(
            keys.metrics(run_id, group, window, stride), low, high
        )
        return members

    def latest(self, run_id: str, group: str, window: int, stride: int = 1) -> WindowRecord | None:
        """The series' record with the highest step, or None when it has none."""
        raw = self.latest_json(run_id, group, window, stride)
        return None if raw is None else WindowRecord.model_validate_json(raw)

    def latest_json(self, run_id: str, group: str, window: int, stride: int = 1) -> bytes | None:
        """The stored JSON of the series' record with the highest step."""
        key = keys.metrics(run_id, group, window, stride)
        members: list[bytes] = self.client.zrevrange(key, 0, 0)
        return members[0] if members else None

    def scalars(
        self, run_id: str, start_step: int | None = None, end_step: int | None = None
    ) -> list[dict[str, Any]]:
        """Logged scalars `{"step", "values"}` in step order, optionally within a step range."""
        low, high = _score_range(start_step, end_step)
        members = self.client.zrangebyscore(keys.scalars(run_id), low, high)
        return [json.loads(m) for m in members]

    def run_alerts(self, run_id: str) -> list[Alert]:
        """The run's alerts, oldest first."""
        entries = self.client.xrange(keys.run_alerts(run_id))
        return [Alert.model_validate_json(fields[b"alert"]) for _, fields in entries]

    def alerts(
        self, stream: str, newest: str = "+", count: int = 100
    ) -> list[tuple[str, Alert | None]]:
        """Up to `count` (entry id, alert) of a stream, newest first, at or before `newest`.

        An entry that holds no valid alert comes back as None, so one bad entry costs nothing
        but itself.
        """
        entries = self.client.xrevrange(stream, max=newest, min="-", count=count)
        return [(i.decode(), parse_alert(f)) for i, f in entries]


def parse_alert(fields: dict[bytes, bytes]) -> Alert | None:
    """A stream entry's alert, or None for an entry that holds none (skipped, never fatal)."""
    try:
        return Alert.model_validate_json(fields[b"alert"])
    except (KeyError, ValidationError):
        return None


def _score_range(start: int | None, end: int | None) -> tuple[int | str, int | str]:
    return ("-inf" if start is None else start), ("+inf" if end is None else end)
