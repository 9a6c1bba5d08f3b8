"""Webhook bodies of an alert, one per subscription format; pure functions of the alert.

- `standard`: the Standard Webhooks envelope `{"type", "timestamp", "data"}` (data: the alert).
- `slack`: an incoming-webhook message, `{"text", "blocks"}` (mrkdwn section and context).
- `discord`: an execute-webhook message, `{"content", "embeds": [...]}` with one embed.
- `alertmanager`: a list of one postable alert for Alertmanager's `POST /api/v2/alerts`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from analyzer.records import Alert

DISCORD_RED = 0xD93F0B


class Format(StrEnum):
    """The body shape a subscription receives."""

    STANDARD = "standard"
    SLACK = "slack"
    DISCORD = "discord"
    ALERTMANAGER = "alertmanager"


def iso(timestamp: float) -> str:
    """An ISO 8601 UTC time with milliseconds and a `Z`."""
    when = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return when.replace("+00:00", "Z")


def title(alert: Alert, project: str | None) -> str:
    """One line naming the alert, its run and where it fired."""
    where = f"{project}/{alert.run_id}" if project else alert.run_id
    series = f"W={alert.window}" + (f", stride={alert.stride}" if alert.stride != 1 else "")
    return f"{alert.type} in {where} ({alert.group}, {series}) at step {alert.step}"


def evidence_text(alert: Alert) -> str:
    """The evidence as `name=value` pairs."""
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(alert.evidence.items()))


def standard(alert: Alert, project: str | None = None) -> dict[str, Any]:
    """The Standard Webhooks envelope."""
    return {"type": alert.type, "timestamp": iso(alert.created_at), "data": alert.model_dump()}


def slack(alert: Alert, project: str | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message."""
    section = f":rotating_light: *{title(alert, project)}*\n{alert.message}"
    return {
        "text": f"{title(alert, project)}: {alert.message}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": evidence_text(alert)}]},
        ],
    }


def discord(alert: Alert, project: str | None = None) -> dict[str, Any]:
    """A Discord execute-webhook message with one embed."""
    fields = [
        {"name": name, "value": f"{value:.4g}", "inline": True}
        for name, value in sorted(alert.evidence.items())
    ][:25]
    embed = {
        "title": title(alert, project)[:256],
        "description": alert.message[:4096],
        "color": DISCORD_RED,
        "timestamp": iso(alert.created_at),
        "fields": fields,
    }
    return {"content": f"spectral-edge alert: {alert.type}"[:2000], "embeds": [embed]}


def alertmanager(alert: Alert, project: str | None = None) -> list[dict[str, Any]]:
    """Alertmanager postable alerts (one): labels identify the condition, annotations tell it."""
    labels = {
        "alertname": alert.type,
        "run_id": alert.run_id,
        "group": alert.group,
        "window": str(alert.window),
        "source": "spectral-edge",
    }
    if alert.stride != 1:
        labels["stride"] = str(alert.stride)
    if project:
        labels["project"] = project
    annotations = {
        "summary": title(alert, project),
        "description": alert.message,
        "evidence": evidence_text(alert),
        "alert_id": alert.id,
        "step": str(alert.step),
    }
    return [{"labels": labels, "annotations": annotations, "startsAt": iso(alert.created_at)}]


_RENDERERS = {
    Format.STANDARD: standard,
    Format.SLACK: slack,
    Format.DISCORD: discord,
    Format.ALERTMANAGER: alertmanager,
}


def render(fmt: Format, alert: Alert, project: str | None = None) -> bytes:
    """The JSON body of an alert in a subscription's format."""
    doc = _RENDERERS[fmt](alert, project)
    return json.dumps(doc, separators=(",", ":")).encode()
