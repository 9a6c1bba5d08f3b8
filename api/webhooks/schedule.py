"""Retry policy of webhook deliveries: pure functions of the attempt, response and a random draw.

Full-jitter exponential backoff: before attempt n + 1 wait `rand * min(cap, base * 2**(n - 1))`,
with `rand` uniform in [0, 1). A receiver's `Retry-After` is a floor on that wait, itself bounded
by the cap so one receiver cannot park a delivery indefinitely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What to do after one attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"
    REFUSED = "refused"


@dataclass(frozen=True)
class Backoff:
    """How often and how patiently to retry."""

    base: float = 1.0
    cap: float = 60.0
    max_attempts: int = 5


@dataclass(frozen=True)
class Decision:
    """The outcome of an attempt and, for a retry, the seconds to wait first."""

    outcome: Outcome
    delay: float = 0.0


def retryable(status: int | None) -> bool:
    """Network errors (None), 429 and 5xx are worth retrying; other statuses are final."""
    return status is None or status == 429 or status >= 500


def delay(policy: Backoff, attempt: int, rand: float, retry_after: float | None = None) -> float:
    """Seconds to wait after attempt `attempt` (1-based) failed."""
    jittered = rand * min(policy.cap, policy.base * 2.0 ** (attempt - 1))
    if retry_after is None:
        return jittered
    return min(policy.cap, max(jittered, retry_after))


def decide(
    policy: Backoff, attempt: int, status: int | None, rand: float, retry_after: float | None
) -> Decision:
    """What follows attempt `attempt` that got `status` (None: no response)."""
    if status is not None and 200 <= status < 300:
        return Decision(Outcome.DELIVERED)
    if status == 410:
        return Decision(Outcome.GONE)
    if not retryable(status) or attempt >= policy.max_attempts:
        return Decision(Outcome.FAILED)
    return Decision(Outcome.RETRY, delay(policy, attempt, rand, retry_after))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from `now` that a `Retry-After` header asks for (delta seconds or HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
