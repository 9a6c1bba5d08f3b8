"""Runs no data reached: removed with every key and registry entry after the TTL, on the three
backends; runs that sent sketches or scalars are never removed; unknown runs leave no key."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.records import RunInfo
from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.store import Client, Store, connect
from producer.wire import Kind, Message

D = 8


@pytest.fixture
def client(backend_client: Client) -> Client:
    """These tests run on every backend."""
    return backend_client


def _ingestor(store: Store, **overrides: object) -> Ingestor:
    return Ingestor(
        store, AnalyzerSettings.model_validate({"windows": [2], **overrides}), Counters()
    )


def _start(run_id: str, rank: int = 0, world: int = 1, seq: int = 1_000) -> Message:
    return Message(Kind.START, run_id, seq, rank=rank, world=world, body={"d": D})


def _sketches(run_id: str, n: int = 4) -> list[Message]:
    xs = np.random.default_rng(0).normal(size=(n, D))
    return [
        Message(Kind.SKETCH, run_id, 1_001 + i, step=i, index=i, d=D, payload=x)
        for i, x in enumerate(xs)
    ]


def _scalars(run_id: str) -> Message:
    return Message(Kind.SCALARS, run_id, 1_001, step=3, body={"values": {"loss": 0.5}})


def _keys_of(client: Client, run_id: str) -> list[bytes]:
    return sorted(client.scan_iter(match=f"se:{{{keys.glob_literal(run_id)}}}:*", count=1000))


def _info(store: Store, run_id: str) -> RunInfo:
    run = store.get_run(run_id)
    assert run is not None
    return run


def test_only_the_run_no_data_reached_is_removed_with_all_its_keys(
    client: Client, run_id: str
) -> None:
    store = Store(client)
    ingest = _ingestor(store)
    empty, sketched, logged = f"{run_id}-empty", f"{run_id}-sketched", f"{run_id}-logged"
    two_ranks = [_start(empty, rank=0, world=2), _start(empty, rank=1, world=2, seq=2_000)]
    ingest.handle_batch(two_ranks, 1.0)
    ingest.handle_batch([_start(sketched), *_sketches(sketched)], 1.0)
    ingest.handle_batch([_start(logged)], 1.0)
    ingest.handle_batch([_scalars(logged)], 2.0)
    assert len(_keys_of(client, empty)) == 4  # meta, lease and two ranks' seen SETs
    runs = [_info(store, r) for r in (empty, sketched, logged)]
    assert store.remove_empty(runs) == [empty]
    assert _keys_of(client, empty) == []
    assert client.zscore(keys.RUNS, empty) is None
    for kept in (sketched, logged):
        assert client.zscore(keys.RUNS, kept) == 1.0
        assert store.get_run(kept) is not None
    assert [r.index for r in store.metrics(sketched, "all", 2)] == [2, 3]
    assert store.scalars(logged) == [{"step": 3, "values": {"loss": 0.5}}]


def test_a_run_that_spoke_since_it_was_read_is_kept(client: Client, run_id: str) -> None:
    store = Store(client)
    ingest = _ingestor(store)
    ingest.handle_batch([_start(run_id)], 1.0)
    as_read = _info(store, run_id)
    ingest.handle_batch(
        [Message(Kind.SKETCH, run_id, 1_001, index=0, d=D, payload=np.ones(D))], 2.0
    )
    assert store.remove_empty([as_read]) == []
    heartbeat = f"{run_id}-heartbeat"
    ingest.handle_batch([_start(heartbeat)], 1.0)
    as_read = _info(store, heartbeat)
    ingest.handle_batch([Message(Kind.HEARTBEAT, heartbeat, 1_001)], 2.0)
    assert store.remove_empty([as_read]) == []  # a new rank could have come with it: next sweep
    assert store.remove_empty([_info(store, heartbeat)]) == [heartbeat]


def test_a_run_recreated_before_its_registry_entry_goes_stays_registered(
    client: Client, run_id: str
) -> None:
    store = Store(client)
    _ingestor(store).handle_batch([_start(run_id)], 5.0)
    store.unregister([run_id])  # as if removed, then re-created by a START before this ZREM
    assert client.zscore(keys.RUNS, run_id) == 5.0


def test_messages_for_unknown_runs_leave_no_key(client: Client, run_id: str) -> None:
    outcomes = _ingestor(Store(client)).handle_batch(
        [
            *_sketches(run_id, 2),
            _scalars(run_id),
            Message(Kind.HEARTBEAT, run_id, 7, body={"base": 5}),
            Message(Kind.FINISH, run_id, 8, rank=1),
        ],
        1.0,
    )
    assert [v.outcome for v in outcomes] == ["unknown_run"] * 5
    assert _keys_of(client, run_id) == []


def test_the_sweep_removes_empty_runs_after_the_ttl_only() -> None:
    with EmbeddedRedis() as server:  # the sweep reads every run: a private server
        client = connect(server.url)
        ingest = _ingestor(Store(client), empty_run_ttl=10.0, heartbeat_timeout=5.0)
        ingest.handle_batch([_start("empty"), _start("active"), _start("done")], 100.0)
        ingest.handle_batch([*_sketches("active"), _scalars("done")], 101.0)
        ingest.handle_batch([Message(Kind.FINISH, "done", 1_002)], 102.0)
        ingest.sweep(109.0)
        assert ingest.store.get_run("empty") is not None  # within the TTL
        ingest.sweep(110.0)
        assert sorted(r.run_id for r in ingest.store.list_runs()) == ["active", "done"]
        assert client.keys("se:{empty}:*") == [] and client.zscore(keys.RUNS, "empty") is None
        ingest.sweep(10_000.0)  # long after: the runs that spoke stay, crashed or finished
        assert sorted(r.run_id for r in ingest.store.list_runs()) == ["active", "done"]
        assert ingest.counters.value("runs_removed") == 1
        client.close()
