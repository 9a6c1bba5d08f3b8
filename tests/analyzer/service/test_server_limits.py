"""Limits under abuse, end to end: real DEALER sockets (plain and CURVE, from chosen loopback
addresses) and real producer Senders against a running analyzer on a real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import redis
import zmq

from analyzer.service import keys
from analyzer.service.server import AnalyzerService
from producer import wire
from producer.transport import Sender
from producer.wire import Kind, Message
from tests.support.polling import eventually
from tests.support.producers import sending

D = 8
N = 12
MakeService = Callable[..., AnalyzerService]
Curve = tuple[bytes, bytes, bytes]  # server public key, client public key, client secret key


class Dealer:
    """A producer-side socket from loopback address `source`, a CURVE client when `curve`."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        source: str = "127.0.0.1",
        curve: Curve | None = None,
    ) -> None:
        self.sock = context.socket(zmq.DEALER)
        self.sock.linger = 0
        if curve is not None:
            self.sock.curve_serverkey, self.sock.curve_publickey, self.sock.curve_secretkey = curve
        self.sock.connect(f"tcp://{source}:0;{endpoint.removeprefix('tcp://')}")

    def starts(self, run_ids: list[str], project: str) -> list[int]:
        """Send a START (seq i) for each run id; the seqs acknowledged within a second."""
        for seq, run in enumerate(run_ids):
            self.sock.send_multipart(wire.encode(_start(run, project, seq)))
        acked: list[int] = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if self.sock.poll(50):
                acked += wire.decode_ack(self.sock.recv_multipart()).seqs
        return sorted(acked)


@pytest.fixture
def dealer(zmq_context: zmq.Context[zmq.Socket[bytes]]) -> Iterator[Callable[..., Dealer]]:
    """Factory of Dealers; all are closed afterwards."""
    made: list[Dealer] = []

    def make(endpoint: str, source: str = "127.0.0.1", curve: Curve | None = None) -> Dealer:
        made.append(Dealer(zmq_context, endpoint, source, curve))
        return made[-1]

    yield make
    for each in made:
        each.sock.close(linger=0)


MakeDealer = Callable[..., Dealer]


def _start(run_id: str, project: str, seq: int = 0) -> Message:
    return Message(Kind.START, run_id, seq, body={"d": D, "project": project})


def _curve_client(server_public: bytes) -> Curve:
    public, secret = zmq.curve_keypair()
    return server_public, public, secret


def _real_run(endpoint: str, run_id: str, project: str, heartbeat: float = 5.0) -> Sender:
    """A real producer Sender that sent its START and N sketches of a random walk."""
    walk = np.random.default_rng(0).normal(size=(N, D)).cumsum(axis=0)
    return sending(endpoint, run_id, walk, {"d": D, "project": project}, heartbeat=heartbeat)


