"""The webhook dispatcher: consume alert events, filter, apply the cooldown, fan out deliveries.

Each stream entry is handled once per read: the alert is matched against every subscription
(event types; projects, runs, rules), gated by the per (rule, run) cooldown, and delivered to each
matching subscription by the `Courier` with retries. The entry is acknowledged only after all its
deliveries ended (delivered, failed after the last retry, refused, or 410 Gone), so a stop leaves
it pending for this consumer's next start or for another consumer's claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError, WatchError

from analyzer.records import Alert
from analyzer.service import keys
from api.config import ApiSettings
from api.silences import decode, silencing
from api.webhooks.cooldown import Mark, admit, rule_of
from api.webhooks.delivery import Courier
from api.webhooks.stream import AlertStream, Entry
from api.webhooks.subscriptions import DeliveryAttempt, Subscription, Subscriptions

log = logging.getLogger(__name__)

BLOCK_MS = 1000
RECONNECT_DELAY = 1.0
STOP_TIMEOUT = 5.0


class Dispatcher:
    """Consumes the alert stream and delivers; `start()` then `stop()`; also tests and resends."""

    def __init__(
        self,
        client: aioredis.Redis,
        subscriptions: Subscriptions,
        http: httpx.AsyncClient,
        settings: ApiSettings,
        *,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client, self.subscriptions, self.clock = client, subscriptions, clock
        self.stream = AlertStream(client, settings.webhook_consumer)
        self.courier = Courier(http, subscriptions, settings, rand=rand, clock=clock)
        self.concurrency = settings.webhook_concurrency
        self.cooldown = settings.webhook_cooldown
        self.claim_idle = settings.webhook_claim_idle
        self._active: dict[bytes, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    async def start(self) -> None:
        """Create the consumer group if needed (best effort), consume and keep claims fresh."""
        self._stopping = False
        with contextlib.suppress(RedisError):
            await self.stream.ensure_group()
        self._spawn(self._consume())
        self._spawn(self._maintain())

    async def stop(self) -> None:
        """Cancel consumption and in-flight deliveries; their entries stay pending for next time.

        The loops also check a flag: redis-py may turn a cancelled command into a RedisError.
        """
        self._stopping = True
        tasks = [*self._tasks, *self._active.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT)

    async def test(self, sub: Subscription, alert: Alert) -> DeliveryAttempt:
        """Send a test alert to one subscription once, bypassing filters and cooldown."""
        return await self.courier.attempt(sub, alert, None, 1, "test")

    def redeliver(self, sub: Subscription, alert: Alert) -> None:
        """Send a kept message again, with retries, in the background."""
        self._spawn(self.courier.deliver(sub, alert, None, "redeliver"))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self) -> None:
        cursor = "0"  # first this consumer's own pending entries, then new ones (">")
        while not self._stopping:
            try:
                if not await self._free_slot():
                    continue
                count = self.concurrency - len(self._active)
                entries = await self.stream.read(cursor, count, BLOCK_MS if cursor == ">" else None)
            except RedisError as exc:
                log.warning("webhook dispatcher: redis error, retrying: %s", exc)
                await asyncio.sleep(RECONNECT_DELAY)
                with contextlib.suppress(RedisError):
                    await self.stream.ensure_group()
                continue
            if cursor != ">":
                cursor = entries[-1][0].decode() if entries else ">"
            self._handle_all(entries)

    async def _maintain(self) -> None:
        """Every third of the claim idle time: touch own in-flight entries, claim stale ones."""
        while not self._stopping:
            await asyncio.sleep(self.claim_idle / 3)
            try:
                await self.stream.touch(list(self._active))
                free = self.concurrency - len(self._active)
                if free > 0:
                    self._handle_all(await self.stream.claim(int(self.claim_idle * 1000), free))
            except RedisError as exc:
                log.warning("webhook dispatcher: claim failed: %s", exc)

    def _handle_all(self, entries: list[Entry]) -> None:
        for entry_id, fields in entries:
            if entry_id not in self._active:
                task = asyncio.create_task(self._handle(entry_id, fields))
                self._active[entry_id] = task
                task.add_done_callback(functools.partial(self._finished, entry_id))

    def _finished(self, entry_id: bytes, _: asyncio.Task[None]) -> None:
        self._active.pop(entry_id, None)

    async def _free_slot(self) -> bool:
        """Wait (up to the read block time) until fewer than `concurrency` entries are in flight."""
        if len(self._active) < self.concurrency:
            return True
        active = set(self._active.values())
        await asyncio.wait(active, timeout=BLOCK_MS / 1000, return_when=asyncio.FIRST_COMPLETED)
        return len(self._active) < self.concurrency

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        """Deliver one stream entry to every matching subscription, then acknowledge it."""
        try:
            alert = _parse(fields)
            if alert is not None:
                await self._dispatch(alert)
            await self.stream.ack(entry_id)
        except RedisError as exc:
            log.warning("webhook entry %s left pending: %s", entry_id.decode(), exc)
        except Exception:
            log.exception("webhook entry %s left pending", entry_id.decode())

    async def _dispatch(self, alert: Alert) -> None:
        raw_project = await self.client.hget(keys.meta(alert.run_id), "project")
        project = raw_project.decode() if raw_project else None
        subs = [s for s in await self.subscriptions.all() if s.matches(alert, project)]
        if not subs or await self._silenced(alert, project) or not await self._admit(alert):
            return
        results = await asyncio.gather(
            *(self.courier.deliver(sub, alert, project) for sub in subs), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _silenced(self, alert: Alert, project: str | None) -> bool:
        """Whether an active silence covers the alert (its deliveries are then skipped)."""
        silences = decode(await self.client.hvals(keys.SILENCES))
        held = silencing(silences, alert, project, self.clock())
        if held is not None:
            log.info("alert %s silenced by %s", alert.id, held.id)
        return held is not None

    async def _admit(self, alert: Alert) -> bool:
        """The cooldown gate of (rule, run), checked and marked atomically."""
        if self.cooldown <= 0:
            return True
        key = keys.webhook_cooldown(alert.run_id, rule_of(alert))
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    mark, now = Mark.decode(await pipe.get(key)), self.clock()
                    if not admit(mark, alert.id, now, self.cooldown):
                        log.info("alert %s suppressed by the cooldown of %s", alert.id, key)
                        return False
                    if mark is None or mark.alert_id != alert.id:
                        pipe.multi()
                        pipe.set(key, Mark(alert.id, now).encode(), px=int(self.cooldown * 1000))
                        await pipe.execute()
                    return True
                except WatchError:
                    continue


def _parse(fields: dict[bytes, bytes] | None) -> Alert | None:
    """The alert of a stream entry, or None (logged) for a deleted or malformed entry."""
    raw: Any = (fields or {}).get(b"alert")
    if raw is None:
        return None
    try:
        return Alert.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("skipping a malformed alert entry: %s", exc)
        return None
