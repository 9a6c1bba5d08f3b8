"""The webhook retry policy, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from api.webhooks.schedule import (
    Backoff,
    Decision,
    Outcome,
    decide,
    delay,
    parse_retry_after,
    retryable,
)

POLICY = Backoff(base=1.0, cap=10.0, max_attempts=5)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, True), (429, True), (500, True), (503, True), (400, False), (404, False), (410, False)],
)
def test_retryable(status: int | None, expected: bool) -> None:
    assert retryable(status) is expected


def test_full_jitter_grows_exponentially_up_to_the_cap() -> None:
    ceilings = [delay(POLICY, attempt, rand=1.0) for attempt in range(1, 7)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert delay(POLICY, 3, rand=0.0) == 0.0
    assert delay(POLICY, 3, rand=0.25) == 1.0


def test_retry_after_is_a_floor_bounded_by_the_cap() -> None:
    assert delay(POLICY, 1, rand=0.5, retry_after=3.0) == 3.0
    assert delay(POLICY, 4, rand=1.0, retry_after=3.0) == 8.0
    assert delay(POLICY, 1, rand=0.5, retry_after=3600.0) == 10.0


def test_2xx_is_delivered_and_410_is_gone() -> None:
    assert decide(POLICY, 1, 200, 0.5, None) == Decision(Outcome.DELIVERED)
    assert decide(POLICY, 1, 204, 0.5, None) == Decision(Outcome.DELIVERED)
    assert decide(POLICY, 1, 410, 0.5, None) == Decision(Outcome.GONE)


def test_client_errors_and_redirects_fail_at_once() -> None:
    for status in (301, 400, 401, 404, 413):
        assert decide(POLICY, 1, status, 0.5, None) == Decision(Outcome.FAILED)


def test_retryable_failures_retry_until_the_last_attempt() -> None:
    assert decide(POLICY, 1, 500, 0.5, None) == Decision(Outcome.RETRY, 0.5)
    assert decide(POLICY, 2, None, 0.5, None) == Decision(Outcome.RETRY, 1.0)
    assert decide(POLICY, 3, 429, 0.5, 5.0) == Decision(Outcome.RETRY, 5.0)
    assert decide(POLICY, 5, 500, 0.5, None) == Decision(Outcome.FAILED)


def test_parse_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)
    earlier = format_datetime(datetime(2025, 1, 1, 11, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(later, now) == 30.0
    assert parse_retry_after(earlier, now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
