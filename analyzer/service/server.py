"""The analyzer service: a ZeroMQ ROUTER socket in a background thread driving the Ingestor.

Per loop iteration: drain up to `batch_max` messages, decode each (a WireError is counted by
reason), apply the batch in Redis (one pipelined script call per run, then the series advances),
then acknowledge each sender's applied seqs in one frame. Duplicates are acknowledged again. One
bad message costs one counter and, at a bounded rate, one log line; a Redis outage costs the
batch its acknowledgements (the producers resend), never the service, and is logged when it
begins, in a summary every `OutageLog.interval` seconds, and when it ends. Several analyzers may
serve the same runs: each binds its own endpoint and Redis keeps them correct. Stopping (SIGTERM,
Ctrl-C, `stop()`) finishes the batch in flight and sends its acknowledgements first, then releases
the leases of the runs it held, so another analyzer takes them over without waiting.
Runs are owned (see `AnalyzerSettings`): a message for a run another analyzer holds is answered
with the seconds its lease has left, not applied and not acknowledged.
Each message goes in with its producer's identity, the CURVE public key (ZAP User-Id) when CURVE
is on, else the peer address: the limits on new runs count per identity (`admission`).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from types import TracebackType

import redis
import zmq

from analyzer.errors import AnalyzerError, RejectedError
from analyzer.service import curve_auth
from analyzer.service.config import AnalyzerSettings
from analyzer.service.ingest import Ingestor, Verdict
from analyzer.service.outage_log import OutageLog
from analyzer.service.prometheus import Counters, LogBudget
from analyzer.service.scripts import ACCEPTED, Outcome
from analyzer.service.store import Client, Store, connect, unreachable
from producer import wire
from producer.errors import WireError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1 << 20
_POLL_MS = 100
_LINGER_MS = 1000


class AnalyzerService:
    """Receives producer messages on `settings.bind` and keeps the run state in Redis."""

    def __init__(self, settings: AnalyzerSettings, client: Client | None = None) -> None:
        self.settings = settings
        self.counters = Counters()
        self.client = client or connect(settings.redis_url, settings.redis_cluster)
        self.metrics_port: int | None = None
        self.store = Store(self.client)
        self.ingestor = Ingestor(self.store, settings, self.counters)
        self._budget = LogBudget()
        self._outage = OutageLog()
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
            self.ingestor.refresh(time.time())
            self.ingestor.index(time.time())
        except redis.RedisError as exc:
            raise AnalyzerError(unreachable(self.settings.redis_url, exc)) from None
        self._stopping.clear()
        self._endpoint, self._bind_error = None, None
        if self.settings.metrics_port is not None and self.metrics_port is None:
            self.metrics_port = self.counters.serve(self.settings.metrics_port)
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
        self.counters.close()
        self.metrics_port = None

    def run_forever(self) -> None:
        """Start (unless started) and serve until Ctrl-C, SIGTERM or `stop()` elsewhere."""
        if self._thread is None:
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
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        secret, auth = self.settings.curve_secret_key, None
        try:
            if secret is not None:
                auth = curve_auth.secure(context, sock, secret, self.settings.curve_clients)
            sock.bind(self.settings.bind)
            self._endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
            if self.settings.name is None:  # stable across restarts: the leases stay its own
                self.ingestor.name = f"{socket.gethostname()}|{self._endpoint}"
        except (zmq.ZMQError, ValueError) as exc:
            self._bind_error = exc
        self._bound.set()
        try:
            if self._bind_error is None:
                self._loop(sock)
                self._release()
        finally:
            sock.close(linger=_LINGER_MS)
            if auth is not None:
                auth.stop()
            context.term()

    def _loop(self, sock: zmq.Socket[bytes]) -> None:
        next_sweep = time.monotonic() + self.settings.sweep_interval
        while not self._stopping.is_set():
            if sock.poll(_POLL_MS):
                batch: list[list[bytes]] = []
                peers: list[str] = []
                while len(batch) < self.settings.batch_max:
                    try:
                        frames = sock.recv_multipart(flags=zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    batch.append([frame.bytes for frame in frames])
                    peers.append(self._producer(frames[0]))
                self._process(sock, batch, peers, time.monotonic())
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.settings.sweep_interval
                self._sweep()

    def _producer(self, frame: zmq.Frame) -> str:
        """Who sent a message, for the limits: its CURVE public key (the ZAP User-Id) when CURVE
        is on, else its peer address ("" on a transport without one)."""
        name = "User-Id" if self.settings.curve_secret_key is not None else "Peer-Address"
        try:
            return str(frame.get(name))
        except zmq.ZMQError:
            return ""

    def _process(
        self,
        sock: zmq.Socket[bytes],
        batch: list[list[bytes]],
        peers: list[str],
        received: float,
    ) -> None:
        for sender, reply in self.process(batch, peers).items():
            try:
                sock.send_multipart([sender, *wire.encode_ack(*reply)], flags=zmq.NOBLOCK)
            except zmq.ZMQError:
                self.counters.inc("ack_dropped")
        self.counters.set("lag", time.monotonic() - received)

    def process(
        self, batch: list[list[bytes]], peers: Sequence[str] | None = None
    ) -> dict[bytes, wire.Ack]:
        """Decode and apply ROUTER messages [identity, *frames] sent by `peers` (the producer
        identities the limits count, all "" when not given); the reply per identity: the seqs
        to ack, and how long to wait where another analyzer owns the run."""
        self.counters.inc("received", amount=len(batch))
        self.counters.set("batch", len(batch))
        senders, messages, producers = [], [], []
        for frames, peer in zip(batch, peers or [""] * len(batch), strict=True):
            try:
                messages.append(wire.decode(frames[1:]))
                senders.append(frames[0])
                producers.append(peer)
            except WireError as exc:
                self._reject(exc.reason, exc)
        acks: dict[bytes, list[int]] = {}
        waits: dict[bytes, float] = {}
        tally: Counter[tuple[str, str]] = Counter()
        outcomes = self._apply(messages, producers)
        for sender, message, result in zip(senders, messages, outcomes, strict=True):
            if result.outcome in ACCEPTED:
                name = "duplicate" if result.outcome == Outcome.DUPLICATE else "applied"
                tally[name, message.kind] += 1
                acks.setdefault(sender, []).append(message.seq)
            elif result.outcome == Outcome.NOT_OWNER:
                tally["not_owner", message.kind] += 1
                waits[sender] = max(waits.get(sender, 0.0), result.wait or 0.0)
            elif result.outcome:
                self._reject(result.outcome, RejectedError(result.outcome, message.run))
        for (name, kind), count in tally.items():
            self.counters.inc(name, str(kind), amount=count)
        return {
            sender: wire.Ack(acks.get(sender, []), waits.get(sender))
            for sender in dict.fromkeys([*acks, *waits])
        }

    def _apply(self, messages: list[wire.Message], producers: list[str]) -> list[Verdict]:
        """Outcomes of a batch; after an internal error, message by message to isolate it.

        A Redis failure leaves the batch unacknowledged ("" outcomes): the producers resend.
        """
        try:
            outcomes = self.ingestor.handle_batch(messages, time.time(), producers)
        except redis.RedisError as exc:
            return self._redis_failed(exc, len(messages))
        except Exception:
            self.ingestor.series.forget()
        else:
            self._redis_back()
            return outcomes
        outcomes = []
        for message, producer in zip(messages, producers, strict=True):
            try:
                outcomes += self.ingestor.handle_batch([message], time.time(), [producer])
            except redis.RedisError as exc:
                return [*outcomes, *self._redis_failed(exc, len(messages) - len(outcomes))]
            except Exception as exc:
                self.ingestor.series.forget()
                self._reject("internal", exc)
                outcomes.append(Verdict(""))
        return outcomes

    def _redis_failed(self, exc: Exception, count: int) -> list[Verdict]:
        self.ingestor.series.forget()
        self.counters.inc("redis_errors")
        line = self._outage.failed(time.monotonic())
        if line is not None and line.failures == 1:
            log.warning("Redis failed; %d messages left to resend: %s", count, exc)
        elif line is not None:
            log.warning(
                "Redis still failing after %.0f s: %d failed batches (%d not logged since the "
                "last line); %d messages left to resend: %s",
                line.elapsed,
                line.failures,
                line.suppressed,
                count,
                exc,
            )
        return [Verdict("")] * count

    def _redis_back(self) -> None:
        line = self._outage.recovered(time.monotonic())
        if line is not None:
            log.info("Redis is back after %.1f s: %d failed batches", line.elapsed, line.failures)

    def _reject(self, reason: str, exc: Exception) -> None:
        self.counters.inc("rejected", reason)
        if self._budget.allow(time.monotonic()):
            log.warning("rejected a message (%s): %s", reason, exc, exc_info=reason == "internal")

    def _release(self) -> None:
        try:
            released = self.ingestor.release()
        except redis.RedisError as exc:
            log.warning("could not release the leases on stopping (they expire): %s", exc)
        else:
            log.info("released %d run leases", released)

    def _sweep(self) -> None:
        timeout = self.settings.heartbeat_timeout
        try:
            for run_id in self.ingestor.sweep(time.time()):
                self.counters.inc("crashed")
                log.info("run %s marked crashed: silent for over %.0f s", run_id, timeout)
        except Exception as exc:
            self.ingestor.series.forget()
            self.counters.inc("sweep_failed")
            if self._budget.allow(time.monotonic()):
                outage = isinstance(exc, redis.RedisError)
                log.warning("sweep failed: %s", exc, exc_info=not outage)
