"""Getting messages out of the training process: `Sender`, the one ZeroMQ user of the producer.

The training thread only enqueues (and pokes a `Wakeup` pipe). A daemon thread owns a DEALER
socket, sleeping in a poll on it and the pipe until there is work: it numbers messages per
(run, rank), keeps them in a `Buffer` until acknowledged, resends the overdue (timed by a
`ResendTimer`, which backs off while the analyzer is slow or away), reads acks and sends heartbeats.
Closing sends FINISH and waits for the acks, up to `close_timeout`, but gives up after
`CLOSE_QUIET` seconds without any acknowledgement (an absent analyzer costs ~1 s at exit).
A failure inside the thread is logged once and turns the sender into a no-op: nothing here raises
into the caller.
Sequence numbers start at `base`, the microseconds since the epoch, so a restarted process never
reuses the numbers of its previous life under the same run id (the analyzer would drop them as
repeats); HEARTBEAT and FINISH bodies carry `base` and the `dropped` count.
With `server_key` set the socket is a CURVE client (`producer.connection`).
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
from producer.config import ProducerConfig
from producer.connection import connect_dealer
from producer.resend import ResendTimer
from producer.wakeup import Wakeup
from producer.wire import Kind, Message, decode_ack, encode

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
        self.sent = self.acked = self.resent = self.invalid = 0
        self.failed = False
        self._buffer = Buffer(config.buffer_max, config.buffer_bytes)
        self._inbox: queue.SimpleQueue[Message | _Close] = queue.SimpleQueue()
        self._wakeup = Wakeup()
        self._thread = threading.Thread(target=self._run, name=f"spectral-edge-{run}", daemon=True)
        self._unsent: dict[int, None] = {}
        self._seq = self.base = time.time_ns() // 1000
        self._deadline: float | None = None
        self._last_beat = 0.0
        self._last_progress = 0.0
        self._closed = False
        self._warned: set[str] = set()

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

    def _serve(self, context: zmq.Context) -> None:
        socket = connect_dealer(context, self.config, min(self._buffer.max_messages, 1000))
        try:
            poller = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            poller.register(self._wakeup.fileno(), zmq.POLLIN)
            self._last_beat = time.monotonic()
            while not self._tick(socket):
                busy = self._deadline is not None or self._unsent
                poller.poll(POLL_MS if busy else IDLE_POLL_MS)
                self._wakeup.clear()
        finally:
            socket.close(linger=self.linger_ms)

    def _tick(self, socket: zmq.Socket) -> bool:
        """One round of the loop; True when it is time to stop."""
        now = time.monotonic()
        self._drain_inbox(socket, now)
        self._flush(socket, now)
        self._read_acks(socket)
        resent = 0
        for seq, frames in self._buffer.due(now, self.timer.timeout):
            if seq in self._unsent:
                continue
            if not self._transmit(socket, frames):
                break
            resent += 1
        if resent:
            self.resent += resent
            self.timer.expired()
        if self._deadline is None and now - self._last_beat >= self.heartbeat:
            self._last_beat = now
            beat = Message(Kind.HEARTBEAT, self.run, 0, self.rank, self.world)
            self._emit(socket, beat, now)
        return self._deadline is not None and (
            not self._buffer or now >= self._deadline or now - self._last_progress >= CLOSE_QUIET
        )

    def _drain_inbox(self, socket: zmq.Socket, now: float) -> None:
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

    def _emit(self, socket: zmq.Socket, message: Message, now: float) -> None:
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
        self._buffer.add(self._seq, frames, now)
        self._unsent[self._seq] = None
        self._seq += 1
        self._flush(socket, now)

    def _flush(self, socket: zmq.Socket, now: float) -> None:
        """Send never-sent messages in order until the socket refuses one (not yet connected)."""
        while self._unsent:
            seq = next(iter(self._unsent))
            frames = self._buffer.frames(seq)
            if frames is not None:
                if not self._transmit(socket, frames):
                    return
                self._buffer.mark_sent(seq, now)
                self.sent += 1
            del self._unsent[seq]

    def _transmit(self, socket: zmq.Socket, frames: list[bytes]) -> bool:
        try:
            socket.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def _read_acks(self, socket: zmq.Socket) -> None:
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                seqs, now = decode_ack(frames), time.monotonic()
                for delay in self._buffer.delays(seqs, now):
                    self.timer.sample(delay)
                self.acked += self._buffer.ack(seqs)
                self._last_progress = now
            except Exception as exc:
                self._warn_once("ack", f"spectral-edge ignored a bad acknowledgement: {exc}")

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)
