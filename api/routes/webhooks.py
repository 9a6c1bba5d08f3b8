"""`/api/v1/webhooks`: alert webhook subscriptions, tests, secret rotation and the delivery log.

Reading needs a read token; every change (create, update, delete, rotate, test, redeliver) an
admin token.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from analyzer.records import Alert
from api.auth import ADMIN, READ
from api.deps import SettingsDep, SubscriptionsDep
from api.errors import ApiError, not_found
from api.webhooks.dispatcher import Dispatcher
from api.webhooks.schemas import (
    DeliveryList,
    Redelivery,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRotate,
    WebhookUpdate,
)
from api.webhooks.signing import new_secret
from api.webhooks.ssrf import check_literal
from api.webhooks.subscriptions import DeliveryAttempt, Subscription, Subscriptions

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[READ])

WebhookId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
MessageId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
TEST_EVENT = "webhook.test"


def get_dispatcher(request: Request) -> Dispatcher:
    """The webhook dispatcher the app's lifespan started."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


async def _existing(subscriptions: Subscriptions, webhook_id: str) -> Subscription:
    sub = await subscriptions.get(webhook_id)
    if sub is None:
        raise not_found(f"webhook {webhook_id!r}")
    return sub


def _check_target(dispatcher: Dispatcher, url: str) -> None:
    """Refuse a URL whose host is a literal private or loopback address not allow-listed."""
    check_literal(httpx.URL(url).host, dispatcher.courier.allow)


@router.post("", status_code=201, dependencies=[ADMIN])
async def create_webhook(
    body: WebhookCreate, subscriptions: SubscriptionsDep, dispatcher: DispatcherDep
) -> WebhookCreated:
    """Subscribe a receiver; the response is the only one that shows the signing secret."""
    _check_target(dispatcher, body.url)
    fields = body.model_dump(exclude={"secret"})
    sub = await subscriptions.create(**fields, secret=body.secret or new_secret())
    return WebhookCreated(**Webhook.of(sub).model_dump(), secret=sub.secret)


@router.get("")
async def list_webhooks(subscriptions: SubscriptionsDep) -> WebhookList:
    """Every subscription, oldest first, without secrets."""
    return WebhookList(webhooks=[Webhook.of(sub) for sub in await subscriptions.all()])


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: WebhookId, subscriptions: SubscriptionsDep) -> Webhook:
    """One subscription, without its secrets."""
    return Webhook.of(await _existing(subscriptions, webhook_id))


@router.patch("/{webhook_id}", dependencies=[ADMIN])
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    subscriptions: SubscriptionsDep,
    dispatcher: DispatcherDep,
) -> Webhook:
    """Change a subscription; re-enabling clears the reason it was disabled."""
    changes = body.model_dump(exclude_none=True)
    if body.url is not None:
        _check_target(dispatcher, body.url)
    if body.enabled:
        changes["disabled_reason"] = None
    sub = await subscriptions.update(webhook_id, **changes)
    if sub is None:
        raise not_found(f"webhook {webhook_id!r}")
    return Webhook.of(sub)


@router.delete("/{webhook_id}", status_code=204, dependencies=[ADMIN])
async def delete_webhook(webhook_id: WebhookId, subscriptions: SubscriptionsDep) -> Response:
    """Unsubscribe and drop the delivery log."""
    if not await subscriptions.delete(webhook_id):
        raise not_found(f"webhook {webhook_id!r}")
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate", dependencies=[ADMIN])
async def rotate_secret(
    webhook_id: WebhookId,
    body: WebhookRotate,
    subscriptions: SubscriptionsDep,
    settings: SettingsDep,
) -> WebhookCreated:
    """Make a new secret current; messages carry both signatures until the old one expires."""
    grace = settings.webhook_rotation_grace if body.grace_seconds is None else body.grace_seconds
    sub = await subscriptions.rotate(webhook_id, body.secret or new_secret(), grace)
    if sub is None:
        raise not_found(f"webhook {webhook_id!r}")
    return WebhookCreated(**Webhook.of(sub).model_dump(), secret=sub.secret)


@router.post("/{webhook_id}/test", dependencies=[ADMIN])
async def test_webhook(
    webhook_id: WebhookId, subscriptions: SubscriptionsDep, dispatcher: DispatcherDep
) -> DeliveryAttempt:
    """Send one `webhook.test` event now (no retry, no filters) and return the attempt."""
    sub = await _existing(subscriptions, webhook_id)
    return await dispatcher.test(sub, _test_alert())


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: WebhookId,
    subscriptions: SubscriptionsDep,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The newest delivery attempts first: status, error, outcome, timing."""
    await _existing(subscriptions, webhook_id)
    return DeliveryList(deliveries=await subscriptions.deliveries(webhook_id, max_results))


@router.post("/{webhook_id}/deliveries/{msg_id}/redeliver", status_code=202, dependencies=[ADMIN])
async def redeliver(
    webhook_id: WebhookId,
    msg_id: MessageId,
    subscriptions: SubscriptionsDep,
    dispatcher: DispatcherDep,
) -> Redelivery:
    """Send a logged message again (same `webhook-id`), with retries, in the background."""
    sub = await _existing(subscriptions, webhook_id)
    alert = await subscriptions.message(webhook_id, msg_id)
    if alert is None:
        raise not_found(f"message {msg_id!r} of webhook {webhook_id!r}")
    if not sub.enabled:
        raise ApiError(409, "INVALID_STATE", f"webhook {webhook_id!r} is disabled")
    dispatcher.redeliver(sub, alert)
    return Redelivery(msg_id=msg_id, alert_id=alert.id)


def _test_alert() -> Alert:
    return Alert(
        id=f"test_{uuid.uuid4().hex[:24]}",
        type=TEST_EVENT,
        run_id="webhook-test",
        group="all",
        window=0,
        step=0,
        index=0,
        message="a test event from spectral-edge",
        evidence={},
        created_at=time.time(),
    )
