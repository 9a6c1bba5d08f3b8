"""User rules in the ingest path over a real Store on three backends: scalar and window rules
fire once (replays, two ingestors), their alerts reach the run's stream and the global one, and
stalls fire on the sweep."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from analyzer.records import Rule
from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.store import Client, Store
from producer.wire import Kind, Message
from tests.support.seeding import handle_message

D = 8


@pytest.fixture
def client(backend_client: Client) -> Client:
    """These tests run on every backend."""
    return backend_client


@pytest.fixture
def add_rule(client: Client) -> Iterator[Callable[..., Rule]]:
    """`add_rule(**fields)`: store a rule as the api does; every one added is deleted after."""
    added: list[str] = []

    def add(**fields: object) -> Rule:
        rule = Rule(id=f"rule_{uuid.uuid4().hex[:16]}", **fields)  # type: ignore[arg-type]
        client.hset(keys.RULES, rule.id, rule.model_dump_json())
        added.append(rule.id)
        return rule

    yield add
    if added:
        client.hdel(keys.RULES, *added)


def _ingestor(store: Store) -> Ingestor:
    return Ingestor(store, AnalyzerSettings(windows=[2, 4]), Counters())


def _scalars(run_id: str, seq: int, step: int, **values: float) -> Message:
    return Message(Kind.SCALARS, run_id, seq, step=step, body={"values": values})


def _types(store: Store, run_id: str) -> list[str]:
    return [a.type for a in store.run_alerts(run_id)]


def test_scalar_rules_fire_once_through_replays_and_two_ingestors(
    store: Store, run_id: str, add_rule: Callable[..., Rule]
) -> None:
    nan = add_rule(metric="train_loss", condition="nonfinite", run_id=run_id)
    add_rule(metric="train_loss", condition="above", threshold=5.0, run_id=run_id)
    add_rule(metric="train_loss", condition="nonfinite", run_id=f"{run_id}-other")
    first, second = _ingestor(store), _ingestor(store)
    handle_message(first, Message(Kind.START, run_id, 0, body={"d": D}), 1.0)
    losses = [1.0, 0.8, 7.0, float("nan"), 9.0]
    messages = [_scalars(run_id, i + 1, 10 * (i + 1), train_loss=v) for i, v in enumerate(losses)]
    for message in messages:
        for ingest in (first, second, first):  # every message twice more: a resend, a race
            ingest.handle_batch([message], 2.0)
    assert _types(store, run_id) == ["rule.above", "rule.nonfinite"]
    (alert,) = [a for a in store.run_alerts(run_id) if a.type == "rule.nonfinite"]
    assert alert.step == 40 and alert.detector == f"rule:{nan.id}"
    assert alert.evidence == {"value_nan": 1.0} and "train_loss is nan" in alert.message
    published = [
        f[b"alert"] for _, f in store.client.xrange(keys.ALERTS) if run_id.encode() in f[b"alert"]
    ]
    assert len(published) == 2


def test_window_rules_are_scoped_by_group_and_window(
    store: Store, run_id: str, add_rule: Callable[..., Rule]
) -> None:
    add_rule(metric="edge_ratio", source="window", condition="above", threshold=0.0,
             run_id=run_id, window=4)  # fmt: skip
    add_rule(metric="sigma_1", source="window", condition="above", threshold=0.0,
             run_id=run_id, group="attn")  # fmt: skip
    ingest = _ingestor(store)
    handle_message(ingest, Message(Kind.START, run_id, 0, body={"d": D}), 1.0)
    xs = np.random.default_rng(0).normal(size=(8, D)).cumsum(axis=0)
    for i, x in enumerate(xs):
        message = Message(Kind.SKETCH, run_id, i + 1, step=5 * i, index=i, d=D, payload=x)
        ingest.handle_batch([message, message], 2.0)
    alerts = [a for a in store.run_alerts(run_id) if a.type.startswith("rule.")]
    assert [(a.window, a.group, a.step) for a in alerts] == [(4, "all", 20)]
    assert "edge_ratio" in alerts[0].message and alerts[0].evidence["threshold"] == 0.0


def test_stalls_fire_on_the_sweep_once(
    store: Store, run_id: str, add_rule: Callable[..., Rule], backend: tuple[str, bool]
) -> None:
    if backend[0].endswith(":6379/0"):
        pytest.skip("the sweep walks every run: not on the shared Redis")
    add_rule(metric="val_loss", condition="stall", seconds=30, run_id=run_id)
    ingest = _ingestor(store)
    handle_message(ingest, Message(Kind.START, run_id, 0, body={"d": D}), 100.0)
    handle_message(ingest, _scalars(run_id, 1, 10, val_loss=1.0), 110.0)
    ingest.sweep(130.0)
    assert _types(store, run_id) == []
    ingest.handle_batch([Message(Kind.HEARTBEAT, run_id, 2)], 145.0)  # alive, but no val_loss
    ingest.sweep(150.0)
    ingest.sweep(160.0)
    (alert,) = store.run_alerts(run_id)
    assert alert.type == "rule.stall" and alert.step == 10
    assert alert.evidence["seconds"] == pytest.approx(40.0)
