"""Rendezvous order and the failover policy: pure, the clock passed in."""

from __future__ import annotations

import pytest

from producer.config import ProducerConfig
from producer.errors import ConfigError
from producer.rendezvous import Route, ranked

ENDPOINTS = [f"tcp://10.0.0.{i}:5555" for i in range(1, 6)]


def test_every_rank_of_a_run_gets_the_same_order_whatever_the_list_order() -> None:
    assert ranked("run-a", ENDPOINTS) == ranked("run-a", ENDPOINTS[::-1])
    assert sorted(ranked("run-a", ENDPOINTS + ENDPOINTS[:2])) == sorted(ENDPOINTS)


def test_runs_spread_over_the_endpoints_and_removing_one_moves_only_its_runs() -> None:
    runs = [f"run-{i}" for i in range(2000)]
    first = {run: ranked(run, ENDPOINTS)[0] for run in runs}
    shares = [list(first.values()).count(e) / len(runs) for e in ENDPOINTS]
    assert min(shares) > 0.15 and max(shares) < 0.25  # about 1/5 each
    gone = ENDPOINTS[0]
    after = {run: ranked(run, ENDPOINTS[1:])[0] for run in runs}
    moved = [run for run in runs if after[run] != first[run]]
    assert moved and all(first[run] == gone for run in moved)


def test_a_route_moves_on_after_silence_with_messages_outstanding_only() -> None:
    route = Route("run-a", ENDPOINTS[:2], after=10.0)
    start = route.endpoint
    assert not route.moved(100.0)  # nothing outstanding: silence is fine
    route.waiting(100.0)
    assert not route.moved(109.0)
    route.heard(105.0, outstanding=True)  # a reply (an ack or a "wait") restarts the clock
    assert not route.moved(114.0)
    assert route.moved(115.0) and route.endpoint != start and route.moves == 1
    assert not route.moved(116.0)  # the new endpoint gets its own `after`
    assert route.moved(125.0) and route.endpoint == start  # round the list
    route.heard(126.0, outstanding=False)
    assert not route.moved(1000.0)


def test_one_endpoint_never_moves() -> None:
    route = Route("run-a", ENDPOINTS[:1], after=1.0)
    route.waiting(0.0)
    assert not route.moved(100.0)


def test_the_endpoint_setting_takes_a_comma_separated_list() -> None:
    config = ProducerConfig(endpoint="tcp://a:1, tcp://b:2")
    assert config.endpoints == ("tcp://a:1", "tcp://b:2")
    with pytest.raises(ConfigError, match="not a URL"):
        ProducerConfig(endpoint="tcp://a:1,b")
    with pytest.raises(ConfigError, match="failover_after"):
        ProducerConfig(failover_after=0)