def test_new_runs_beyond_the_project_cap_are_refused_until_a_slot_frees(
    private_redis_url: str, make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service(redis_url=private_redis_url, max_active_runs=2, sweep_interval=0.2)
    producer = dealer(service.endpoint)
    runs = [f"{run_id}-{i}" for i in range(3)]
    assert producer.starts(runs, "capped") == [0, 1]
    assert service.counters.value("rejected", "project_full") == 1
    assert service.store.get_run(runs[2]) is None
    assert producer.starts([f"{run_id}-other"], "elsewhere") == [0]  # its own project's cap
    restarted = dealer(service.endpoint)
    assert restarted.starts(runs[:1], "capped") == [0]  # a START of an existing run always passes
    producer.sock.send_multipart(wire.encode(Message(Kind.FINISH, runs[0], 10)))
    eventually(lambda: service.counters.value("applied", "finish") == 1)
    time.sleep(1.0)  # sweeps recount the project's running runs
    assert dealer(service.endpoint).starts(runs[2:], "capped") == [0]
    assert service.counters.value("rejected", "project_full") == 1


def test_the_rate_limit_counts_per_curve_key(
    make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    server_public, server_secret = zmq.curve_keypair()
    service = make_service(curve_secret_key=server_secret.decode(), new_runs_per_minute=2)
    eager = dealer(service.endpoint, curve=_curve_client(server_public))
    other = dealer(service.endpoint, curve=_curve_client(server_public))  # same address
    assert eager.starts([f"{run_id}-a{i}" for i in range(4)], "p") == [0, 1]
    assert other.starts([f"{run_id}-b{i}" for i in range(2)], "p") == [0, 1]
    assert service.counters.snapshot()["rejected"] == {"rate_limited": 2}


def test_the_rate_limit_counts_per_peer_address_without_curve(
    make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service(new_runs_per_minute=2, sweep_interval=0.2, registry_refresh=0.2)
    first = dealer(service.endpoint, source="127.0.0.2")
    assert first.starts([f"{run_id}-a{i}" for i in range(3)], "p") == [0, 1]
    again = dealer(service.endpoint, source="127.0.0.2")  # a new connection, the same address
    assert again.starts([f"{run_id}-c0"], "p") == []
    elsewhere = dealer(service.endpoint, source="127.0.0.3")
    assert elsewhere.starts([f"{run_id}-b{i}" for i in range(2)], "p") == [0, 1]
    assert service.counters.snapshot()["rejected"] == {"rate_limited": 2}
    tracked = "se_analyzer_rate_identities"  # both addresses, refreshed at each recount
    eventually(lambda: service.counters.registry.get_sample_value(tracked) == 2)


def test_real_runs_are_served_while_a_flood_is_refused(
    make_service: MakeService, dealer: MakeDealer, client: redis.Redis, run_id: str
) -> None:
    service = make_service(new_runs_per_minute=5)
    flood = dealer(service.endpoint, source="127.0.0.2")
    real = [_real_run(service.endpoint, f"{run_id}-real{k}", "shared") for k in range(2)]
    made_up = [f"{run_id}-flood{i}" for i in range(300)]
    for seq, run in enumerate(made_up):
        flood.sock.send_multipart(wire.encode(_start(run, "shared", 1_000 + seq)))
    for sender in real:
        sender.close(timeout=10.0)
        assert sender.pending == 0
    eventually(lambda: service.counters.value("rejected", "rate_limited") == 295)
    for k in range(2):
        for window in (3, 5):
            records = service.store.metrics(f"{run_id}-real{k}", "all", window)
            assert [r.index for r in records] == list(range(window, N))
    registered = [m for m, _ in client.zscan_iter(keys.RUNS, match=f"{run_id}-flood*")]
    assert len(registered) == 5
    flood_keys = list(client.scan_iter(match=f"se:{{{run_id}-flood*", count=1000))
    assert len(flood_keys) == 5 * 3  # each admitted run: its meta, lease and rank's seen SET


def test_empty_runs_are_removed_after_the_ttl_while_active_ones_stay(
    private_redis_url: str, make_service: MakeService, dealer: MakeDealer, run_id: str
) -> None:
    service = make_service(redis_url=private_redis_url, empty_run_ttl=1.0, sweep_interval=0.2)
    active = _real_run(service.endpoint, f"{run_id}-active", "p", heartbeat=0.2)
    empty = dealer(service.endpoint)
    assert empty.starts([f"{run_id}-empty"], "p") == [0]
    eventually(lambda: service.store.get_run(f"{run_id}-empty") is None, timeout=10.0)
    time.sleep(1.5)  # more TTLs go by: the run that sent sketches stays
    assert service.store.get_run(f"{run_id}-active") is not None
    assert [r.index for r in service.store.metrics(f"{run_id}-active", "all", 3)] == list(
        range(3, N)
    )
    assert list(service.client.scan_iter(match=f"se:{{{run_id}-empty}}:*")) == []
    assert service.client.zscore(keys.RUNS, f"{run_id}-empty") is None
    assert service.counters.value("runs_removed") == 1
    active.close(timeout=5.0)
