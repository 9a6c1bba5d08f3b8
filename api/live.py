"""The live event source of one run: blocking reads of its Redis streams and sorted sets.

Each turn blocks on the run's alert stream (XREAD BLOCK, at most `block` seconds), then reads what
the sorted sets gained since the last turn: window records of every (group, W, stride) series and
logged scalars. Events: `metric` (a window record, with its `stride`), `alert` and `phase` (alert
records; `phase.*` types are phases), `scalars` (`{step, values}`), `state` (the run's lifecycle
state when it changes).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from analyzer.service import keys
from analyzer.service.reader import parse_alert

_RESCAN = 5.0


class RunEvents:
    """Turn-by-turn reader of one run's new records, starting after `since_step` (None: now)."""

    def __init__(
        self, client: aioredis.Redis, run_id: str, since_step: int | None, block: float
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.since = since_step
        self.block_ms = max(1, int(block * 1000))
        self.alert_cursor = "0-0" if since_step is not None else "$"
        self.series_steps: dict[str, float] = {}
        self.scalar_step = float(since_step) if since_step is not None else None
        self.state: str | None = None
        self.rescanned = 0.0

    async def stream(self) -> AsyncIterator[dict[str, str]]:
        """Events forever, as sse-starlette dicts `{event, data}`."""
        while True:
            for event in await self.turn():
                yield event

    async def turn(self) -> list[dict[str, str]]:
        """One blocking read of alerts, then the records, scalars and state that changed."""
        events = await self._alerts()
        if time.monotonic() - self.rescanned > _RESCAN:
            await self._discover()
        for key in list(self.series_steps):
            for member, step in await self._after(key, self.series_steps[key]):
                self.series_steps[key] = step
                events.append({"event": "metric", "data": member.decode()})
        events += await self._scalars()
        state = await self.client.hget(keys.meta(self.run_id), "state")
        if state is not None and state.decode() != self.state:
            self.state = state.decode()
            events.append({"event": "state", "data": json.dumps({"state": self.state})})
        return events

    async def _alerts(self) -> list[dict[str, str]]:
        stream = keys.run_alerts(self.run_id)
        if self.alert_cursor == "$":
            last = await self.client.xrevrange(stream, count=1)
            self.alert_cursor = last[0][0].decode() if last else "0-0"
        found = await self.client.xread({stream: self.alert_cursor}, block=self.block_ms, count=100)
        events = []
        for _, entries in found or []:
            for entry_id, fields in entries:
                self.alert_cursor = entry_id.decode()
                alert = parse_alert(fields)
                if alert is None or (self.since is not None and alert.step <= self.since):
                    continue
                kind = "phase" if alert.type.startswith("phase.") else "alert"
                events.append({"event": kind, "data": alert.model_dump_json()})
        return events

    async def _discover(self) -> None:
        match = keys.metrics_match(self.run_id)
        async for raw in self.client.scan_iter(match=match, count=1000):
            key = raw.decode()
            if key not in self.series_steps and keys.metrics_series(self.run_id, key):
                self.series_steps[key] = await self._start(key)
        self.rescanned = time.monotonic()

    async def _start(self, key: str) -> float:
        if self.since is not None:
            return float(self.since)
        last = await self.client.zrevrange(key, 0, 0, withscores=True)
        return float(last[0][1]) if last else -1.0

    async def _after(self, key: str, step: float) -> list[tuple[bytes, float]]:
        found: list[tuple[bytes, float]] = await self.client.zrangebyscore(
            key, f"({step}", "+inf", withscores=True
        )
        return found

    async def _scalars(self) -> list[dict[str, str]]:
        key = keys.scalars(self.run_id)
        if self.scalar_step is None:
            self.scalar_step = await self._start(key)
        events: list[dict[str, str]] = []
        for member, step in await self._after(key, self.scalar_step):
            self.scalar_step = step
            events.append({"event": "scalars", "data": member.decode()})
        return events
