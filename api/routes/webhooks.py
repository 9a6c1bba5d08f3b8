"""`/api/v1/webhooks`: alert webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api.deps import SubscriptionsDep
from api.errors import not_found
from api.schemas import DeliveryList, Webhook, WebhookCreate, WebhookCreated, WebhookList
from api.webhooks.signing import new_secret
from api.webhooks.subscriptions import Subscription, Subscriptions

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(min_length=1, max_length=64)]


async def _existing(subscriptions: Subscriptions, webhook_id: str) -> Subscription:
    sub = await subscriptions.get(webhook_id)
    if sub is None:
        raise not_found(f"webhook {webhook_id!r}")
    return sub


@router.post("", status_code=201)
async def create_webhook(body: WebhookCreate, subscriptions: SubscriptionsDep) -> WebhookCreated:
    """Subscribe a receiver; the response is the only one that shows the signing secret."""
    sub = await subscriptions.create(body.url, body.event_types, body.secret or new_secret())
    return WebhookCreated(**Webhook.of(sub).model_dump(), secret=sub.secret)


@router.get("")
async def list_webhooks(subscriptions: SubscriptionsDep) -> WebhookList:
    """Every subscription, oldest first, without secrets."""
    return WebhookList(webhooks=[Webhook.of(sub) for sub in await subscriptions.all()])


@router.get("/{webhook_id}")
async def get_webhook(webhook_id: WebhookId, subscriptions: SubscriptionsDep) -> Webhook:
    """One subscription, without its secret."""
    return Webhook.of(await _existing(subscriptions, webhook_id))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: WebhookId, subscriptions: SubscriptionsDep) -> Response:
    """Unsubscribe and drop the delivery log."""
    if not await subscriptions.delete(webhook_id):
        raise not_found(f"webhook {webhook_id!r}")
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: WebhookId,
    subscriptions: SubscriptionsDep,
    max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The newest delivery attempts first: status, error, outcome, timing."""
    await _existing(subscriptions, webhook_id)
    return DeliveryList(deliveries=await subscriptions.deliveries(webhook_id, max_results))
