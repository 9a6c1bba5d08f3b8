"""Webhook delivery to real `https` receivers on loopback: the POST goes to the vetted address, yet
TLS SNI carries the URL's host name and the certificate is verified against that name."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import httpx
import pytest
import redis
import redis.asyncio as aioredis
from standardwebhooks.webhooks import Webhook

from analyzer.records import Alert
from analyzer.service import keys
from api.app import create_app
from api.config import ApiSettings
from api.webhooks.delivery import Courier
from api.webhooks.schedule import Outcome
from api.webhooks.signing import new_secret
from api.webhooks.stream import GROUP
from api.webhooks.subscriptions import DeliveryAttempt, Subscriptions
from tests.support.certificates import Authority
from tests.support.tls_receiver import TlsReceiver
from tests.support.webhooks import make_alert, unique_type


class Delivered(NamedTuple):
    """One attempt's record and the signing secret of its subscription."""

    record: DeliveryAttempt
    secret: str


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """A throwaway CA, the only one the delivering client trusts."""
    return Authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def receiver(authority: Authority) -> Iterator[TlsReceiver]:
    """An HTTPS receiver whose certificate names `localhost` only."""
    with TlsReceiver(authority.issue("localhost")) as tls:
        yield tls


def deliver(settings: ApiSettings, authority: Authority, *urls: str) -> list[Delivered]:
    """One attempt to each URL in turn, over one client that trusts `authority` only, each by a
    fresh subscription (deleted afterwards)."""

    async def attempts() -> list[Delivered]:
        client = aioredis.Redis.from_url(settings.redis_url)
        subscriptions, done = Subscriptions(client, time.time), []
        async with httpx.AsyncClient(verify=authority.client_context()) as http:
            courier = Courier(http, subscriptions, settings)
            for url in urls:
                sub = await subscriptions.create(url=url, event_types=["*"], secret=new_secret())
                record = await courier.attempt(sub, make_alert(unique_type()), None, 1, "test")
                done.append(Delivered(record, sub.secret))
                await subscriptions.delete(sub.id)
        await client.aclose()
        return done

    return asyncio.run(attempts())


def test_sni_and_verification_use_the_host_name(
    receiver: TlsReceiver, authority: Authority, settings: ApiSettings
) -> None:
    (sent,) = deliver(settings, authority, f"https://localhost:{receiver.port}/hook")
    assert (sent.record.outcome, sent.record.status) == (Outcome.DELIVERED, 200)
    (hit,) = receiver.hits
    assert receiver.server_names == ["localhost"]
    assert hit.path == "/hook" and hit.headers["host"] == f"localhost:{receiver.port}"
    Webhook(sent.secret).verify(hit.body, hit.headers)


def test_a_certificate_for_another_name_is_refused(
    authority: Authority, settings: ApiSettings
) -> None:
    with TlsReceiver(authority.issue("hooks.test")) as elsewhere:
        (sent,) = deliver(settings, authority, f"https://localhost:{elsewhere.port}/hook")
    assert sent.record.outcome is Outcome.RETRY and sent.record.status is None
    assert "certificate is not valid for 'localhost'" in str(sent.record.error)
    assert elsewhere.server_names == ["localhost"]
    assert elsewhere.hits == []


def test_a_connection_verified_for_one_name_never_carries_another(
    receiver: TlsReceiver, authority: Authority, settings: ApiSettings
) -> None:
    """Both names pin to 127.0.0.1, one port: a pooled connection would skip the second check."""
    named, literal = (f"https://{host}:{receiver.port}/hook" for host in ("localhost", "127.0.0.1"))
    first, again, by_address = deliver(settings, authority, named, named, literal)
    assert first.record.outcome is again.record.outcome is Outcome.DELIVERED
    assert by_address.record.status is None
    assert "certificate is not valid for '127.0.0.1'" in str(by_address.record.error)
    assert receiver.server_names == ["localhost", "localhost", None]  # no SNI for an address
    assert len(receiver.hits) == 2


def test_the_api_trusts_a_private_ca_named_by_ssl_cert_file(
    receiver: TlsReceiver,
    authority: Authority,
    settings: ApiSettings,
    admin_token: str,
    serve: Any,
    xadd: Callable[[Alert], bytes],
    eventually: Callable[..., Any],
    client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The dispatcher's client reads SSL_CERT_FILE (httpx's trust_env), as a deployment would."""
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.ca))
    event_type, auth = unique_type(), {"Authorization": f"Bearer {admin_token}"}
    with serve(create_app(settings)) as api, httpx.Client(base_url=api.url, headers=auth) as http:
        url = f"https://localhost:{receiver.port}/hook"
        sub = http.post("/api/v1/webhooks", json={"url": url, "event_types": [event_type]}).json()
        try:
            xadd(make_alert(event_type))
            (hit,) = eventually(lambda: receiver.hits)
            assert receiver.server_names == ["localhost"]
            Webhook(sub["secret"]).verify(hit.body, hit.headers)
        finally:
            assert http.delete(f"/api/v1/webhooks/{sub['id']}").status_code == 204
    client.xgroup_delconsumer(keys.ALERTS, GROUP, settings.webhook_consumer)
