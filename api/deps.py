"""Dependency aliases the routes declare: the objects the app factory's lifespan built.

The getters are `async def` so FastAPI calls them on the event loop, not in the threadpool.
"""

from __future__ import annotations

from typing import Annotated

import redis
import redis.asyncio as aioredis
from fastapi import Depends, Request

from analyzer.service.reader import Reader
from api.auth import TokenStore
from api.config import ApiSettings
from api.webhooks.subscriptions import Subscriptions


async def get_reader(request: Request) -> Reader:
    """Typed reads of the analyzer's state (sync Redis; use it from plain `def` routes)."""
    reader: Reader = request.app.state.reader
    return reader


async def get_redis(request: Request) -> redis.Redis:
    """The reader's sync Redis client."""
    reader: Reader = request.app.state.reader
    client: redis.Redis = reader.client
    return client


async def get_async_redis(request: Request) -> aioredis.Redis:
    """The async Redis client (for `async def` routes such as live streams)."""
    client: aioredis.Redis = request.app.state.async_redis
    return client


async def get_tokens(request: Request) -> TokenStore:
    """The api token store."""
    tokens: TokenStore = request.app.state.tokens
    return tokens


async def get_settings(request: Request) -> ApiSettings:
    """The settings the app was built with."""
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_subscriptions(request: Request) -> Subscriptions:
    """The webhook subscriptions (async Redis; use it from `async def` routes)."""
    subscriptions: Subscriptions = request.app.state.subscriptions
    return subscriptions


RedisDep = Annotated[redis.Redis, Depends(get_redis)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
AsyncRedisDep = Annotated[aioredis.Redis, Depends(get_async_redis)]
TokensDep = Annotated[TokenStore, Depends(get_tokens)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
SubscriptionsDep = Annotated[Subscriptions, Depends(get_subscriptions)]
