"""Several analyzer services (real ROUTER sockets, one endpoint each) on one stream give exactly
the records and alerts of one analyzer: Redis, not luck, keeps them correct."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

from analyzer.service.server import AnalyzerService
from analyzer.service.store import Client
from tests.analyzer.conftest import Backend
from tests.support.producers import deliver, walk_stream

RUNS, N, D = 3, 40, 16
WINDOWS = (3, 5)


def _feed(endpoints: list[str], run: str, seed: int) -> None:
    messages = walk_stream(run, N, D, seed)
    deliver(endpoints, messages[:1])
    rng = np.random.default_rng(seed)
    body = [messages[1:][i] for i in rng.permutation(N)]
    deliver(endpoints, body + body[::3])


def _records(service: AnalyzerService, run: str) -> list[list[dict[str, object]]]:
    return [
        [r.model_dump(exclude={"run_id"}) for r in service.store.metrics(run, "all", w)]
        for w in WINDOWS
    ]


@pytest.fixture
def client(backend_client: Client) -> Client:
    """These tests run on every backend (run ids are cleaned up there)."""
    return backend_client


@pytest.mark.parametrize("analyzers", [2, 3])
def test_several_analyzers_give_the_records_of_one(
    make_service: Callable[..., AnalyzerService], backend: Backend, run_id: str, analyzers: int
) -> None:
    url, cluster = backend
    settings = {"redis_url": url, "redis_cluster": cluster, "plateau_min": 0.0,
                "plateau_windows": 1, "collapse_threshold": 1e9}  # fmt: skip
    one = make_service(**settings)
    many = [make_service(**settings) for _ in range(analyzers)]
    for label, services in (("one", [one]), ("many", many)):
        endpoints = [s.endpoint for s in services]
        threads = [
            threading.Thread(target=_feed, args=(endpoints, f"{run_id}-{label}-{k}", k))
            for k in range(RUNS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
    for k in range(RUNS):
        ours, theirs = f"{run_id}-one-{k}", f"{run_id}-many-{k}"
        assert [len(w) for w in _records(one, ours)] == [N - w for w in WINDOWS]
        assert _records(one, ours) == _records(one, theirs)
        alerts = [
            [(a.type, a.window, a.index) for a in one.store.run_alerts(r)] for r in (ours, theirs)
        ]
        assert sorted(alerts[0]) == sorted(alerts[1]) and ("edge.collapse", 3, 3) in alerts[0]
    windows = sum(s.counters.value("windows") for s in many)
    assert windows == RUNS * sum(N - w for w in WINDOWS)
    assert all(s.counters.value("received") > 0 for s in many)
