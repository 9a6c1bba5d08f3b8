"""Ingest over a real Store on three backends: any order, duplicates, gaps, shards, timeouts,
retention, crash recovery, concurrent ingestors and scalar detectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from analyzer.core import spectrum
from analyzer.errors import RejectedError
from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.scripts import apply_calls
from analyzer.service.store import Client, Store, connect
from producer.wire import Kind, Message
from tests.analyzer.conftest import Backend
from tests.support.seeding import handle_message

D = 8
N = 16
COLLAPSE_AT_ONCE = {"plateau_min": 0.0, "plateau_windows": 1, "collapse_threshold": 1e9}


@pytest.fixture
def client(backend_client: Client) -> Client:
    """These tests run on every backend."""
    return backend_client


def _ingestor(store: Store, **overrides: object) -> Ingestor:
    settings = AnalyzerSettings(**{"windows": [2, 4], **overrides})
    return Ingestor(store, settings, Counters())


def _start(run_id: str, rank: int = 0, world: int = 1) -> Message:
    return Message(Kind.START, run_id, 0, rank=rank, world=world, body={"d": D})


def _sketch(run_id: str, seq: int, index: int, x: np.ndarray, **kw: int) -> Message:
    return Message(Kind.SKETCH, run_id, seq, step=5 * index, index=index, d=D, payload=x, **kw)


def _walk(seed: int, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, D)).cumsum(axis=0)


def _dumps(store: Store, run_id: str, window: int) -> list[dict[str, object]]:
    return [r.model_dump(exclude={"run_id"}) for r in store.metrics(run_id, "all", window)]


def _deliver(ingest: Ingestor, messages: list[Message], seed: int, now: float = 2.0) -> None:
    """Deliver in random batches of 1..7 messages."""
    rng, start = np.random.default_rng(seed), 0
    while start < len(messages):
        size = int(rng.integers(1, 8))
        ingest.handle_batch(messages[start : start + size], now)
        start += size


def test_any_order_and_duplicates_give_the_in_order_records(store: Store, run_id: str) -> None:
    ingest = _ingestor(store)
    xs = _walk(0)
    runs = [f"{run_id}-{k}" for k in range(3)]
    for k, run in enumerate(runs):
        sketches = [_sketch(run, i + 1, i, x) for i, x in enumerate(xs)]
        if k:
            rng = np.random.default_rng(k)
            sketches = [sketches[i] for i in rng.permutation(N)] + sketches[:: 2 + k]
        handle_message(ingest, _start(run), 1.0)
        _deliver(ingest, sketches, seed=k)
    for window in (2, 4):
        reference = _dumps(store, runs[0], window)
        assert [r["index"] for r in reference] == list(range(window, N))
        assert all(_dumps(store, run, window) == reference for run in runs[1:])
        for row in reference:
            end = int(row["index"])  # type: ignore[call-overload]
            ref = spectrum.window_metrics(np.diff(xs[end - window : end + 1], axis=0))
            np.testing.assert_allclose(row["sigma"], ref.sigma, rtol=1e-9)  # type: ignore[arg-type]


def test_gaps_are_skipped_after_the_timeout_and_flagged(store: Store, run_id: str) -> None:
    ingest = _ingestor(store, gap_timeout=10.0)
    xs = _walk(1)
    runs = [f"{run_id}-in-order", f"{run_id}-shuffled"]
    for k, run in enumerate(runs):
        sketches = [_sketch(run, i + 1, i, x) for i, x in enumerate(xs) if i != 6]
        if k:
            sketches = [sketches[i] for i in np.random.default_rng(7).permutation(len(sketches))]
        handle_message(ingest, _start(run), 1.0)
        _deliver(ingest, sketches, seed=k)
        assert [r.index for r in store.metrics(run, "all", 2)] == [2, 3, 4, 5]
        ingest.expire(run, now=5.0)
        assert len(store.metrics(run, "all", 2)) == 4
        ingest.expire(run, now=12.5)
    assert _dumps(store, runs[0], 4) == _dumps(store, runs[1], 4)
    records = store.metrics(runs[0], "all", 2)
    assert [r.index for r in records] == [2, 3, 4, 5, *range(7, N)]
    assert [r.index for r in records if "gap" in r.flags] == [7, 8]
    updates = np.diff(xs[[4, 5, 7]], axis=0)
    np.testing.assert_allclose(records[4].sigma, spectrum.window_metrics(updates).sigma, rtol=1e-9)
    assert ingest.counters.value("gaps") == 2
    assert handle_message(ingest, _sketch(runs[0], 7, 6, xs[6]), 20.0) is False
    assert ingest.counters.value("late") == 1


def test_sharded_snapshots_match_whole_ones(store: Store, run_id: str) -> None:
    ingest = _ingestor(store)
    xs = _walk(2, 6)
    whole, sharded = f"{run_id}-whole", f"{run_id}-shard"
    handle_message(ingest, _start(whole), 1.0)
    handle_message(ingest, _start(sharded, 0, 2), 1.0)
    handle_message(ingest, _start(sharded, 1, 2), 1.0)
    halves = np.random.default_rng(1).normal(size=(6, D))
    for i, x in enumerate(xs):
        handle_message(ingest, _sketch(whole, i + 1, i, x), 2.0)
        handle_message(ingest, _sketch(sharded, i + 1, i, x - halves[i], owners=2, world=2), 2.0)
        handle_message(
            ingest, _sketch(sharded, i + 1, i, halves[i], owners=2, rank=1, world=2), 2.0
        )
    for window in (2, 4):
        ours, theirs = _dumps(store, whole, window), _dumps(store, sharded, window)
        assert len(ours) == 6 - window
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.pop("sigma"), b.pop("sigma"), rtol=1e-9)  # type: ignore[arg-type]
            assert a["index"] == b["index"] and a["flags"] == b["flags"] == []


def test_assembly_timeout_stores_an_incomplete_snapshot(store: Store, run_id: str) -> None:
    ingest = _ingestor(store, assembly_timeout=30.0)
    xs = _walk(3, 6)
    handle_message(ingest, _start(run_id, 0, 2), 1.0)
    for i, x in enumerate(xs):
        handle_message(ingest, _sketch(run_id, i + 1, i, x / 2, owners=2, world=2), 2.0)
        if i != 3:
            handle_message(ingest, _sketch(run_id, i + 1, i, x / 2, owners=2, rank=1, world=2), 2.0)
    assert [r.index for r in store.metrics(run_id, "all", 2)] == [2]
    ingest.expire(run_id, now=40.0)
    records = store.metrics(run_id, "all", 2)
    assert [(r.index, r.flags) for r in records] == [
        (2, []),
        (3, ["incomplete"]),
        (4, ["incomplete"]),
        (5, ["incomplete"]),
    ]
    assert ingest.counters.value("assembly_timeouts") == 1
    late = _sketch(run_id, 4, 3, xs[3] / 2, owners=2, rank=1, world=2)
    assert handle_message(ingest, late, 41.0) is False
    assert ingest.counters.value("late") == 1


def test_retention_keeps_the_newest_records(store: Store, run_id: str) -> None:
    ingest = _ingestor(store, keep_records=3)
    handle_message(ingest, _start(run_id), 1.0)
    _deliver(ingest, [_sketch(run_id, i + 1, i, x) for i, x in enumerate(_walk(4))], seed=4)
    assert [r.index for r in store.metrics(run_id, "all", 2)] == [13, 14, 15]
    assert store.client.hlen(keys.snapshots(run_id, "all")) == 0


def test_a_resend_finishes_work_a_crash_interrupted(store: Store, run_id: str) -> None:
    ingest = _ingestor(store)
    handle_message(ingest, _start(run_id), 1.0)
    xs = _walk(5, 3)
    sketches = [_sketch(run_id, i + 1, i, x) for i, x in enumerate(xs)]
    store.run(apply_calls(sketches, 2.0, ingest.limits(2.0)))  # applied, then "crashed"
    assert store.metrics(run_id, "all", 2) == []
    assert [handle_message(ingest, m, 3.0) for m in sketches] == [False, False, False]
    assert [r.index for r in store.metrics(run_id, "all", 2)] == [2]


def test_concurrent_ingestors_record_each_window_once(
    backend: Backend, store: Store, run_id: str
) -> None:
    clients = [connect(*backend) for _ in range(2)]
    workers = [_ingestor(Store(c), **COLLAPSE_AT_ONCE) for c in clients]
    handle_message(workers[0], _start(run_id), 1.0)
    messages = [_sketch(run_id, i + 1, i, x) for i, x in enumerate(_walk(6))]
    threads = [
        threading.Thread(target=_deliver, args=(workers[0], messages, 0)),
        threading.Thread(target=_deliver, args=(workers[1], messages[::-1], 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for c in clients:
        c.close()
    assert [r.index for r in store.metrics(run_id, "all", 4)] == list(range(4, N))
    assert sum(w.counters.value("windows") for w in workers) == (N - 2) + (N - 4)
    collapses = [a for a in store.run_alerts(run_id) if a.type == "edge.collapse"]
    assert sorted((a.window, a.index) for a in collapses) == [(2, 2), (4, 4)]


def test_scalar_detectors_alert_once_and_reach_the_global_stream(
    store: Store, client: Client, run_id: str
) -> None:
    ingest = _ingestor(store)
    handle_message(ingest, _start(run_id), 1.0)
    accuracies = [0.1, 0.3, 0.95, 0.97]
    logged = [
        Message(Kind.SCALARS, run_id, i + 1, step=100 * i, body={"values": {"test_acc": a}})
        for i, a in enumerate(accuracies)
    ]
    ingest.handle_batch(logged[::-1] + logged, 2.0)
    alerts = store.run_alerts(run_id)
    assert [(a.type, a.step) for a in alerts] == [("grokking.generalized", 200)]
    stream = client.xrevrange(keys.ALERTS, count=200)
    assert [f[b"alert"] for _, f in stream if run_id.encode() in f[b"alert"]] == [
        alerts[0].model_dump_json().encode()
    ]


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        (Kind.SKETCH, {}, "unknown_run"),
        (Kind.SCALARS, {"values": {"loss": 1.0}, "extra": float("nan")}, "non_finite"),
        (Kind.SCALARS, {"values": {"loss": "low"}}, "bad_field"),
        (Kind.SCALARS, {"values": [1.0]}, "bad_field"),
        (Kind.START, {"config": {"lr": float("inf")}}, "non_finite"),
        (Kind.START, {"config": {"blob": b"raw"}}, "bad_field"),
    ],
)
def test_refusals_raise_with_a_reason(
    store: Store, run_id: str, kind: Kind, body: dict[str, object], reason: str
) -> None:
    ingest = _ingestor(store)
    payload = np.zeros(D) if kind is Kind.SKETCH else None
    with pytest.raises(RejectedError) as refused:
        handle_message(ingest, Message(kind, run_id, 1, d=D, body=body, payload=payload), 1.0)
    assert refused.value.reason == reason
    assert store.get_run(run_id) is None


def test_sketches_that_would_overflow_the_gram_are_refused(store: Store, run_id: str) -> None:
    ingest = _ingestor(store)
    handle_message(ingest, _start(run_id), 1.0)
    huge = np.full(D, 1e200)
    with pytest.raises(RejectedError) as refused:
        handle_message(ingest, _sketch(run_id, 1, 0, huge), 2.0)
    assert refused.value.reason == "out_of_range"
    assert handle_message(ingest, _sketch(run_id, 1, 0, np.ones(D)), 2.0) is True
