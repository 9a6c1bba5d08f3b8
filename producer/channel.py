"""Delivery over a DEALER: send in order without blocking, read acks, resend the overdue.

The part of delivery that the sender thread (`producer.transport`) and `sync` share. A `Channel`
holds the unacknowledged messages (a `Buffer`), the ones not sent yet, in order, and the
`ResendTimer`; the caller owns the socket and the clock, and passes both to each call. Nothing
blocks: a message the socket refuses (not connected yet, high-water mark) waits for the next
`flush`, and later messages wait behind it, so they leave in sequence order. A reply saying
"wait" (the run is owned by another analyzer, `Ack.wait`) holds resends until then, when every
held message goes again; `restart` queues them all for a new socket. A bad acknowledgement is
logged once and ignored.
"""

from __future__ import annotations

import logging

import zmq

from producer.buffer import Buffer
from producer.resend import ResendTimer
from producer.wire import decode_ack

logger = logging.getLogger(__name__)


class Channel:
    """The delivery state of one stream of numbered messages over a DEALER socket."""

    def __init__(self, buffer: Buffer, timer: ResendTimer) -> None:
        self.buffer, self.timer = buffer, timer
        self.sent = self.acked = self.resent = 0
        self._unsent: dict[int, bool] = {}  # seq -> sent before (a resend)
        self._hold_until: float | None = None
        self._warned = False

    def __len__(self) -> int:
        """Messages not yet acknowledged, sent or not."""
        return len(self.buffer)

    @property
    def backlog(self) -> int:
        """Messages queued for the current socket (refused so far, or behind one that was)."""
        return len(self._unsent)

    def offer(self, socket: zmq.Socket[bytes], seq: int, frames: list[bytes], now: float) -> None:
        """Hold message `seq` until acknowledged and send it (and any backlog) if the socket can."""
        self.buffer.add(seq, frames, now)
        self._unsent[seq] = False
        self.flush(socket, now)

    def flush(self, socket: zmq.Socket[bytes], now: float) -> None:
        """Send the queued messages in order until the socket refuses one."""
        while self._unsent:
            seq = next(iter(self._unsent))
            frames = self.buffer.frames(seq)
            if frames is not None:
                if not _transmit(socket, frames):
                    return
                self.buffer.mark_sent(seq, now)
                if self._unsent[seq]:
                    self.resent += 1
                else:
                    self.sent += 1
            del self._unsent[seq]

    def restart(self, socket: zmq.Socket[bytes], now: float) -> None:
        """Send every held message again, in order, over a new socket (another analyzer)."""
        unsent = self._unsent
        self._unsent = {seq: unsent.get(seq, True) for seq in self.buffer.held()}
        self._hold_until = None
        self.timer.reset()
        self.flush(socket, now)

    def resend_due(self, socket: zmq.Socket[bytes], now: float) -> int:
        """Resend the messages overdue at `now`, oldest first; a round that resends backs off.
        While a "wait" holds, nothing; when it ends, everything held."""
        hold, resent = self._hold_until, 0
        if hold is not None and now < hold:
            return 0
        self._hold_until = None
        after = 0.0 if hold is not None else self.timer.timeout
        for seq, frames in self.buffer.due(now, after):
            if seq in self._unsent:
                continue
            if not _transmit(socket, frames):
                break
            resent += 1
        if resent:
            self.resent += resent
            if hold is None:
                self.timer.expired()
        return resent

    def read_acks(self, socket: zmq.Socket[bytes], now: float) -> int:
        """Release what waiting acknowledgements name, note a "wait"; returns how many valid
        replies were read."""
        read = 0
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return read
            try:
                seqs, wait = decode_ack(frames)
                for delay in self.buffer.delays(seqs, now):
                    self.timer.sample(delay)
                self.acked += self.buffer.ack(seqs)
                if wait is not None:
                    self._hold_until = now + wait
                    self.timer.reset()
                read += 1
            except Exception as exc:
                if not self._warned:
                    self._warned = True
                    logger.warning("spectral-edge ignored a bad acknowledgement: %s", exc)


def _transmit(socket: zmq.Socket[bytes], frames: list[bytes]) -> bool:
    """Send without blocking; False when the socket refuses (nothing was sent)."""
    try:
        socket.send_multipart(frames, zmq.NOBLOCK)
    except zmq.Again:
        return False
    return True
