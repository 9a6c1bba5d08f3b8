"""Strided series through the real ingest path into Redis on three backends (shared Redis,
private server, Redis Cluster): keys, records, restarts, retention, alert ids."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from analyzer.core import spectrum
from analyzer.core.detectors import DetectorEvent
from analyzer.records import Alert
from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.series_bank import alert_json
from analyzer.service.store import Client, Store
from producer.wire import Kind, Message
from tests.support.seeding import handle_message

D = 8
N = 16
SERIES = [(w, s) for w in (2, 4) for s in (1, 3)]
COLLAPSE_AT_ONCE = {"plateau_min": 0.0, "plateau_windows": 1, "collapse_threshold": 1e9}


@pytest.fixture
def client(backend_client: Client) -> Client:
    """These tests run on every backend."""
    return backend_client


def _ingestor(store: Store, strides: list[int], **overrides: object) -> Ingestor:
    settings = AnalyzerSettings(windows=[2, 4], strides=strides, **overrides)  # type: ignore[arg-type]
    return Ingestor(store, settings, Counters())


def _sketches(run_id: str, xs: np.ndarray) -> list[Message]:
    return [
        Message(Kind.SKETCH, run_id, i + 1, step=5 * i, index=i, d=D, payload=x)
        for i, x in enumerate(xs)
    ]


def _begin(ingest: Ingestor, run_id: str) -> None:
    handle_message(ingest, Message(Kind.START, run_id, 0, body={"d": D}), 1.0)


def _dumps(store: Store, run_id: str, w: int, s: int) -> list[dict[str, object]]:
    return [r.model_dump(exclude={"run_id"}) for r in store.metrics(run_id, "all", w, stride=s)]


def test_each_stride_is_a_series_of_its_own(store: Store, client: Client, run_id: str) -> None:
    xs = np.random.default_rng(0).normal(size=(N, D)).cumsum(axis=0)
    plain, strided = f"{run_id}-plain", f"{run_id}-strided"
    for run, strides in ((plain, [1]), (strided, [1, 3])):
        ingest = _ingestor(store, strides)
        _begin(ingest, run)
        ingest.handle_batch(_sketches(run, xs), 2.0)
    assert store.series(strided) == [("all", w, s) for w, s in SERIES]
    names = [f"se:{{{strided}}}:metrics:all:4/3", f"se:{{{strided}}}:metrics:all:4"]
    assert client.exists(*names) == 2
    for w in (2, 4):
        assert _dumps(store, strided, w, 1) == _dumps(store, plain, w, 1)  # stride 1 unchanged
        records = store.metrics(strided, "all", w, stride=3)
        assert [(r.index, r.step, r.stride) for r in records] == [
            (i, 5 * i, 3) for i in range(3 * w, N, 3)
        ]
        multiples = xs[::3]
        for r in records:
            updates = np.diff(multiples[r.index // 3 - w : r.index // 3 + 1], axis=0)
            np.testing.assert_allclose(r.sigma, spectrum.window_metrics(updates).sigma, rtol=1e-9)
    state = client.hgetall(keys.series(strided, "all"))
    names = {b"gram", b"marks", b"det:2", b"gram/3", b"marks/3", b"at/3", b"anchor/3", b"det:4/3"}
    assert names <= state.keys()
    assert state[b"at/3"] == b"15" and state[b"frontier"] == b"15"


def test_any_order_and_a_restart_give_the_same_records(store: Store, run_id: str) -> None:
    xs = np.random.default_rng(1).normal(size=(N, D)).cumsum(axis=0)
    runs = [f"{run_id}-{k}" for k in range(2)]
    ingest = _ingestor(store, [1, 3], keep_records=2)
    _begin(ingest, runs[0])
    ingest.handle_batch(_sketches(runs[0], xs), 2.0)
    shuffled = [_sketches(runs[1], xs)[i] for i in np.random.default_rng(2).permutation(N)]
    first = _ingestor(store, [1, 3], keep_records=2)
    _begin(first, runs[1])
    first.handle_batch(shuffled[: N // 2], 2.0)
    _ingestor(store, [1, 3], keep_records=2).handle_batch(shuffled[N // 2 :], 2.0)  # a restart
    for w, s in SERIES:
        assert len(_dumps(store, runs[0], w, s)) == 2  # retention per (group, W, stride)
        assert _dumps(store, runs[1], w, s) == _dumps(store, runs[0], w, s)


def test_alerts_per_stride_and_stride_one_ids_as_before(store: Store, run_id: str) -> None:
    ingest = _ingestor(store, [1, 3], **COLLAPSE_AT_ONCE)
    _begin(ingest, run_id)
    xs = np.random.default_rng(3).normal(size=(N, D)).cumsum(axis=0)
    ingest.handle_batch(_sketches(run_id, xs), 2.0)
    collapses = [a for a in store.run_alerts(run_id) if a.type == "edge.collapse"]
    assert sorted((a.window, a.stride, a.index) for a in collapses) == [
        (2, 1, 2),
        (2, 3, 6),
        (4, 1, 4),
        (4, 3, 12),
    ]
    for a in collapses:
        if a.stride == 1:
            where = f"{run_id}\0all\0{a.window}\0{a.index}\0{a.type}\0{a.detector}"
            assert a.id == f"al_{hashlib.sha256(where.encode()).hexdigest()[:24]}"
    event = DetectorEvent("edge.collapse", 60, 12, "m", {}, "collapse", 1.0)
    ids = {
        Alert.model_validate_json(alert_json(run_id, "all", 4, event, 1.0, s)).id for s in (1, 3)
    }
    assert len(ids) == 2
