"""Request and response bodies of `/api/v1/webhooks`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.errors import SignatureError
from api.webhooks.render import Format
from api.webhooks.signing import PREFIX, secret_key
from api.webhooks.subscriptions import WILDCARD, DeliveryAttempt, Subscription

MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
MAX_GRACE = 30 * 86400.0
MAX_NAME = 128


def _http_url(value: str) -> str:
    try:
        parts, url = urlsplit(value), httpx.URL(value)
        port = parts.port  # a ValueError when out of range
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError("must be an absolute http(s) URL") from exc
    if url.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ValueError("must be an absolute http(s) URL")
    if any(c.isspace() for c in value):
        raise ValueError("must be an absolute http(s) URL")
    return value


def _names(value: list[str]) -> list[str]:
    for name in value:
        if not name or len(name) > MAX_NAME or not name.isprintable() or " " in name:
            raise ValueError(f"names are non-empty printable strings (<= {MAX_NAME}, no spaces)")
    return sorted(set(value))


def _secret(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(PREFIX):
        raise ValueError(f"must start with {PREFIX!r}")
    try:
        size = len(secret_key(value))
    except SignatureError as exc:
        raise ValueError(exc.message) from exc
    if not MIN_SECRET_BYTES <= size <= MAX_SECRET_BYTES:
        raise ValueError(f"must encode {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return value


Url = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]
EventTypes = Annotated[list[str], Field(min_length=1, max_length=64), AfterValidator(_names)]
Names = Annotated[list[str], Field(max_length=64), AfterValidator(_names)]
Secret = Annotated[str | None, AfterValidator(_secret)]


class WebhookCreate(BaseModel):
    """`POST /webhooks`: a receiver, the alerts it wants, its format, optionally its secret.

    `event_types` match the alert type (`*`: all); `projects`, `runs` and `rules` narrow further
    (empty: all); a rule is the detector that fired, or the alert type when none is named.
    """

    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes = Field(default_factory=lambda: [WILDCARD])
    projects: Names = Field(default_factory=list)
    runs: Names = Field(default_factory=list)
    rules: Names = Field(default_factory=list)
    format: Format = Format.STANDARD
    secret: Secret = None


class WebhookUpdate(BaseModel):
    """`PATCH /webhooks/{id}`: the fields to change; `enabled: true` re-enables and clears why."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    projects: Names | None = None
    runs: Names | None = None
    rules: Names | None = None
    format: Format | None = None
    enabled: bool | None = None


class WebhookRotate(BaseModel):
    """`POST /webhooks/{id}/rotate`: the new secret (or a generated one) and the old one's grace."""

    model_config = ConfigDict(extra="forbid")

    secret: Secret = None
    grace_seconds: float | None = Field(default=None, ge=0, le=MAX_GRACE)


class Webhook(BaseModel):
    """A subscription as listed: everything but its secrets."""

    id: str
    url: str
    event_types: list[str]
    projects: list[str]
    runs: list[str]
    rules: list[str]
    format: Format
    enabled: bool
    disabled_reason: str | None
    created_at: float
    previous_secret_expires_at: float | None = None

    @classmethod
    def of(cls, sub: Subscription) -> Webhook:
        """The public view of a stored subscription."""
        doc = sub.model_dump(exclude={"secret", "previous_secret", "previous_expires_at"})
        rotating = sub.previous_secret is not None
        return cls(**doc, previous_secret_expires_at=sub.previous_expires_at if rotating else None)


class WebhookCreated(Webhook):
    """`POST /webhooks` and `POST /webhooks/{id}/rotate`: the only places a secret is shown."""

    secret: str


class WebhookList(BaseModel):
    """`GET /webhooks`: every subscription, oldest first."""

    webhooks: list[Webhook]


class DeliveryList(BaseModel):
    """`GET /webhooks/{id}/deliveries`: the newest attempts first."""

    deliveries: list[DeliveryAttempt]


class Redelivery(BaseModel):
    """`POST /webhooks/{id}/deliveries/{msg_id}/redeliver`: the message queued again."""

    msg_id: str
    alert_id: str
