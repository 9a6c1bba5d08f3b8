"""The webhook dispatcher, the api's one outbound-HTTP module.

It consumes the global alert stream `keys.ALERTS` through the Redis consumer group `webhooks` and
POSTs each alert to every enabled subscription whose event types match, as a Standard Webhooks
message: body `{"type", "timestamp", "data"}`, headers `webhook-id` (stable across retries of one
alert to one subscription), `webhook-timestamp` and `webhook-signature`. Delivery is at least once:
an entry is acknowledged only after all its deliveries ended (delivered, failed after the last
retry, or 410 Gone, which disables the subscription); entries left unacknowledged by a stop are
read again from this consumer's pending list at the next start.

The group is created at `$` when it does not exist yet, so a new deployment does not replay the
stream's history; once created it keeps its position, and a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError, ResponseError

from analyzer import keys
from analyzer.records import Alert
from api.config import ApiSettings
from api.webhooks.schedule import Backoff, Outcome, decide, parse_retry_after
from api.webhooks.signing import sign
from api.webhooks.subscriptions import DeliveryAttempt, Subscription, Subscriptions

log = logging.getLogger(__name__)

GROUP = "webhooks"
BLOCK_MS = 1000
RECONNECT_DELAY = 1.0
USER_AGENT = "spectral-edge-webhooks/0.1"


def envelope(alert: Alert) -> bytes:
    """The message body of an alert: `{"type", "timestamp" (ISO 8601 UTC), "data"}`."""
    when = datetime.fromtimestamp(alert.created_at, UTC).isoformat(timespec="milliseconds")
    doc = {"type": alert.type, "timestamp": when.replace("+00:00", "Z"), "data": alert.model_dump()}
    return json.dumps(doc, separators=(",", ":")).encode()


def message_id(alert: Alert, sub: Subscription) -> str:
    """The `webhook-id` of an alert sent to a subscription: the same for every retry."""
    return "msg_" + hashlib.sha256(f"{alert.id}\0{sub.id}".encode()).hexdigest()[:32]


class Dispatcher:
    """Reads alerts from the stream and delivers them with retries; `start()` then `stop()`."""

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
        self.client, self.subscriptions, self.http = client, subscriptions, http
        self.consumer = settings.webhook_consumer
        self.concurrency = settings.webhook_concurrency
        self.keep = settings.webhook_deliveries_kept
        self.policy = Backoff(
            settings.webhook_backoff_base,
            settings.webhook_backoff_cap,
            settings.webhook_max_attempts,
        )
        self.rand, self.clock = rand, clock
        self._loop: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Create the consumer group if needed (best effort) and start consuming."""
        with contextlib.suppress(RedisError):
            await self._ensure_group()
        self._loop = asyncio.create_task(self._consume(), name="webhook-dispatcher")

    async def stop(self) -> None:
        """Cancel consumption and in-flight deliveries; their entries stay pending for next time."""
        tasks = [t for t in (self._loop, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None

    async def _ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(keys.ALERTS, GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self) -> None:
        cursor = "0"  # first this consumer's own pending entries, then new ones (">")
        while True:
            try:
                if not await self._free_slot():
                    continue
                entries = await self._read(cursor)
            except RedisError as exc:
                log.warning("webhook dispatcher: redis error, retrying: %s", exc)
                await asyncio.sleep(RECONNECT_DELAY)
                with contextlib.suppress(RedisError):
                    await self._ensure_group()
                continue
            if cursor != ">":
                cursor = entries[-1][0].decode() if entries else ">"
            for entry_id, fields in entries:
                task = asyncio.create_task(self._handle(entry_id, fields))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _free_slot(self) -> bool:
        """Wait (up to the read block time) until fewer than `concurrency` entries are in flight."""
        if len(self._inflight) < self.concurrency:
            return True
        done = asyncio.FIRST_COMPLETED
        await asyncio.wait(self._inflight, timeout=BLOCK_MS / 1000, return_when=done)
        return len(self._inflight) < self.concurrency

    async def _read(self, cursor: str) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        count = self.concurrency - len(self._inflight)
        block = BLOCK_MS if cursor == ">" else None
        reply: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {keys.ALERTS: cursor}, count=count, block=block
        )
        return [entry for _, entries in reply or [] for entry in entries]

    async def _handle(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> None:
        """Deliver one stream entry to every matching subscription, then acknowledge it."""
        try:
            alert = _parse(fields)
            if alert is not None:
                subs = [s for s in await self.subscriptions.all() if s.matches(alert.type)]
                results = await asyncio.gather(
                    *(self.deliver(sub, alert) for sub in subs), return_exceptions=True
                )
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
            await self.client.xack(keys.ALERTS, GROUP, entry_id)
        except RedisError as exc:
            log.warning("webhook entry %s left pending: %s", entry_id.decode(), exc)
        except Exception:
            log.exception("webhook entry %s left pending", entry_id.decode())

    async def deliver(self, sub: Subscription, alert: Alert) -> Outcome:
        """POST one alert to one subscription until it is delivered, refused or out of attempts."""
        body, msg_id = envelope(alert), message_id(alert, sub)
        attempt = 0
        while True:
            attempt += 1
            record = await self._attempt(sub, msg_id, body, alert, attempt)
            await self.subscriptions.record(sub.id, record, self.keep)
            if record.outcome is Outcome.GONE:
                await self.subscriptions.disable(sub.id, "the receiver answered 410 Gone")
            if record.outcome is not Outcome.RETRY or record.next_delay is None:
                return record.outcome
            await asyncio.sleep(record.next_delay)

    async def _attempt(
        self, sub: Subscription, msg_id: str, body: bytes, alert: Alert, attempt: int
    ) -> DeliveryAttempt:
        now = self.clock()
        status, retry_after, error = await self._post(sub, msg_id, body, int(now))
        decision = decide(self.policy, attempt, status, self.rand(), retry_after)
        return DeliveryAttempt(
            msg_id=msg_id,
            alert_id=alert.id,
            event_type=alert.type,
            attempt=attempt,
            status=status,
            error=error,
            outcome=decision.outcome,
            duration_ms=round((self.clock() - now) * 1000, 3),
            at=now,
            next_delay=decision.delay if decision.outcome is Outcome.RETRY else None,
        )

    async def _post(
        self, sub: Subscription, msg_id: str, body: bytes, timestamp: int
    ) -> tuple[int | None, float | None, str | None]:
        """One POST: (status, Retry-After seconds, error); the response body is never read."""
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(sub.secret, msg_id, timestamp, body),
        }
        try:
            async with self.http.stream("POST", sub.url, content=body, headers=headers) as resp:
                retry_after = parse_retry_after(resp.headers.get("retry-after"), self.clock())
                return resp.status_code, retry_after, None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, None, f"{type(exc).__name__}: {exc}"


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
