"""Dependency aliases the routes declare: the objects the app factory's lifespan built."""

from __future__ import annotations

from typing import Annotated

import redis
from fastapi import Depends, Request

from analyzer.store import Store
from api.webhooks.subscriptions import Subscriptions


def get_store(request: Request) -> Store:
    """The analyzer store (sync Redis; use it from plain `def` routes)."""
    store: Store = request.app.state.store
    return store


def get_redis(request: Request) -> redis.Redis:
    """The store's sync Redis client."""
    return get_store(request).client


def get_subscriptions(request: Request) -> Subscriptions:
    """The webhook subscriptions (async Redis; use it from `async def` routes)."""
    subscriptions: Subscriptions = request.app.state.subscriptions
    return subscriptions


StoreDep = Annotated[Store, Depends(get_store)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]
SubscriptionsDep = Annotated[Subscriptions, Depends(get_subscriptions)]
