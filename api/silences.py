"""Silences and acknowledgements of alerts, as in Alertmanager: a silence keeps the webhooks
quiet for the alerts it matches until it expires; an acknowledgement marks one alert handled.

A silence matches on the alert `type` (exact, or a family with a trailing `.*`), the `rule` that
fired (`detector`, e.g. `rule:<id>`), the `run_id` and the run's `project`; an omitted matcher
matches anything. Matching is pure; the routes and the dispatcher keep them in Redis
(`keys.SILENCES`, `keys.ACKS`).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analyzer.records import Alert
from api.webhooks.cooldown import rule_of

MAX_SECONDS = 90 * 86_400


class SilenceCreate(BaseModel):
    """`POST /silences`: what to silence and for how long (`seconds`, or until `expires_at`)."""

    model_config = ConfigDict(extra="forbid")

    type: str | None = Field(None, min_length=1, max_length=128)
    rule: str | None = Field(None, min_length=1, max_length=160)
    run_id: str | None = Field(None, min_length=1, max_length=128)
    project: str | None = Field(None, min_length=1, max_length=128)
    seconds: float | None = Field(None, gt=0, le=MAX_SECONDS)
    expires_at: float | None = Field(None, gt=0)
    comment: str = Field("", max_length=1000)

    @model_validator(mode="after")
    def _bounded(self) -> SilenceCreate:
        if (self.seconds is None) == (self.expires_at is None):
            raise ValueError("give exactly one of seconds and expires_at")
        if not any((self.type, self.rule, self.run_id, self.project)):
            raise ValueError("a silence needs at least one of type, rule, run_id, project")
        return self


class Silence(BaseModel):
    """A stored silence."""

    id: str
    type: str | None = None
    rule: str | None = None
    run_id: str | None = None
    project: str | None = None
    created_at: float
    expires_at: float
    comment: str = ""

    def active(self, now: float) -> bool:
        """Whether it still silences."""
        return now < self.expires_at

    def matches(self, alert: Alert, project: str | None) -> bool:
        """Whether it covers this alert (of a run in `project`)."""
        kind = self.type
        kind_ok = (
            kind is None
            or alert.type == kind
            or (kind.endswith(".*") and alert.type.startswith(kind[:-1]))
        )
        return (
            kind_ok
            and self.rule in (None, rule_of(alert))
            and self.run_id in (None, alert.run_id)
            and self.project in (None, project)
        )


def decode(docs: Iterable[bytes]) -> list[Silence]:
    """Stored silence documents (`keys.SILENCES` values) as silences."""
    return [Silence.model_validate_json(doc) for doc in docs]


def silencing(
    silences: list[Silence], alert: Alert, project: str | None, now: float
) -> Silence | None:
    """The first active silence that covers the alert, or None."""
    return next((s for s in silences if s.active(now) and s.matches(alert, project)), None)


class Ack(BaseModel):
    """An alert's acknowledgement: when, and the comment given."""

    model_config = ConfigDict(extra="forbid")

    at: float = 0.0
    comment: str = Field("", max_length=1000)
