"""The app factory: routes, auth, metrics, the dashboard, and a lifespan that owns every connection.

Nothing connects at import time. The lifespan opens a sync Redis client for the `Reader` of the
analyzer's state and for the token store (used by plain `def` routes, which run in the threadpool),
an async Redis client for live streams, webhook subscriptions and the dispatcher, and one
`httpx.AsyncClient` for deliveries; it starts the dispatcher after them and stops it before closing
them. Every route but `/healthz` needs a token (see `api.auth`); the OpenAPI document and the
static dashboard shell carry no data and are public. No Swagger page: it would load from a CDN.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import redis
import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from analyzer.service.reader import Reader
from api.auth import TokenStore
from api.config import ApiSettings
from api.errors import install_handlers
from api.routes import (
    alerts,
    analysis,
    health,
    live,
    prometheus,
    rules,
    runs,
    series,
    silences,
    tokens,
    webhooks,
)
from api.telemetry import RequestMetrics, Telemetry
from api.webhooks.dispatcher import Dispatcher
from api.webhooks.subscriptions import Subscriptions

STATIC = Path(__file__).with_name("static")


SETTINGS_VARIABLE = "SPECTRAL_EDGE_API_SETTINGS_JSON"


def worker_app() -> FastAPI:
    """The app of one `spectral-edge api --workers N` process: settings from the JSON the parent
    put in `SETTINGS_VARIABLE`, its dispatcher a consumer of its own (host name and pid) in the
    fleet's consumer group, so each alert is delivered by one worker."""
    settings = ApiSettings.model_validate_json(os.environ[SETTINGS_VARIABLE])
    consumer = f"{settings.webhook_consumer}/{os.getpid()}"
    return create_app(settings.model_copy(update={"webhook_consumer": consumer}))


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """A FastAPI app serving `/api/v1`, `/healthz`, `/metrics` and `/dashboard/`."""
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sync_client = redis.Redis.from_url(settings.redis_url)
        async_client = aioredis.Redis.from_url(settings.redis_url)
        http = httpx.AsyncClient(timeout=settings.webhook_timeout, follow_redirects=False)
        subscriptions = Subscriptions(async_client, time.time)
        dispatcher = Dispatcher(async_client, subscriptions, http, settings)
        app.state.settings = settings
        app.state.reader = Reader(sync_client)
        app.state.tokens = TokenStore(sync_client)
        app.state.async_redis = async_client
        app.state.subscriptions = subscriptions
        app.state.dispatcher = dispatcher
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            await http.aclose()
            await async_client.aclose()
            sync_client.close()

    app = FastAPI(
        title="spectral-edge", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    install_handlers(app)
    app.state.telemetry = Telemetry()
    app.add_middleware(RequestMetrics, telemetry=app.state.telemetry)
    routers = (
        runs,
        series,
        analysis,
        alerts,
        rules,
        silences,
        live,
        webhooks,
        tokens,
        prometheus,
        health,
    )
    for module in routers:
        app.include_router(module.router)
    app.mount("/dashboard", StaticFiles(directory=STATIC, html=True), name="dashboard")
    app.add_api_route("/", _to_dashboard, include_in_schema=False)
    return app


def _to_dashboard() -> RedirectResponse:
    return RedirectResponse("/dashboard/")
