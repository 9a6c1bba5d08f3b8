"""Webhook bodies per format: Standard Webhooks envelope, Slack, Discord, Alertmanager."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from api.webhooks.render import Format, render
from tests.support.webhooks import make_alert

ALERT = make_alert("edge.collapse", run_id="run-42", created_at=1700000000.25)
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def test_standard_is_the_envelope_with_the_alert_as_data() -> None:
    doc = json.loads(render(Format.STANDARD, ALERT))
    assert set(doc) == {"type", "timestamp", "data"}
    assert doc["type"] == "edge.collapse"
    assert doc["timestamp"] == "2023-11-14T22:13:20.250Z"
    assert doc["data"] == ALERT.model_dump(mode="json")


def test_slack_has_fallback_text_and_mrkdwn_blocks() -> None:
    doc = json.loads(render(Format.SLACK, ALERT, project="demo"))
    assert set(doc) == {"text", "blocks"}
    assert "edge.collapse" in doc["text"] and "demo/run-42" in doc["text"]
    section, context = doc["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert ALERT.message in section["text"]["text"]
    assert len(section["text"]["text"]) <= 3000
    assert context["type"] == "context"
    assert "edge_ratio=1.1" in context["elements"][0]["text"]


def test_discord_has_content_and_one_embed_within_limits() -> None:
    doc = json.loads(render(Format.DISCORD, ALERT))
    assert set(doc) == {"content", "embeds"}
    (embed,) = doc["embeds"]
    assert embed["description"] == ALERT.message
    assert isinstance(embed["color"], int) and 0 <= embed["color"] <= 0xFFFFFF
    assert len(embed["title"]) <= 256 and len(embed["fields"]) <= 25
    assert datetime.fromisoformat(embed["timestamp"]).timestamp() == pytest.approx(1700000000.25)
    names = {f["name"]: f["value"] for f in embed["fields"]}
    assert names == {"edge_ratio": "1.1", "peak": "2.5", "threshold": "1.2"}


def test_alertmanager_is_a_list_of_postable_alerts() -> None:
    (doc,) = json.loads(render(Format.ALERTMANAGER, ALERT, project="demo"))
    assert set(doc) == {"labels", "annotations", "startsAt"}
    assert doc["labels"]["alertname"] == "edge.collapse"
    assert doc["labels"]["run_id"] == "run-42" and doc["labels"]["project"] == "demo"
    assert all(LABEL_NAME.match(name) for name in (*doc["labels"], *doc["annotations"]))
    assert all(isinstance(v, str) for v in (*doc["labels"].values(), *doc["annotations"].values()))
    assert doc["annotations"]["description"] == ALERT.message
    assert doc["startsAt"] == "2023-11-14T22:13:20.250Z"


def test_without_a_project_no_project_label() -> None:
    (doc,) = json.loads(render(Format.ALERTMANAGER, ALERT))
    assert "project" not in doc["labels"]
