"""Webhook subscriptions, their delivery log and their sent messages in Redis.

Subscriptions are JSON documents in the global HASH `keys.WEBHOOKS` (field: subscription id); each
subscription's attempts are a capped LIST `keys.deliveries(id)`, newest first; the alert of each
message sent is kept for redelivery in a STRING `keys.webhook_message(id, msg_id)` that expires.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.exceptions import WatchError

from analyzer.records import Alert
from analyzer.service import keys
from api.webhooks.cooldown import rule_of
from api.webhooks.render import Format
from api.webhooks.schedule import Outcome

log = logging.getLogger(__name__)

WILDCARD = "*"


class Subscription(BaseModel):
    """A receiver, what it wants (types; projects, runs, rules: empty is all), how it is signed."""

    id: str
    url: str
    event_types: list[str]
    projects: list[str] = []
    runs: list[str] = []
    rules: list[str] = []
    format: Format = Format.STANDARD
    secret: str
    previous_secret: str | None = None
    previous_expires_at: float | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: float

    def signing_secrets(self, now: float) -> list[str]:
        """The active signing secrets: the current one, and the previous one until it expires."""
        active = [self.secret]
        expires = self.previous_expires_at
        if self.previous_secret is not None and (expires is None or now < expires):
            active.append(self.previous_secret)
        return active

    def matches(self, alert: Alert, project: str | None) -> bool:
        """Whether an alert (of a run in `project`) goes to this subscription."""
        return (
            self.enabled
            and (WILDCARD in self.event_types or alert.type in self.event_types)
            and (not self.projects or project in self.projects)
            and (not self.runs or alert.run_id in self.runs)
            and (not self.rules or rule_of(alert) in self.rules)
        )


class DeliveryAttempt(BaseModel):
    """One POST of one message to one subscription."""

    msg_id: str
    alert_id: str
    event_type: str
    attempt: int
    trigger: str = "alert"
    status: int | None = None
    error: str | None = None
    outcome: Outcome
    duration_ms: float
    at: float
    next_delay: float | None = None


class Subscriptions:
    """Create, read, change and delete subscriptions; log attempts; keep messages to redeliver."""

    def __init__(self, client: aioredis.Redis, clock: Callable[[], float]) -> None:
        self.client = client
        self.clock = clock

    async def create(self, **fields: Any) -> Subscription:
        """Store a new subscription under a fresh id."""
        sub = Subscription(id="wh_" + secrets.token_hex(8), created_at=self.clock(), **fields)
        await self.client.hset(keys.WEBHOOKS, sub.id, sub.model_dump_json())
        return sub

    async def get(self, sub_id: str) -> Subscription | None:
        """One subscription, or None."""
        raw = await self.client.hget(keys.WEBHOOKS, sub_id)
        return None if raw is None else Subscription.model_validate_json(raw)

    async def all(self) -> list[Subscription]:
        """Every readable subscription, oldest first; a malformed document is logged and skipped."""
        subs = []
        for sub_id, doc in (await self.client.hgetall(keys.WEBHOOKS)).items():
            try:
                subs.append(Subscription.model_validate_json(doc))
            except ValidationError as exc:
                log.warning("skipping malformed subscription %r: %s", sub_id, exc)
        return sorted(subs, key=lambda s: (s.created_at, s.id))

    async def delete(self, sub_id: str) -> bool:
        """Remove a subscription, its log and kept messages; False when it did not exist."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.WEBHOOKS, sub_id)
            pipe.delete(keys.deliveries(sub_id))
            removed, _ = await pipe.execute()
        if not removed:
            return False
        pattern = keys.webhook_message(keys.glob_literal(sub_id), "*")
        kept = [k async for k in self.client.scan_iter(match=pattern, count=500)]
        if kept:
            await self.client.delete(*kept)
        return True

    async def update(self, sub_id: str, **changes: Any) -> Subscription | None:
        """Change fields of a subscription atomically; None when it does not exist."""
        async with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(keys.WEBHOOKS)
                    raw = await pipe.hget(keys.WEBHOOKS, sub_id)
                    if raw is None:
                        return None
                    current = Subscription.model_validate_json(raw).model_dump()
                    sub = Subscription.model_validate({**current, **changes})
                    pipe.multi()
                    pipe.hset(keys.WEBHOOKS, sub_id, sub.model_dump_json())
                    await pipe.execute()
                    return sub
                except WatchError:
                    continue

    async def rotate(self, sub_id: str, secret: str, grace: float) -> Subscription | None:
        """Make `secret` current; the old one keeps signing for `grace` seconds."""
        sub = await self.get(sub_id)
        if sub is None:
            return None
        return await self.update(
            sub_id,
            secret=secret,
            previous_secret=sub.secret if grace > 0 else None,
            previous_expires_at=self.clock() + grace if grace > 0 else None,
        )

    async def disable(self, sub_id: str, reason: str) -> bool:
        """Turn a subscription off (unless it was deleted meanwhile); True when it existed."""
        return await self.update(sub_id, enabled=False, disabled_reason=reason) is not None

    async def record(self, sub_id: str, attempt: DeliveryAttempt, keep: int) -> None:
        """Log one attempt, keeping the newest `keep`."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(keys.deliveries(sub_id), attempt.model_dump_json())
            pipe.ltrim(keys.deliveries(sub_id), 0, keep - 1)
            await pipe.execute()

    async def deliveries(self, sub_id: str, limit: int) -> list[DeliveryAttempt]:
        """The newest `limit` attempts, newest first."""
        raw = await self.client.lrange(keys.deliveries(sub_id), 0, limit - 1)
        return [DeliveryAttempt.model_validate_json(doc) for doc in raw]

    async def keep_message(self, sub_id: str, msg_id: str, alert: Alert, ttl: float) -> None:
        """Remember the alert a message carries, for `ttl` seconds."""
        raw = alert.model_dump_json()
        await self.client.set(keys.webhook_message(sub_id, msg_id), raw, px=int(ttl * 1000))

    async def message(self, sub_id: str, msg_id: str) -> Alert | None:
        """The alert a kept message carried, or None once it expired."""
        raw = await self.client.get(keys.webhook_message(sub_id, msg_id))
        return None if raw is None else Alert.model_validate_json(raw)
