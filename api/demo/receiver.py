"""A local webhook receiver for the demo: verifies each Standard Webhooks signature."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from api.errors import SignatureError
from api.webhooks.signing import verify


class Receiver:
    """An HTTP server on a free loopback port; calls `on_event(envelope, verified)` per request."""

    def __init__(self, secret: str, on_event: Callable[[dict[str, Any], bool], None]) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.handle(dict(self.headers.items()), body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.secret = secret
        self.on_event = on_event
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def handle(self, headers: dict[str, str], body: bytes) -> None:
        """Verify and hand one delivery to the callback."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            verify(self.secret, lowered, body, now=int(time.time()))
            verified = True
        except SignatureError:
            verified = False
        self.on_event(json.loads(body), verified)

    def start(self) -> Receiver:
        """Serve in a daemon thread."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
