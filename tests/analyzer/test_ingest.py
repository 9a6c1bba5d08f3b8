"""Ingest logic over a real Store: shard assembly, crash recovery, concurrent ingestors, sweeps."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import redis

from analyzer.config import AnalyzerSettings
from analyzer.errors import RejectedError
from analyzer.ingest import Ingestor, run_state
from analyzer.metrics import Counters
from analyzer.records import RunInfo, RunState
from analyzer.store import Store
from producer.wire import Kind, Message

D = 8


def _ingestor(store: Store, **overrides: object) -> Ingestor:
    settings = AnalyzerSettings(**{"windows": [2, 4], **overrides})
    return Ingestor(store, settings, Counters())


def _start(run_id: str, rank: int = 0, world: int = 1) -> Message:
    return Message(Kind.START, run_id, 0, rank=rank, world=world, body={"d": D})


def _sketch(run_id: str, seq: int, index: int, x: np.ndarray, **kw: int) -> Message:
    return Message(Kind.SKETCH, run_id, seq, step=5 * index, index=index, d=D, payload=x, **kw)


def _dumps(store: Store, run_id: str, window: int) -> list[dict[str, object]]:
    return [r.model_dump(exclude={"run_id"}) for r in store.metrics(run_id, "all", window)]


def test_run_state_policy() -> None:
    run = RunInfo(run_id="r", state=RunState.RUNNING, created_at=0.0, updated_at=100.0)
    assert run_state(run, now=150.0, timeout=60.0) is RunState.RUNNING
    assert run_state(run, now=160.5, timeout=60.0) is RunState.CRASHED
    finished = run.model_copy(update={"state": RunState.FINISHED})
    assert run_state(finished, now=1e9, timeout=60.0) is RunState.FINISHED


def test_sharded_snapshots_match_whole_ones(store: Store, run_id: str) -> None:
    ingest = _ingestor(store)
    xs = np.random.default_rng(0).normal(size=(6, D))
    whole, sharded = f"{run_id}-whole", f"{run_id}-shard"
    ingest.handle(_start(whole), 1.0)
    ingest.handle(_start(sharded, 0, 2), 1.0)
    ingest.handle(_start(sharded, 1, 2), 1.0)
    halves = np.random.default_rng(1).normal(size=(6, D))
    for i, x in enumerate(xs):
        ingest.handle(_sketch(whole, i + 1, i, x), 2.0)
        ingest.handle(_sketch(sharded, i + 1, i, x - halves[i], owners=2, world=2), 2.0)
        assert not store.metrics(sharded, "all", 2) or i >= 2
        ingest.handle(_sketch(sharded, i + 1, i, halves[i], owners=2, rank=1, world=2), 2.0)
    for window in (2, 4):
        ours, theirs = _dumps(store, whole, window), _dumps(store, sharded, window)
        assert len(ours) == 6 - window
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.pop("sigma"), b.pop("sigma"), rtol=1e-9)
            np.testing.assert_allclose(a.pop("ratios"), b.pop("ratios"), rtol=1e-9)
            assert a.keys() == b.keys() and a["index"] == b["index"]


def test_a_resend_finishes_work_a_crash_interrupted(store: Store, run_id: str) -> None:
    ingest = _ingestor(store)
    ingest.handle(_start(run_id), 1.0)
    xs = np.random.default_rng(2).normal(size=(3, D))
    for i, x in enumerate(xs):
        store.apply(_sketch(run_id, i + 1, i, x), 2.0)  # applied, then "crashed" before windows
    assert store.metrics(run_id, "all", 2) == []
    assert ingest.handle(_sketch(run_id, 3, 2, xs[2]), 3.0) is False
    assert [r.index for r in store.metrics(run_id, "all", 2)] == [2]


def test_concurrent_ingestors_record_each_window_once(
    redis_url: str, store: Store, run_id: str
) -> None:
    forced = {"plateau_min": 0.0, "plateau_windows": 1, "collapse_threshold": 1e9}
    clients = [redis.Redis.from_url(redis_url) for _ in range(2)]
    workers = [_ingestor(Store(c), **forced) for c in clients]
    workers[0].handle(_start(run_id), 1.0)
    xs = np.random.default_rng(3).normal(size=(16, D))
    messages = [_sketch(run_id, i + 1, i, x) for i, x in enumerate(xs)]

    def run(worker: Ingestor, order: list[Message]) -> None:
        for message in order:
            worker.handle(message, 2.0)

    threads = [
        threading.Thread(target=run, args=(workers[0], messages)),
        threading.Thread(target=run, args=(workers[1], messages[::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for client in clients:
        client.close()
    assert [r.index for r in store.metrics(run_id, "all", 4)] == list(range(4, 16))
    assert sum(w.counters.value("windows") for w in workers) == 14 + 12
    assert sorted((a.window, a.index) for a in store.run_alerts(run_id)) == [(2, 2), (4, 4)]


def test_sweep_marks_only_silent_running_runs(private_redis_url: str, run_id: str) -> None:
    client = redis.Redis.from_url(private_redis_url)
    store = Store(client)
    ingest = _ingestor(store, heartbeat_timeout=10.0)
    ingest.handle(_start(run_id), 100.0)
    assert run_id not in ingest.sweep(105.0)
    assert run_id in ingest.sweep(111.0)
    assert store.get_run(run_id).state is RunState.CRASHED  # type: ignore[union-attr]
    assert run_id not in ingest.sweep(200.0)
    client.close()


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        (Kind.SKETCH, {}, "unknown_run"),
        (Kind.SCALARS, {"values": {"loss": float("nan")}}, "non_finite"),
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
        ingest.handle(Message(kind, run_id, 1, d=D, body=body, payload=payload), 1.0)
    assert refused.value.reason == reason
    assert store.get_run(run_id) is None
