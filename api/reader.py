"""Api-side reads of the analyzer's state that the analyzer's `Store` does not offer.

Keys come from `analyzer.keys` and records parse with `analyzer.records`, so the layout stays in
one place; the writes remain the analyzer's.
"""

from __future__ import annotations

import json
import re
from typing import Any

import redis
from pydantic import ValidationError

from analyzer import keys
from analyzer.records import Alert, WindowRecord

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class Reader:
    """Typed reads over a sync, non-decoding Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def series(self, run_id: str) -> list[tuple[str, int]]:
        """The (group, W) series that hold metric records, sorted."""
        prefix = keys.metrics(run_id, "", 0)[: -len(":0")]
        pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*"
        found = set()
        for key in self.client.scan_iter(match=pattern, count=1000):
            group, _, window = key.decode()[len(prefix) :].rpartition(":")
            if group and window.isdigit():
                found.add((group, int(window)))
        return sorted(found)

    def latest(self, run_id: str, group: str, window: int) -> WindowRecord | None:
        """The series' record with the highest step, or None when it has none."""
        raw = self.latest_json(run_id, group, window)
        return None if raw is None else WindowRecord.model_validate_json(raw)

    def latest_json(self, run_id: str, group: str, window: int) -> bytes | None:
        """The stored JSON of the series' record with the highest step."""
        members: list[bytes] = self.client.zrevrange(keys.metrics(run_id, group, window), 0, 0)
        return members[0] if members else None

    def metrics_json(
        self, run_id: str, group: str, window: int, start_step: int | None, end_step: int | None
    ) -> list[bytes]:
        """The stored JSON of the series' records in step order, optionally in a step range."""
        low = "-inf" if start_step is None else start_step
        high = "+inf" if end_step is None else end_step
        members: list[bytes] = self.client.zrangebyscore(
            keys.metrics(run_id, group, window), low, high
        )
        return members

    def records_after(self, run_id: str, group: str, window: int, step: int) -> list[WindowRecord]:
        """The series' records with a step above `step`, in step order."""
        members = self.client.zrangebyscore(keys.metrics(run_id, group, window), f"({step}", "+inf")
        return [WindowRecord.model_validate_json(m) for m in members]

    def scalars(
        self, run_id: str, start_step: int | None = None, end_step: int | None = None
    ) -> list[dict[str, Any]]:
        """Logged scalars `{"step", "values"}` in step order, optionally within a step range."""
        low = "-inf" if start_step is None else start_step
        high = "+inf" if end_step is None else end_step
        members = self.client.zrangebyscore(keys.scalars(run_id), low, high)
        return [json.loads(m) for m in members]

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
