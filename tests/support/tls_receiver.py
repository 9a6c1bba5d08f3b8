"""A real HTTPS webhook receiver on 127.0.0.1: one certificate, every POST answered 200.

Each handshake's SNI name is recorded (None when the client sent none), and so is each request;
a client that rejects the certificate leaves only its server name behind. The handshake runs in
the connection's own thread, so one failing client does not hold up the others.
"""

from __future__ import annotations

import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support.certificates import Leaf, server_context
from tests.support.receiver import Hit


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


class TlsReceiver:
    """Serves HTTPS with `leaf` on a free loopback port; `hits` and `server_names` say what came."""

    def __init__(self, leaf: Leaf) -> None:
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        self.server_names: list[str | None] = []
        self.server = _TlsServer(("127.0.0.1", 0), _handler(self))
        self.server.context = server_context(leaf)
        self.server.context.sni_callback = self._sni
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _sni(self, tls: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        with self.lock:
            self.server_names.append(name)

    def record(self, hit: Hit) -> None:
        """Remember one request."""
        with self.lock:
            self.hits.append(hit)

    def __enter__(self) -> TlsReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _handler(receiver: TlsReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so a client may reuse a connection

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            seen = {k.lower(): v for k, v in self.headers.items()}
            receiver.record(Hit(self.path, seen, body, 200, time.time()))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
