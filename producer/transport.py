"""Getting messages out of the training process: `Sender` (online, the one ZeroMQ user) and `Spool`.

The training thread only enqueues. A daemon thread owns a DEALER socket: it numbers messages per
(run, rank), keeps them in a `Buffer` until acknowledged, resends the overdue, reads acks and sends
heartbeats. Closing sends FINISH and waits a bounded time for the acks. A failure inside the thread
is logged once and turns the sender into a no-op: nothing here raises into the caller.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import msgpack
import zmq

from producer.buffer import Buffer
from producer.config import ProducerConfig
from producer.wire import Kind, Message, decode_ack, encode

logger = logging.getLogger(__name__)
POLL_MS = 20


class Sink(Protocol):
    """Where a watch puts its messages."""

    def start(self) -> None: ...
    def send(
        self, kind: Kind, *, step: int = 0, body: dict[str, Any] | None = None, **fields: Any
    ) -> None: ...
    def close(self, status: str = "finished", timeout: float = 5.0, step: int = 0) -> None: ...


@dataclass(frozen=True)
class _Close:
    deadline: float


class Sender:
    """Online sink: enqueue from any thread, deliver from a background one, never block or raise."""

    def __init__(self, config: ProducerConfig, run: str, *, rank: int = 0, world: int = 1) -> None:
        self.endpoint, self.run, self.rank, self.world = config.endpoint, run, rank, world
        self.heartbeat, self.resend_after = config.heartbeat, config.resend_after
        self.linger_ms = config.linger_ms
        self.sent = self.acked = self.resent = self.invalid = 0
        self.failed = False
        self._buffer = Buffer(config.buffer_max)
        self._inbox: queue.SimpleQueue[Message | _Close] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"spectral-edge-{run}", daemon=True)
        self._unsent: dict[int, None] = {}
        self._seq = 0
        self._deadline: float | None = None
        self._last_beat = 0.0
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

    def close(self, status: str = "finished", timeout: float = 5.0, step: int = 0) -> None:
        """Send FINISH, wait up to `timeout` for every ack, then stop; bounded, idempotent."""
        if self._closed:
            return
        self.send(Kind.FINISH, step=step, body={"status": status})
        self._closed = True
        if not self._thread.is_alive():
            return
        self._inbox.put(_Close(time.monotonic() + timeout))
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
        socket = context.socket(zmq.DEALER)
        try:
            socket.setsockopt(zmq.LINGER, self.linger_ms)
            socket.setsockopt(zmq.SNDHWM, self._buffer.max_messages)
            socket.setsockopt(zmq.IMMEDIATE, 1)
            socket.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
            socket.connect(self.endpoint)
            self._last_beat = time.monotonic()
            while not self._tick(socket):
                socket.poll(POLL_MS, zmq.POLLIN)
        finally:
            socket.close(linger=self.linger_ms)

    def _tick(self, socket: zmq.Socket) -> bool:
        """One round of the loop; True when it is time to stop."""
        now = time.monotonic()
        self._drain_inbox(socket, now)
        self._flush(socket, now)
        self._read_acks(socket)
        for seq, frames in self._buffer.due(now, self.resend_after):
            if seq in self._unsent:
                continue
            if not self._transmit(socket, frames):
                break
            self.resent += 1
        if self._deadline is None and now - self._last_beat >= self.heartbeat:
            self._last_beat = now
            beat = Message(Kind.HEARTBEAT, self.run, 0, self.rank, self.world)
            self._emit(socket, beat, now)
        return self._deadline is not None and (not self._buffer or now >= self._deadline)

    def _drain_inbox(self, socket: zmq.Socket, now: float) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Close):
                self._deadline = item.deadline
            else:
                self._emit(socket, item, now)

    def _emit(self, socket: zmq.Socket, message: Message, now: float) -> None:
        """Number, encode, buffer and send one message."""
        body = message.body
        if message.kind in (Kind.HEARTBEAT, Kind.FINISH):
            body = {**body, "dropped": self._buffer.dropped}
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
                self.acked += self._buffer.ack(decode_ack(frames))
            except Exception as exc:
                self._warn_once("ack", f"spectral-edge ignored a bad acknowledgement: {exc}")

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)


class Spool:
    """Offline sink: appends each message to `<dir>/<run>.rank<r>.msgpack`.

    Each record is one msgpack array of the message's frames (`wire.decode` reads it back).
    """

    def __init__(self, directory: str | Path, run: str, *, rank: int = 0, world: int = 1) -> None:
        self.path = Path(directory) / f"{run}.rank{rank}.msgpack"
        self.run, self.rank, self.world = run, rank, world
        self.sent = self.acked = self.resent = self.dropped = 0
        self.failed = False
        self._seq = 0
        self._file: BinaryIO | None = None

    def start(self) -> None:
        """Nothing to start: the file opens with the first message."""

    def send(
        self, kind: Kind, *, step: int = 0, body: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """Append one message."""
        if self._file is None and not self.failed:
            self._open()
        if self._file is None:
            return
        message = Message(
            kind, self.run, self._seq, self.rank, self.world, step, body=body or {}, **fields
        )
        try:
            self._file.write(msgpack.packb(encode(message)))
        except Exception:
            self._fail()
            return
        self._seq += 1
        self.sent += 1

    def close(self, status: str = "finished", timeout: float = 5.0, step: int = 0) -> None:
        """Append FINISH and close the file."""
        if self._file is None:
            return
        self.send(Kind.FINISH, step=step, body={"status": status, "dropped": 0})
        try:
            self._shut()
        except OSError:
            self._fail()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        except OSError:
            self._fail()

    def _fail(self) -> None:
        logger.exception(
            "spectral-edge spool %s failed; monitoring continues without it", self.path
        )
        self.failed = True
        with contextlib.suppress(OSError):
            self._shut()

    def _shut(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()
