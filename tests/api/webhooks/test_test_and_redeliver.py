"""The manual side of webhooks: the test event, redelivery, and the Slack and Discord formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from analyzer.records import Alert
from tests.support.receiver import Receiver
from tests.support.webhooks import log_of, make_alert, of_alert, unique_type

Subscribe = Callable[..., dict[str, Any]]
Eventually = Callable[..., Any]
Xadd = Callable[[Alert], bytes]


def test_the_test_endpoint_sends_one_test_event(
    http: httpx.Client, sink: Receiver, subscribe: Subscribe
) -> None:
    url = sink.endpoint()
    sub = subscribe(url, event_types=["edge.collapse"], runs=["some-run"])
    attempt = http.post(f"/api/v1/webhooks/{sub['id']}/test").json()
    assert (attempt["outcome"], attempt["status"], attempt["trigger"]) == ("delivered", 200, "test")
    (hit,) = sink.hits(url)
    doc = Webhook(sub["secret"]).verify(hit.body, hit.headers)
    assert doc["type"] == "webhook.test"
    assert log_of(http, sub)[0]["msg_id"] == hit.headers["webhook-id"]


def test_redeliver_sends_a_logged_message_again(
    http: httpx.Client, sink: Receiver, subscribe: Subscribe, xadd: Xadd, eventually: Eventually
) -> None:
    event_type = unique_type()
    url = sink.endpoint()
    sub = subscribe(url, event_types=[event_type])
    event = make_alert(event_type)
    xadd(event)
    (first,) = eventually(lambda: of_alert(sink, url, event))
    msg_id = first.headers["webhook-id"]

    response = http.post(f"/api/v1/webhooks/{sub['id']}/deliveries/{msg_id}/redeliver")
    assert response.status_code == 202
    assert response.json() == {"msg_id": msg_id, "alert_id": event.id}
    _, second = eventually(lambda: (hits := of_alert(sink, url, event))[1:] and hits)
    assert second.headers["webhook-id"] == msg_id and second.body == first.body
    newest = eventually(lambda: (log := log_of(http, sub))[1:] and log[0])
    assert (newest["trigger"], newest["outcome"]) == ("redeliver", "delivered")
    missing = http.post(f"/api/v1/webhooks/{sub['id']}/deliveries/msg_nope/redeliver")
    assert missing.status_code == 404


def test_slack_and_discord_formats_are_delivered_in_their_shape(
    sink: Receiver, subscribe: Subscribe, xadd: Xadd, eventually: Eventually
) -> None:
    event_type = unique_type()
    slack, discord = sink.endpoint(), sink.endpoint()
    subscribe(slack, event_types=[event_type], format="slack")
    subscribe(discord, event_types=[event_type], format="discord")
    event = make_alert(event_type)
    xadd(event)
    (to_slack,) = eventually(lambda: sink.hits(slack))
    (to_discord,) = eventually(lambda: sink.hits(discord))
    assert set(to_slack.json()) == {"text", "blocks"} and event_type in to_slack.json()["text"]
    assert to_discord.json()["embeds"][0]["description"] == event.message
    assert to_slack.headers["webhook-signature"].startswith("v1,")
