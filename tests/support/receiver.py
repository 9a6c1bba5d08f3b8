"""A real HTTP webhook receiver for tests and benchmarks: scripted answers, stop and restart.

`Receiver(port)` serves on 127.0.0.1 in a thread; each path answers its script of statuses (with
optional headers) in order, then 200. Every request is recorded with its arrival time. `stop()`
closes the socket (clients then get connection refused) and `start()` serves again on the same
port, which is how tests make a receiver that is down for a while.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Answer = tuple[int, dict[str, str]]


@dataclass(frozen=True)
class Hit:
    """One request the receiver got, when, and the status it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    def json(self) -> Any:
        """The parsed body."""
        return json.loads(self.body)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class Receiver:
    """Records every POST; answers each path's scripted statuses, then 200."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self._hits: list[Hit] = []
        self._scripts: dict[str, list[Answer]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        """Serve (again) on the receiver's port."""
        self._server = _Server(("127.0.0.1", self.port), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def endpoint(self, *answers: int | Answer) -> str:
        """A fresh path answering `answers` in order (status or (status, headers)), then 200."""
        path = f"/hook/{uuid.uuid4().hex}"
        with self.lock:
            self._scripts[path] = [a if isinstance(a, tuple) else (a, {}) for a in answers]
        return self.url + path

    def answer(self, path: str) -> Answer:
        """The next scripted answer of a path."""
        with self.lock:
            script = self._scripts.get(path, [])
            return script.pop(0) if script else (200, {})

    def record(self, hit: Hit) -> None:
        """Remember one request."""
        with self.lock:
            self._hits.append(hit)

    def hits(self, url: str) -> list[Hit]:
        """Requests to the endpoint `url`, in arrival order."""
        path = url.removeprefix(self.url)
        with self.lock:
            return [h for h in self._hits if h.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            status, headers = receiver.answer(self.path)
            seen = {k.lower(): v for k, v in self.headers.items()}
            receiver.record(Hit(self.path, seen, body, status, time.time()))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
