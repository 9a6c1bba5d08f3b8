"""Delivery over a DEALER: send in order without blocking, read acks, resend the overdue.

The part of delivery that the sender thread (`producer.transport`) and `sync` share. A `Channel`
holds the unacknowledged messages (a `Buffer`), the ones not sent yet, in order, and the
`ResendTimer`; the caller owns the socket and the clock, and passes both to each call. Nothing
blocks: a message the socket refuses (not connected yet, high-water mark) waits for the next
`flush`, and later messages wait behind it, so they leave in sequence order. A bad
acknowledgement is logged once and ignored.
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
        self._unsent: dict[int, None] = {}
        self._warned = False

    def __len__(self) -> int:
        """Messages not yet acknowledged, sent or not."""
        return len(self.buffer)

    @property
    def backlog(self) -> int:
        """Messages never sent yet (the socket refused them or those before them)."""
        return len(self._unsent)

    def offer(self, socket: zmq.Socket[bytes], seq: int, frames: list[bytes], now: float) -> None:
        """Hold message `seq` until acknowledged and send it (and any backlog) if the socket can."""
        self.buffer.add(seq, frames, now)
        self._unsent[seq] = None
        self.flush(socket, now)

    def flush(self, socket: zmq.Socket[bytes], now: float) -> None:
        """Send never-sent messages in order until the socket refuses one."""
        while self._unsent:
            seq = next(iter(self._unsent))
            frames = self.buffer.frames(seq)
            if frames is not None:
                if not _transmit(socket, frames):
                    return
                self.buffer.mark_sent(seq, now)
                self.sent += 1
            del self._unsent[seq]

    def resend_due(self, socket: zmq.Socket[bytes], now: float) -> int:
        """Resend the messages overdue at `now`, oldest first; a round that resends backs off."""
        resent = 0
        for seq, frames in self.buffer.due(now, self.timer.timeout):
            if seq in self._unsent:
                continue
            if not _transmit(socket, frames):
                break
            resent += 1
        if resent:
            self.resent += resent
            self.timer.expired()
        return resent

    def read_acks(self, socket: zmq.Socket[bytes], now: float) -> int:
        """Release what waiting acknowledgements name; returns how many valid ones were read."""
        read = 0
        while True:
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return read
            try:
                seqs = decode_ack(frames)
                for delay in self.buffer.delays(seqs, now):
                    self.timer.sample(delay)
                self.acked += self.buffer.ack(seqs)
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
