"""The per (rule, run) cooldown in the dispatcher: one condition does not page twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from analyzer.records import Alert
from api.config import ApiSettings
from tests.support.receiver import Receiver
from tests.support.webhooks import make_alert, unique_type, webhook_settings


@pytest.fixture(scope="module")
def settings(redis_url: str) -> ApiSettings:
    """A cooldown far longer than the test."""
    return webhook_settings(redis_url, webhook_cooldown=600.0)


def test_a_second_alert_of_a_rule_and_run_is_suppressed(
    sink: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    xadd: Callable[[Alert], bytes],
    eventually: Callable[..., Any],
) -> None:
    rule = unique_type()
    url = sink.endpoint()
    subscribe(url, event_types=["*"])
    first = make_alert(rule, run_id="run-a")
    repeat = make_alert(rule, run_id="run-a")
    other_run = make_alert(rule, run_id="run-b")
    other_rule = make_alert(unique_type(), run_id="run-a")
    for alert in (first, repeat, other_run, other_rule):
        xadd(alert)
    xadd(first)  # the same alert read again (at-least-once) is not held back by its own mark

    def ids() -> list[str]:
        return [h.json()["data"]["id"] for h in sink.hits(url)]

    eventually(lambda: len(ids()) >= 4)
    time.sleep(0.5)
    assert sorted(ids()) == sorted([first.id, first.id, other_run.id, other_rule.id])
