"""A stand-in analyzer for benchmarks: a ROUTER in its own process that acknowledges everything."""

from __future__ import annotations

import multiprocessing
from typing import Any

import zmq

from producer.wire import decode, encode_ack


def _serve(endpoint: str, ready: Any, stop: Any) -> None:
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind(endpoint)
    ready.set()
    while not stop.is_set():
        if socket.poll(50, zmq.POLLIN):
            frames = socket.recv_multipart()
            message = decode(frames[1:])
            socket.send_multipart([frames[0], *encode_ack([message.seq])])
    socket.close(linger=0)
    context.term()


class AckingAnalyzer:
    """`with AckingAnalyzer(endpoint):` runs the acknowledging ROUTER in a child process."""

    def __init__(self, endpoint: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready, self._stop = context.Event(), context.Event()
        self._process = context.Process(target=_serve, args=(endpoint, self._ready, self._stop))

    def __enter__(self) -> AckingAnalyzer:
        self._process.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(5)
