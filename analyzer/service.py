"""The analyzer service: a ZeroMQ ROUTER socket in a background thread driving the Ingestor.

Per message: decode (a WireError is counted by reason), apply once in Redis, compute the windows it
completes and advance their detectors, then acknowledge its seq to the sender. Duplicates are
acknowledged again. One bad message costs one counter and, at a bounded rate, one log line.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import TracebackType

import redis
import zmq

from analyzer.config import AnalyzerSettings
from analyzer.errors import AnalyzerError, RejectedError
from analyzer.ingest import Ingestor
from analyzer.metrics import Counters, LogBudget
from analyzer.store import Store
from producer import wire
from producer.errors import WireError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1 << 20
_POLL_MS = 100
_DRAIN = 256
_LINGER_MS = 1000


class AnalyzerService:
    """Receives producer messages on `settings.bind` and keeps the run state in Redis."""

    def __init__(self, settings: AnalyzerSettings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self.counters = Counters()
        self.client = client or redis.Redis.from_url(settings.redis_url)
        self.store = Store(self.client)
        self.ingestor = Ingestor(self.store, settings, self.counters)
        self._budget = LogBudget()
        self._stopping = threading.Event()
        self._bound = threading.Event()
        self._thread: threading.Thread | None = None
        self._endpoint: str | None = None
        self._bind_error: Exception | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint actually bound (a `*` port in `settings.bind` resolved)."""
        if self._endpoint is None:
            raise AnalyzerError("the analyzer service is not started")
        return self._endpoint

    def start(self, timeout: float = 10.0) -> None:
        """Check Redis, start the receive thread, and return once the socket is bound."""
        if self._thread is not None:
            raise AnalyzerError("the analyzer service is already started")
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise AnalyzerError(f"cannot reach Redis at {self.settings.redis_url}: {exc}") from None
        self._stopping.clear()
        self._endpoint, self._bind_error = None, None
        self._thread = threading.Thread(target=self._serve, name="analyzer-service", daemon=True)
        self._thread.start()
        if not self._bound.wait(timeout) or self._bind_error is not None:
            self.stop()
            raise AnalyzerError(f"cannot bind {self.settings.bind}: {self._bind_error}")

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in flight, close the socket and join the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._bound.clear()

    def run_forever(self) -> None:
        """Start and serve until Ctrl-C, SIGTERM (from the main thread) or `stop()` elsewhere."""
        self.start()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self._stopping.set())
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            log.info("analyzer interrupted; stopping")
        finally:
            self.stop()

    def __enter__(self) -> AnalyzerService:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        context = zmq.Context()
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        try:
            sock.bind(self.settings.bind)
            self._endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        except zmq.ZMQError as exc:
            self._bind_error = exc
        self._bound.set()
        try:
            if self._bind_error is None:
                self._loop(sock)
        finally:
            sock.close(linger=_LINGER_MS)
            context.term()

    def _loop(self, sock: zmq.Socket[bytes]) -> None:
        next_sweep = time.monotonic() + self.settings.sweep_interval
        while not self._stopping.is_set():
            if sock.poll(_POLL_MS):
                for _ in range(_DRAIN):
                    try:
                        frames = sock.recv_multipart(flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._receive(sock, frames)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.settings.sweep_interval
                self._sweep()

    def _receive(self, sock: zmq.Socket[bytes], frames: list[bytes]) -> None:
        """Handle one ROUTER message [identity, *frames]; never raises."""
        self.counters.inc("received")
        identity, body = frames[0], frames[1:]
        try:
            message = wire.decode(body)
            fresh = self.ingestor.handle(message, time.time())
        except (WireError, RejectedError) as exc:
            self._reject(exc.reason, exc)
            return
        except Exception as exc:
            self._reject("internal", exc)
            return
        self.counters.inc("applied" if fresh else "duplicate", str(message.kind))
        try:
            sock.send_multipart([identity, *wire.encode_ack([message.seq])], flags=zmq.NOBLOCK)
        except zmq.ZMQError:
            self.counters.inc("ack_dropped")

    def _reject(self, reason: str, exc: Exception) -> None:
        self.counters.inc("rejected", reason)
        if self._budget.allow(time.monotonic()):
            log.warning("rejected a message (%s): %s", reason, exc, exc_info=reason == "internal")

    def _sweep(self) -> None:
        timeout = self.settings.heartbeat_timeout
        try:
            for run_id in self.ingestor.sweep(time.time()):
                self.counters.inc("crashed")
                log.info("run %s marked crashed: silent for over %.0f s", run_id, timeout)
        except Exception:
            self.counters.inc("sweep_failed")
            if self._budget.allow(time.monotonic()):
                log.exception("crash sweep failed")
