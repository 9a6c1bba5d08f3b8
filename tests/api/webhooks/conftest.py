"""Fixtures of the webhook suite: a private Redis, an api allow-listing loopback, a receiver.

The api here allow-lists 127.0.0.0/8, since the receivers
run on loopback; the SSRF tests build their own app without the allow-list. The cooldown is off
unless a test turns it on, so several alerts of one rule and run all go out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from analyzer.records import Alert
from analyzer.service import keys
from api.config import ApiSettings
from tests.support.receiver import Receiver
from tests.support.webhooks import webhook_settings


@pytest.fixture(scope="module")
def redis_url(private_redis: str) -> str:
    """Deliveries run on a private Redis, so no other api's dispatcher takes these alerts."""
    return private_redis


@pytest.fixture(scope="module")
def settings(redis_url: str) -> ApiSettings:
    """The module's api settings (see `webhook_settings`)."""
    return webhook_settings(redis_url)


@pytest.fixture(scope="module")
def sink() -> Iterator[Receiver]:
    """A real HTTP receiver on a free loopback port for the module."""
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def xadd(client: redis.Redis) -> Iterator[Callable[[Alert], bytes]]:
    """XADD alerts to the stream like the analyzer; afterwards exactly those are XDELed."""
    added: list[bytes] = []

    def add(alert: Alert) -> bytes:
        entry: bytes = client.xadd(keys.ALERTS, {"alert": alert.model_dump_json()})
        added.append(entry)
        return entry

    yield add
    if added:
        client.xdel(keys.ALERTS, *added)
