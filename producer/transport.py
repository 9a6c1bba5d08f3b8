"""Getting messages out of the training process: `Sender`, the one ZeroMQ user of the producer.

The training thread only enqueues (and pokes a `Wakeup` pipe). A daemon thread owns a DEALER
socket, sleeping in a poll on it and the pipe until there is work: it numbers messages per
(run, rank) and hands them to a `Channel` (`producer.channel`), which keeps them in a `Buffer` until
acknowledged, reads acks and resends the overdue (timed by a `ResendTimer`, which backs off while
the analyzer is slow or away); the thread also sends heartbeats.
Closing sends FINISH and waits for the acks, up to `close_timeout`, but gives up after
`CLOSE_QUIET` seconds without any reply (an absent analyzer costs ~1 s at exit; with several
endpoints, `failover_after` more, so the FINISH can still reach the next one).
A failure inside the thread is logged once and turns the sender into a no-op: nothing here raises
into the caller.
Sequence numbers start at `base`, the microseconds since the epoch, so a restarted process never
reuses the numbers of its previous life under the same run id (the analyzer would drop them as
repeats); HEARTBEAT and FINISH bodies carry `base` and the `dropped` count.
With `server_key` set the socket is a CURVE client (`producer.connection`). With several
endpoints the run's `Route` (`producer.rendezvous`) picks one; after `failover_after` seconds of
silence with messages outstanding the thread connects a new socket to the next and sends every
held message again there.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import zmq

from producer.buffer import Buffer
from producer.channel import Channel
from producer.config import ProducerConfig
from producer.connection import connect_dealer
from producer.rendezvous import Route
from producer.resend import ResendTimer
from producer.wakeup import Wakeup
from producer.wire import Kind, Message, encode

logger = logging.getLogger(__name__)
POLL_MS = 20
IDLE_POLL_MS = 250
CLOSE_QUIET = 1.0


class Sink(Protocol):
    """Where a watch puts its messages."""

    def start(self) -> None: ...
    def send(
        self, kind: Kind, *, step: int = 0, body: dict[str, Any] | None = None, **fields: Any
    ) -> None: ...
    def close(
        self,
        status: str = "finished",
        timeout: float = 5.0,
        step: int = 0,
        *,
        announce: bool = True,
    ) -> None: ...


@dataclass(frozen=True)
class _Close:
    deadline: float


class Sender:
    """Online sink: enqueue from any thread, deliver from a background one, never block or raise."""

    def __init__(self, config: ProducerConfig, run: str, *, rank: int = 0, world: int = 1) -> None:
        self.config, self.run, self.rank, self.world = config, run, rank, world
        self.heartbeat = config.heartbeat
        self.timer = ResendTimer(config.resend_after)
        self.linger_ms = config.linger_ms
        self.invalid = 0
        self.failed = False
        self._buffer = Buffer(config.buffer_max, config.buffer_bytes)
        self._channel = Channel(self._buffer, self.timer)
        self.route = Route(run, config.endpoints, config.failover_after)
        self._quiet = CLOSE_QUIET + (config.failover_after if len(self.route.order) > 1 else 0.0)
        self._inbox: queue.SimpleQueue[Message | _Close] = queue.SimpleQueue()
        self._wakeup = Wakeup()
        self._thread = threading.Thread(target=self._run, name=f"spectral-edge-{run}", daemon=True)
        self._seq = self.base = time.time_ns() // 1000
        self._deadline: float | None = None
        self._last_beat = 0.0
        self._last_progress = 0.0
        self._closed = False
        self._warned: set[str] = set()

    @property
    def sent(self) -> int:
        """Messages sent once (resends not counted)."""
        return self._channel.sent

    @property
    def acked(self) -> int:
        """Messages acknowledged."""
        return self._channel.acked

    @property
    def resent(self) -> int:
        """Resends of overdue messages."""
        return self._channel.resent

    @property
    def dropped(self) -> int:
        """Messages dropped unacknowledged because the buffer was full."""
        return self._buffer.dropped

    @property
    def pending(self) -> int:
        """Messages sent and not yet acknowledged."""
        return len(self._buffer)

    def start(self) -> None:
        """Start the background thread (messages enqueued before this go out first, in order)."""
        self._thread.start()

    def send(
        self, kind: Kind, *, step: int = 0, body: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """Enqueue one message; its seq is assigned in order by the sender thread."""
        if self._closed or self.failed:
            return
        message = Message(kind, self.run, 0, self.rank, self.world, step, body=body or {}, **fields)
        self._inbox.put(message)
        self._wakeup.set()

    def close(
        self,
        status: str = "finished",
        timeout: float = 5.0,
        step: int = 0,
        *,
        announce: bool = True,
    ) -> None:
        """Send FINISH (a last heartbeat when not `announce`), wait up to `timeout` for acks, stop.

        Bounded and idempotent. Ranks other than the run's coordinator close without announcing.
        """
        if self._closed:
            return
        if announce:
            self.send(Kind.FINISH, step=step, body={"status": status})
        else:
            self.send(Kind.HEARTBEAT, step=step)
        self._closed = True
        if not self._thread.is_alive():
            return
        self._inbox.put(_Close(time.monotonic() + timeout))
        self._wakeup.set()
        self._thread.join(timeout + self.linger_ms / 1000 + 1.0)

    def _run(self) -> None:
        try:
            context = zmq.Context()
            try:
                self._serve(context)
            finally:
                context.term()
        except Exception:
            logger.exception("spectral-edge sender stopped; monitoring continues without sending")
            self.failed = True

    def _serve(self, context: zmq.Context[Any]) -> None:
        socket = self._connect(context)
        try:
            poller = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            poller.register(self._wakeup.fileno(), zmq.POLLIN)
            self._last_beat = time.monotonic()
            while not self._tick(socket):
                left = self.route.endpoint
                if self.route.moved(time.monotonic()):
                    poller.unregister(socket)
                    socket.close(linger=0)
                    socket = self._connect(context)
                    poller.register(socket, zmq.POLLIN)
                    self._channel.restart(socket, time.monotonic())
                    logger.warning(
                        "spectral-edge: no reply from %s for %.0f s; sending to %s",
                        left, self.route.after, self.route.endpoint,
                    )  # fmt: skip
                busy = self._deadline is not None or self._channel.backlog
                poller.poll(POLL_MS if busy else IDLE_POLL_MS)
                self._wakeup.clear()
        finally:
            socket.close(linger=self.linger_ms)

    def _connect(self, context: zmq.Context[Any]) -> zmq.Socket[bytes]:
        hwm = min(self._buffer.max_messages, 1000)
        return connect_dealer(context, self.config, hwm, self.route.endpoint)

    def _tick(self, socket: zmq.Socket[bytes]) -> bool:
        """One round of the loop; True when it is time to stop."""
        now = time.monotonic()
        self._drain_inbox(socket, now)
        self._channel.flush(socket, now)
        heard = time.monotonic()
        if self._channel.read_acks(socket, heard):
            self._last_progress = heard
            self.route.heard(heard, outstanding=bool(self._buffer))
        self._channel.resend_due(socket, now)
        if self._deadline is None and now - self._last_beat >= self.heartbeat:
            self._last_beat = now
            beat = Message(Kind.HEARTBEAT, self.run, 0, self.rank, self.world)
            self._emit(socket, beat, now)
        return self._deadline is not None and (
            not self._buffer or now >= self._deadline or now - self._last_progress >= self._quiet
        )

    def _drain_inbox(self, socket: zmq.Socket[bytes], now: float) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Close):
                self._deadline = item.deadline
                self._last_progress = now
            else:
                self._emit(socket, item, now)

    def _emit(self, socket: zmq.Socket[bytes], message: Message, now: float) -> None:
        """Number, encode, buffer and send one message."""
        body = message.body
        if message.kind in (Kind.HEARTBEAT, Kind.FINISH):
            body = {**body, "dropped": self._buffer.dropped, "base": self.base}
        try:
            frames = encode(replace(message, seq=self._seq, body=body))
        except Exception as exc:
            self.invalid += 1
            self._warn_once("encode", f"spectral-edge dropped a {message.kind} message: {exc}")
            return
        self._channel.offer(socket, self._seq, frames, now)
        self.route.waiting(now)
        self._seq += 1

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)
