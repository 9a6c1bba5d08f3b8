"""Outbound webhook HTTP, the api's one outbound-HTTP module: render, sign, POST, retry, log.

A message is one alert for one subscription, rendered in the subscription's format and sent
with Standard Webhooks headers: `webhook-id` (the same for every retry of one alert to one
subscription), `webhook-timestamp` and `webhook-signature` (one `v1,` signature per active
secret). Before each attempt the target passes the SSRF guard and the POST goes to the vetted
address (the URL's host stays in `Host` and in TLS SNI, and an `https` certificate is verified
against it). Each attempt has a connection of its own (`connection: close`): the client's pool
is keyed by address, and a connection verified for one host name must never carry a request for
another name at that address. Redirects are not followed and the response body is never read.
Every attempt is recorded; `schedule.decide` says what follows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from analyzer.records import Alert
from api.allow_list import AllowList
from api.config import ApiSettings
from api.webhooks.render import render
from api.webhooks.schedule import Backoff, Decision, Outcome, decide, parse_retry_after
from api.webhooks.signing import sign_all
from api.webhooks.ssrf import TargetRefused, vet
from api.webhooks.subscriptions import DeliveryAttempt, Subscription, Subscriptions

log = logging.getLogger(__name__)

USER_AGENT = "spectral-edge-webhooks/0.1"


def message_id(alert: Alert, sub: Subscription) -> str:
    """The `webhook-id` of an alert sent to a subscription: the same for every retry."""
    return "msg_" + hashlib.sha256(f"{alert.id}\0{sub.id}".encode()).hexdigest()[:32]


class Courier:
    """Sends messages to subscriptions: one attempt (`attempt`) or until settled (`deliver`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        subscriptions: Subscriptions,
        settings: ApiSettings,
        *,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.http, self.subscriptions = http, subscriptions
        self.allow = AllowList.parse(settings.webhook_allow)
        self.keep = settings.webhook_deliveries_kept
        self.message_ttl = settings.webhook_message_ttl
        self.policy = Backoff(
            settings.webhook_backoff_base,
            settings.webhook_backoff_cap,
            settings.webhook_max_attempts,
        )
        self.rand, self.clock, self.sleep = rand, clock, sleep

    async def deliver(
        self, sub: Subscription, alert: Alert, project: str | None, trigger: str = "alert"
    ) -> Outcome:
        """Send one alert to one subscription until it is delivered, refused or out of attempts."""
        await self.subscriptions.keep_message(
            sub.id, message_id(alert, sub), alert, self.message_ttl
        )
        attempt = 0
        while True:
            attempt += 1
            record = await self.attempt(sub, alert, project, attempt, trigger)
            if record.outcome is not Outcome.RETRY or record.next_delay is None:
                return record.outcome
            await self.sleep(record.next_delay)
            current = await self.subscriptions.get(sub.id)
            if current is None or not current.enabled:
                return Outcome.FAILED
            sub = current

    async def attempt(
        self, sub: Subscription, alert: Alert, project: str | None, attempt: int, trigger: str
    ) -> DeliveryAttempt:
        """One signed POST, recorded in the delivery log; a 410 disables the subscription."""
        msg_id, body, now = message_id(alert, sub), render(sub.format, alert, project), self.clock()
        status, error = None, None
        try:
            status, retry_after = await self._post(sub, msg_id, body, now)
            decision = decide(self.policy, attempt, status, self.rand(), retry_after)
        except TargetRefused as exc:
            error, decision = f"refused: {exc.message}", Decision(Outcome.REFUSED)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"
            decision = decide(self.policy, attempt, None, self.rand(), None)
        record = DeliveryAttempt(
            msg_id=msg_id,
            alert_id=alert.id,
            event_type=alert.type,
            attempt=attempt,
            trigger=trigger,
            status=status,
            error=error,
            outcome=decision.outcome,
            duration_ms=round((self.clock() - now) * 1000, 3),
            at=now,
            next_delay=decision.delay if decision.outcome is Outcome.RETRY else None,
        )
        await self.subscriptions.record(sub.id, record, self.keep)
        if record.outcome is Outcome.GONE:
            await self.subscriptions.disable(sub.id, "the receiver answered 410 Gone")
        return record

    async def _post(
        self, sub: Subscription, msg_id: str, body: bytes, now: float
    ) -> tuple[int, float | None]:
        """POST to the vetted address: (status, Retry-After seconds)."""
        url = httpx.URL(sub.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await vet(url.host, port, self.allow)
        timestamp = int(now)
        headers = {
            "host": url.netloc.decode(),
            "connection": "close",
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_all(sub.signing_secrets(now), msg_id, timestamp, body),
        }
        pinned = url.copy_with(host=str(address))
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        request = self.http.build_request(
            "POST", pinned, content=body, headers=headers, extensions=extensions
        )
        response = await self.http.send(request, stream=True)
        try:
            return response.status_code, parse_retry_after(
                response.headers.get("retry-after"), self.clock()
            )
        finally:
            await response.aclose()
