"""Request and response bodies of the REST api; the analyzer's records are served as they are."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from analyzer.records import RunInfo, WindowRecord
from api.errors import SignatureError
from api.webhooks.signing import PREFIX, secret_key
from api.webhooks.subscriptions import WILDCARD, DeliveryAttempt, Subscription

MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


class RunList(BaseModel):
    """`GET /runs`: every run, newest first."""

    runs: list[RunInfo]


class MetricHistory(BaseModel):
    """`GET /runs/{id}/metrics`: one series' window records in step order."""

    run_id: str
    group: str
    window: int
    records: list[WindowRecord]


class WebhookCreate(BaseModel):
    """`POST /webhooks`: an http(s) receiver, the alert types it wants, optionally its secret."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048)
    event_types: list[str] = Field(default_factory=lambda: [WILDCARD], min_length=1, max_length=64)
    secret: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("event_types")
    @classmethod
    def _event_types(cls, value: list[str]) -> list[str]:
        for event_type in value:
            if not event_type or len(event_type) > 128 or not event_type.isprintable():
                raise ValueError("event types are non-empty printable names of <= 128 characters")
            if " " in event_type:
                raise ValueError("event types contain no spaces")
        return sorted(set(value))

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
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


class Webhook(BaseModel):
    """A subscription as listed: everything but its secret."""

    id: str
    url: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    created_at: float

    @classmethod
    def of(cls, sub: Subscription) -> Webhook:
        """The public view of a stored subscription."""
        return cls.model_validate(sub.model_dump(exclude={"secret"}))


class WebhookCreated(Webhook):
    """`POST /webhooks` response: the only place the secret is shown."""

    secret: str


class WebhookList(BaseModel):
    """`GET /webhooks`: every subscription, oldest first."""

    webhooks: list[Webhook]


class DeliveryList(BaseModel):
    """`GET /webhooks/{id}/deliveries`: the newest attempts first."""

    deliveries: list[DeliveryAttempt]


class Health(BaseModel):
    """`GET /healthz`."""

    status: str
    redis: bool
