"""A real ZeroMQ ROUTER standing in for the analyzer in producer tests (and CURVE variants)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import zmq

from producer.wire import Message, decode, encode_ack


class Router:
    """A ROUTER socket on a free loopback port, served by a thread that records and acks messages.

    `ack=False` never acknowledges; `ignore_first=True` acknowledges only repeated deliveries.
    `store`, a dict that may outlive the router, models the analyzer's durable at-most-once
    apply: each (run, rank, seq) is stored once, and repeats are acknowledged again.
    `curve_secret` makes it a CURVE server with that secret key.
    """

    def __init__(
        self,
        *,
        ack: bool = True,
        ignore_first: bool = False,
        bind: str = "tcp://127.0.0.1:*",
        store: dict[tuple[str, int, int], Message] | None = None,
        curve_secret: bytes | None = None,
    ) -> None:
        self.ack, self.ignore_first = ack, ignore_first
        self.store, self.curve_secret = store, curve_secret
        self.messages: list[Message] = []
        self.endpoint = bind
        self._seen: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._bound.wait(5), "router did not bind"

    def _serve(self) -> None:
        context = zmq.Context()
        socket = context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        if self.curve_secret is not None:
            socket.curve_server = True
            socket.curve_secretkey = self.curve_secret
        socket.bind(self.endpoint)
        self.endpoint = socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._bound.set()
        try:
            while not self._stop.is_set():
                if socket.poll(10, zmq.POLLIN):
                    self._handle(socket, socket.recv_multipart())
        finally:
            socket.close(linger=0)
            context.term()

    def _handle(self, socket: zmq.Socket, frames: list[bytes]) -> None:
        peer, message = frames[0], decode(frames[1:])
        key = (message.run, message.seq)
        with self._lock:
            self.messages.append(message)
            repeated = key in self._seen
            self._seen.add(key)
            if self.store is not None:
                self.store.setdefault((message.run, message.rank, message.seq), message)
        if self.ack and (repeated or not self.ignore_first):
            socket.send_multipart([peer, *encode_ack([message.seq])])

    def received(self) -> list[Message]:
        """A copy of every message received so far, in arrival order."""
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[list[Message]], bool], timeout: float = 5.0) -> bool:
        """Wait until `predicate(messages)` holds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.received()):
                return True
            time.sleep(0.01)
        return predicate(self.received())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
