"""Webhook subscriptions and their delivery log in Redis (the api's webhook state).

Subscriptions are JSON documents in the global HASH `keys.WEBHOOKS` (field: subscription id);
each subscription's attempts are a capped LIST `keys.deliveries(id)`, newest first.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.exceptions import WatchError

from analyzer import keys
from api.webhooks.schedule import Outcome

log = logging.getLogger(__name__)

WILDCARD = "*"


class Subscription(BaseModel):
    """A receiver URL, the alert types it wants (`*`: all), its signing secret, whether it is on."""

    id: str
    url: str
    event_types: list[str]
    secret: str
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: float

    def matches(self, event_type: str) -> bool:
        """Whether an alert of this type goes to this subscription."""
        return self.enabled and (WILDCARD in self.event_types or event_type in self.event_types)


class DeliveryAttempt(BaseModel):
    """One POST of one message to one subscription."""

    msg_id: str
    alert_id: str
    event_type: str
    attempt: int
    status: int | None = None
    error: str | None = None
    outcome: Outcome
    duration_ms: float
    at: float
    next_delay: float | None = None


class Subscriptions:
    """Create, read, disable and delete subscriptions; log and list their delivery attempts."""

    def __init__(self, client: aioredis.Redis, clock: Callable[[], float]) -> None:
        self.client = client
        self.clock = clock

    async def create(self, url: str, event_types: list[str], secret: str) -> Subscription:
        """Store a new subscription under a fresh id."""
        sub = Subscription(
            id="wh_" + secrets.token_hex(8),
            url=url,
            event_types=event_types,
            secret=secret,
            created_at=self.clock(),
        )
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
        """Remove a subscription and its delivery log; False when it did not exist."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.WEBHOOKS, sub_id)
            pipe.delete(keys.deliveries(sub_id))
            removed, _ = await pipe.execute()
        return bool(removed)

    async def disable(self, sub_id: str, reason: str) -> bool:
        """Turn a subscription off (unless it was deleted meanwhile); True when it changed."""
        async with self.client.pipeline(transaction=True) as pipe:
            for _ in range(8):
                try:
                    await pipe.watch(keys.WEBHOOKS)
                    raw = await pipe.hget(keys.WEBHOOKS, sub_id)
                    if raw is None:
                        return False
                    sub = Subscription.model_validate_json(raw)
                    sub.enabled, sub.disabled_reason = False, reason
                    pipe.multi()
                    pipe.hset(keys.WEBHOOKS, sub_id, sub.model_dump_json())
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
        return False

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
