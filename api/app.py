"""The app factory: routes, error handlers, and a lifespan that owns every connection.

Nothing connects at import time. The lifespan opens a sync Redis client for the analyzer's `Store`
(used by plain `def` routes, which run in the threadpool), an async Redis client for webhook
subscriptions and the dispatcher, and one `httpx.AsyncClient` for deliveries; it starts the
dispatcher after them and stops it before closing them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis
import redis.asyncio as aioredis
from fastapi import FastAPI

from analyzer.store import Store
from api.config import ApiSettings
from api.errors import install_handlers
from api.routes import health, runs, webhooks
from api.webhooks.delivery import Dispatcher
from api.webhooks.subscriptions import Subscriptions


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """A FastAPI app serving `/api/v1` and `/healthz` from the Redis at `settings.redis_url`."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sync_client = redis.Redis.from_url(settings.redis_url)
        async_client = aioredis.Redis.from_url(settings.redis_url)
        http = httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False)
        subscriptions = Subscriptions(async_client, time.time)
        dispatcher = Dispatcher(async_client, subscriptions, http, settings)
        app.state.settings = settings
        app.state.store = Store(sync_client)
        app.state.subscriptions = subscriptions
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            await http.aclose()
            await async_client.aclose()
            sync_client.close()

    app = FastAPI(title="spectral-edge", version="0.1.0", lifespan=lifespan)
    install_handlers(app)
    for module in (runs, webhooks, health):
        app.include_router(module.router)
    return app
