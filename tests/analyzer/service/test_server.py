"""The service end to end: real DEALER sockets speaking producer.wire, the machine's Redis."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis
import zmq

from analyzer.errors import AnalyzerError
from analyzer.records import RunState
from analyzer.service import keys
from analyzer.service.server import AnalyzerService
from producer import wire
from producer.wire import Kind, Message

D = 32
N = 12
WINDOWS = (3, 5)
MakeService = Callable[..., AnalyzerService]


class Dealer:
    """A test-side producer socket speaking producer.wire to one analyzer endpoint."""

    def __init__(self, context: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self.sock = context.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def send(self, message: wire.Message) -> None:
        """Encode and send one message."""
        self.send_frames(wire.encode(message))

    def send_frames(self, frames: list[bytes]) -> None:
        """Send raw frames, valid or not."""
        self.sock.send_multipart(frames)

    def acks(self, expected: int, timeout: float = 10.0, until: int | None = None) -> list[int]:
        """Collect acknowledged seqs until `expected` (or seq `until`) arrived, or `timeout`."""
        seqs: list[int] = []
        deadline = time.monotonic() + timeout
        while len(seqs) < expected and until not in seqs and time.monotonic() < deadline:
            if self.sock.poll(50):
                seqs += wire.decode_ack(self.sock.recv_multipart()).seqs
        return seqs


@pytest.fixture
def dealer(zmq_context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[Callable[[str], Dealer]]:
    """Factory of DEALER sockets connected to an endpoint; all are closed afterwards."""
    made: list[Dealer] = []

    def make(endpoint: str) -> Dealer:
        made.append(Dealer(zmq_context, endpoint))
        return made[-1]

    yield make
    for sender in made:
        sender.sock.close(linger=0)


MakeDealer = Callable[[str], Dealer]


def _start(run_id: str) -> Message:
    body = {"project": "svc", "every": 10, "d": D, "seed": 0, "method": "countsketch"}
    return Message(Kind.START, run_id, 0, body=body)


def _sketches(run_id: str, xs: np.ndarray) -> list[Message]:
    return [
        Message(Kind.SKETCH, run_id, 1 + i, step=10 * i, index=i, d=D, payload=x)
        for i, x in enumerate(xs)
    ]


def _reference(xs: np.ndarray, window: int, end: int) -> dict[str, object]:
    """Section-7 metrics straight from numpy (weighted rule, documented ratio floor)."""
    u = np.diff(xs[end - window : end + 1], axis=0)
    sigma = np.linalg.svd(u, compute_uv=False)
    floored = np.maximum(sigma, 1e-6 * sigma[0])
    ratios = floored[:-1] / floored[1:]
    k = int(np.argmax(sigma[:-1] / sigma.sum() * ratios)) + 1
    lam = sigma**2
    return {
        "sigma": sigma,
        "ratios": ratios,
        "edge_ratio": ratios[k - 1],
        "gap": lam[k - 1] - lam[k],
        "energy": lam / lam.sum(),
        "drift_speed": np.linalg.norm(u.mean(axis=0)),
        "weighted": k,
    }


def _send_all(dealer: Dealer, messages: list[Message]) -> list[int]:
    for message in messages:
        dealer.send(message)
    return dealer.acks(len(messages))


def test_metrics_equal_numpy_on_the_same_sketches(
    make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service()
    assert service.endpoint.startswith("tcp://127.0.0.1:")
    xs = np.random.default_rng(0).normal(size=(N, D)).cumsum(axis=0)
    acks = _send_all(dealer(service.endpoint), [_start(run_id), *_sketches(run_id, xs)])
    assert sorted(acks) == list(range(N + 1))
    for window in WINDOWS:
        records = service.store.metrics(run_id, "all", window)
        assert [r.index for r in records] == list(range(window, N))
        for record in records:
            ref = _reference(xs, window, record.index)
            assert record.step == 10 * record.index
            assert record.k_star.weighted == ref["weighted"]
            for name in ("sigma", "ratios", "edge_ratio", "gap", "energy", "drift_speed"):
                np.testing.assert_allclose(getattr(record, name), ref[name], rtol=1e-9)
    run = service.store.get_run(run_id)
    assert run is not None and run.state is RunState.RUNNING and run.project == "svc"
    assert service.counters.value("windows") == (N - 3) + (N - 5)


def test_duplicates_and_reversed_order_give_identical_records(
    make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service()
    xs = np.random.default_rng(1).normal(size=(N, D))
    forward, backward = f"{run_id}-fwd", f"{run_id}-bwd"
    _send_all(dealer(service.endpoint), [_start(forward), *_sketches(forward, xs)])
    shuffled = _sketches(backward, xs)[::-1]
    messages = [_start(backward), *[m for m in shuffled for _ in range(2)]]
    assert sorted(_send_all(dealer(service.endpoint), messages)) == sorted(
        [0, *[m.seq for m in shuffled] * 2]
    )
    assert service.counters.value("duplicate", "sketch") == N
    for window in WINDOWS:
        ours = service.store.metrics(forward, "all", window)
        theirs = service.store.metrics(backward, "all", window)
        assert len(ours) == N - window
        assert [r.model_dump(exclude={"run_id"}) for r in ours] == [
            r.model_dump(exclude={"run_id"}) for r in theirs
        ]


def test_bad_frames_are_rejected_and_counted(
    make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service()
    sender = dealer(service.endpoint)
    sender.send_frames([b"\xc1garbage"])
    sender.send_frames([b"a", b"b", b"c"])
    unknown = Message(Kind.SKETCH, run_id, 5, d=D, payload=np.zeros(D))
    sender.send(unknown)
    assert _send_all(sender, [_start(run_id)]) == [0]
    wrong_d = Message(Kind.SKETCH, run_id, 1, d=D + 1, payload=np.zeros(D + 1))
    sender.send(wrong_d)
    sender.send(Message(Kind.HEARTBEAT, run_id, 7))  # processed in order: its ack is a barrier
    assert sender.acks(1, until=7) == [7]
    counts = service.counters.snapshot()["rejected"]
    assert counts == {"bad_header": 1, "bad_frames": 1, "unknown_run": 1, "dim_mismatch": 1}
    assert sorted(_send_all(sender, _sketches(run_id, np.ones((2, D))))) == [1, 2]


def test_an_internal_error_costs_one_counter(
    make_service: MakeService, dealer: MakeDealer, run_id: str, client: redis.Redis
) -> None:
    first = make_service()
    sketches = _sketches(run_id, np.ones((4, D)))
    assert sorted(_send_all(dealer(first.endpoint), [_start(run_id), *sketches[1:3]])) == [0, 2, 3]
    first.stop()
    client.hset(keys.snapshots(run_id, "all"), "1", b"short")  # the next analyzer must read it
    second = make_service()
    sender = dealer(second.endpoint)
    for message in [sketches[0], sketches[3], Message(Kind.HEARTBEAT, run_id, 9)]:
        sender.send(message)
    assert sender.acks(3, until=9) == [4, 9]  # index 0 starts the series, which fails on 1
    assert second.counters.value("rejected", "internal") == 1


def test_collapse_alert_reaches_both_streams_once(
    make_service: MakeService, dealer: MakeDealer, run_id: str, client: redis.Redis
) -> None:
    service = make_service(plateau_min=0.0, plateau_windows=1, collapse_threshold=1e9)
    sender = dealer(service.endpoint)
    messages = [_start(run_id), *_sketches(run_id, np.random.default_rng(2).normal(size=(N, D)))]
    _send_all(sender, messages + messages[1:])
    alerts = service.store.run_alerts(run_id)
    collapses = [(a.window, a.index) for a in alerts if a.type == "edge.collapse"]
    assert sorted(collapses) == [(3, 3), (5, 5)]
    assert len({a.id for a in alerts}) == len(alerts)
    stream = client.xrevrange(keys.ALERTS, count=1000)
    mine = [f[b"alert"] for _, f in stream if f'"run_id":"{run_id}"'.encode() in f[b"alert"]]
    assert sorted(mine) == sorted(a.model_dump_json().encode() for a in alerts)
    assert service.counters.value("alerts", "edge.collapse") == 2


def test_silent_runs_are_marked_crashed(
    make_service: MakeService, dealer: MakeDealer, run_id: str, private_redis_url: str
) -> None:
    service = make_service(redis_url=private_redis_url, heartbeat_timeout=0.2, sweep_interval=0.05)
    _send_all(dealer(service.endpoint), [_start(run_id)])
    deadline = time.monotonic() + 5.0
    while service.store.get_run(run_id).state is not RunState.CRASHED:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _send_all(dealer(service.endpoint), [Message(Kind.HEARTBEAT, run_id, 1)]) == [1]
    assert service.store.get_run(run_id).state is RunState.RUNNING  # type: ignore[union-attr]


def test_start_fails_cleanly_on_a_taken_port(make_service: MakeService, redis_url: str) -> None:
    service = make_service()
    with pytest.raises(AnalyzerError):
        make_service(bind=service.endpoint)
    assert wire.decode_ack(wire.encode_ack([1])).seqs == [1]


def test_stop_finishes_the_batch_in_flight(
    make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service()
    sender = dealer(service.endpoint)
    _send_all(sender, [_start(run_id)])
    for message in _sketches(run_id, np.random.default_rng(3).normal(size=(200, D))):
        sender.send(message)
    while service.counters.value("received") < 2:
        time.sleep(0.001)
    service.stop()
    counts = service.counters.snapshot()
    handled = sum(sum(counts.get(k, {}).values()) for k in ("applied", "duplicate", "rejected"))
    assert handled == service.counters.value("received") >= 2
    applied = service.counters.value("applied", "sketch")
    acked = sender.acks(applied, timeout=5.0)  # the batch's acks left before the socket closed
    assert len(acked) == applied and set(acked) <= set(range(1, 201))
