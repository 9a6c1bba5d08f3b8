"""Test-side producers: a DEALER that resends until every message is acknowledged, and streams.

`deliver` connects one DEALER to every endpoint given (ZeroMQ round-robins the messages across
them), sends each message, resends the unacknowledged ones every `resend_after` seconds, and
returns once all are acknowledged. `walk_stream` builds START + sketch messages of random walks.
`sending` starts the real producer `Sender` on a START and sketches, for the test to close.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import zmq

from producer import wire
from producer.config import ProducerConfig
from producer.transport import Sender
from producer.wire import Kind, Message


def walk_stream(run_id: str, n: int, d: int, seed: int, start: bool = True) -> list[Message]:
    """START (seq 0) then n sketches (seq 1..n) of a d-dimensional random walk."""
    xs = np.random.default_rng(seed).normal(size=(n, d)).cumsum(axis=0)
    head = [Message(Kind.START, run_id, 0, body={"d": d, "project": "tests"})] if start else []
    return head + [
        Message(Kind.SKETCH, run_id, i + 1, step=10 * i, index=i, d=d, payload=x)
        for i, x in enumerate(xs)
    ]


def deliver(
    endpoints: Sequence[str],
    messages: Sequence[Message],
    timeout: float = 60.0,
    resend_after: float = 1.0,
) -> int:
    """Send until every (run, seq) is acknowledged; returns how many sends it took."""
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    for endpoint in endpoints:
        sock.connect(endpoint)
    by_seq = {(m.run, m.seq): wire.encode(m) for m in messages}
    runs = {m.run for m in messages}
    if len(runs) != 1:
        raise ValueError("deliver takes one run's messages (acks carry seqs only)")
    pending = {seq for _, seq in by_seq}
    frames = {seq: f for (_, seq), f in by_seq.items()}
    sent, deadline = 0, time.monotonic() + timeout
    try:
        while pending and time.monotonic() < deadline:
            for seq in sorted(pending):
                sock.send_multipart(frames[seq])
                sent += 1
            until = time.monotonic() + resend_after
            while pending and time.monotonic() < until:
                if sock.poll(20):
                    pending -= set(wire.decode_ack(sock.recv_multipart()).seqs)
    finally:
        sock.close(linger=0)
        context.term()
    if pending:
        raise TimeoutError(f"{len(pending)} messages never acknowledged")
    return sent


def sending(
    endpoint: str,
    run_id: str,
    xs: np.ndarray,
    body: dict[str, Any] | None = None,
    **config: Any,
) -> Sender:
    """A started `Sender` (resending after 0.2 s, no linger, then `config`) that has queued START
    with `body` (default: the dimension alone) and one sketch of each row of `xs`, at step i."""
    d = xs.shape[1]
    sender = Sender(
        ProducerConfig(endpoint=endpoint, resend_after=0.2, linger_ms=0, **config), run_id
    )
    sender.start()
    sender.send(Kind.START, body=body or {"d": d})
    for i, x in enumerate(xs):
        sender.send(Kind.SKETCH, step=i, index=i, d=d, payload=x)
    return sender
