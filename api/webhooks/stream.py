"""The webhook consumer group on the global alert stream `keys.ALERTS`, for one consumer.

At-least-once across api restarts: an entry stays in the group's pending list until `ack`. A
restarted api first reads its own pending entries (`read("0")`), and `claim` takes over entries
another consumer (a replaced host, a crashed replica) left idle for longer than `min_idle_ms`
(XAUTOCLAIM). A live consumer keeps its in-flight entries fresh with `touch`, so a long retry
is not claimed away from it.

The group is created at `$` when it does not exist yet, so a new deployment does not replay the
stream's history; once created it keeps its position, and a restart resumes where it stopped.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from analyzer.service import keys

GROUP = "webhooks"

Entry = tuple[bytes, dict[bytes, bytes] | None]


class AlertStream:
    """Read, claim, touch and acknowledge alert entries as `consumer` of the group."""

    def __init__(self, client: aioredis.Redis, consumer: str) -> None:
        self.client = client
        self.consumer = consumer
        self._claim_from = "0-0"

    async def ensure_group(self) -> None:
        """Create the group (and the stream) unless it exists."""
        try:
            await self.client.xgroup_create(keys.ALERTS, GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, cursor: str, count: int, block_ms: int | None) -> list[Entry]:
        """Entries after `cursor` in this consumer's pending list, or new ones for `>`."""
        reply: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {keys.ALERTS: cursor}, count=count, block=block_ms
        )
        return [entry for _, entries in reply or [] for entry in entries]

    async def claim(self, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over up to `count` entries idle for `min_idle_ms`, resuming the previous scan."""
        reply: Any = await self.client.xautoclaim(
            keys.ALERTS, GROUP, self.consumer, min_idle_ms, start_id=self._claim_from, count=count
        )
        next_id = reply[0]
        self._claim_from = next_id.decode() if isinstance(next_id, bytes) else str(next_id)
        return [(entry_id, fields) for entry_id, fields in reply[1] if entry_id is not None]

    async def touch(self, entry_ids: list[bytes]) -> None:
        """Reset the idle time of entries this consumer is still working on."""
        if entry_ids:
            await self.client.xclaim(keys.ALERTS, GROUP, self.consumer, 0, entry_ids, justid=True)

    async def ack(self, entry_id: bytes) -> None:
        """Acknowledge an entry whose deliveries all ended."""
        await self.client.xack(keys.ALERTS, GROUP, entry_id)
