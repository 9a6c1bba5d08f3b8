"""The sender thread against a real ZeroMQ ROUTER on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np
import pytest

from producer.config import ProducerConfig
from producer.transport import Sender, Spool
from producer.wire import Kind, Message, decode


def seqs(messages: list[Message]) -> list[int]:
    return [message.seq for message in messages]


def test_messages_arrive_in_order_numbered_and_acked(
    router: Any, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=router.endpoint), "run-order", rank=0, world=1)
    sender.send(Kind.START, body={"every": 1})
    sender.start()
    for step in range(5):
        sender.send(Kind.SCALARS, step=step, body={"values": {"loss": float(step)}})
    sender.send(Kind.SKETCH, step=5, index=1, d=4, payload=np.arange(4.0))
    sender.close(timeout=3.0, step=5)
    received = router.received()
    assert seqs(received) == list(range(8))
    assert [m.kind for m in received] == [Kind.START, *[Kind.SCALARS] * 5, Kind.SKETCH, Kind.FINISH]
    assert received[-1].body == {"status": "finished", "dropped": 0}
    assert np.array_equal(received[6].payload, np.arange(4.0))
    assert (sender.sent, sender.acked, sender.resent, sender.dropped) == (8, 8, 0, 0)
    assert sender.pending == 0


def test_unacked_messages_are_resent(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    router = make_router(ignore_first=True)
    sender = Sender(fast_config(endpoint=router.endpoint, resend_after=0.1), "run-resend")
    sender.start()
    for step in range(3):
        sender.send(Kind.SCALARS, step=step, body={"values": {"loss": 1.0}})
    sender.close(timeout=5.0)
    received = seqs(router.received())
    assert sorted(set(received)) == [0, 1, 2, 3]
    assert all(received.count(seq) >= 2 for seq in range(4))
    assert sender.resent >= 4 and sender.acked == 4 and sender.pending == 0


def test_messages_sent_before_the_analyzer_starts_are_delivered(
    dead_endpoint: str,
    make_router: Callable[..., Any],
    fast_config: Callable[..., ProducerConfig],
) -> None:
    sender = Sender(fast_config(endpoint=dead_endpoint, resend_after=30.0), "run-late")
    sender.start()
    for step in range(3):
        sender.send(Kind.SCALARS, step=step, body={"values": {"x": 1.0}})
    time.sleep(0.2)
    router = make_router(bind=dead_endpoint)
    sender.close(timeout=5.0)
    assert seqs(router.received()) == [0, 1, 2, 3]
    assert (sender.sent, sender.acked, sender.resent) == (4, 4, 0)


def test_close_is_bounded_when_no_analyzer_listens(
    dead_endpoint: str, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=dead_endpoint, linger_ms=200), "run-dead")
    sender.start()
    sender.send(Kind.START)
    began = time.monotonic()
    sender.close(timeout=0.3)
    assert time.monotonic() - began < 2.0
    assert sender.acked == 0 and sender.pending == 2
    assert not any(t.name == "spectral-edge-run-dead" for t in threading.enumerate())


def test_full_buffer_drops_and_reports_in_heartbeats(
    make_router: Callable[..., Any], fast_config: Callable[..., ProducerConfig]
) -> None:
    router = make_router(ack=False)
    config = fast_config(endpoint=router.endpoint, buffer_max=3, heartbeat=0.05)
    sender = Sender(config, "run-drop")
    for step in range(10):
        sender.send(Kind.SCALARS, step=step, body={"values": {"x": 1.0}})
    sender.start()

    def beat_reports_drops(messages: list[Message]) -> bool:
        return any(m.kind is Kind.HEARTBEAT and m.body["dropped"] >= 7 for m in messages)

    assert router.wait_for(beat_reports_drops)
    sender.close(timeout=0.2)
    assert sender.dropped >= 8 and sender.pending == 3
    finish = [m for m in router.received() if m.kind is Kind.FINISH]
    assert finish and finish[0].body["dropped"] >= 8


def test_thread_failure_degrades_to_no_op(
    caplog: pytest.LogCaptureFixture, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint="tcp://127.0.0.1:notaport"), "run-broken")
    sender.start()
    deadline = time.monotonic() + 5
    while not sender.failed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sender.failed
    sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
    began = time.monotonic()
    sender.close()
    assert time.monotonic() - began < 0.5
    assert sum("sender stopped" in r.message for r in caplog.records) == 1


def test_unencodable_message_is_skipped_without_a_gap(
    router: Any, fast_config: Callable[..., ProducerConfig]
) -> None:
    sender = Sender(fast_config(endpoint=router.endpoint), "run-invalid")
    sender.start()
    sender.send(Kind.SCALARS, body={"values": {"x": object()}})
    sender.send(Kind.SCALARS, body={"values": {"x": 1.0}})
    sender.close(timeout=3.0)
    assert seqs(router.received()) == [0, 1]
    assert sender.invalid == 1


def test_spool_appends_decodable_messages(tmp_path: Any) -> None:
    spool = Spool(tmp_path / "spool", "run-offline", rank=0, world=1)
    spool.send(Kind.START, body={"every": 2})
    spool.start()
    spool.send(Kind.SKETCH, step=2, index=1, d=3, payload=np.ones(3))
    spool.close("finished", step=2)
    with spool.path.open("rb") as handle:
        messages = [decode(frames) for frames in msgpack.Unpacker(handle)]
    assert [(m.kind, m.seq) for m in messages] == [
        (Kind.START, 0),
        (Kind.SKETCH, 1),
        (Kind.FINISH, 2),
    ]
    assert np.array_equal(messages[1].payload, np.ones(3))
    assert messages[2].body == {"status": "finished", "dropped": 0}
