"""The bounded buffer of unacknowledged messages: a pure policy, no sockets, the clock passed in.

Messages stay until acknowledged. When full (`max_messages`, or `max_bytes` of frames), the oldest
(lowest seq) is dropped and counted, so a gap is explicit and memory stays bounded however long
the analyzer is away. `due(now, resend_after)` hands back the messages last sent at least
`resend_after` ago and re-arms them; `delays(seqs, now)` the acknowledgement delays of messages sent
only once (what the resend timer samples); `now` must never decrease.
"""

from __future__ import annotations

from collections import deque


class Buffer:
    """Unacknowledged messages by sequence number, oldest first."""

    def __init__(self, max_messages: int, max_bytes: int | None = None) -> None:
        if max_messages < 1:
            raise ValueError(f"max_messages must be >= 1, got {max_messages}")
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.dropped = 0
        self.bytes = 0
        self._frames: dict[int, list[bytes]] = {}
        self._sent_at: dict[int, float] = {}
        self._schedule: deque[tuple[float, int]] = deque()
        self._resent: set[int] = set()

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, seq: int) -> bool:
        return seq in self._frames

    def add(self, seq: int, frames: list[bytes], now: float) -> None:
        """Hold a message first offered at `now`, dropping the oldest held one when full."""
        size = sum(len(frame) for frame in frames)
        while self._frames and (
            len(self._frames) >= self.max_messages
            or (self.max_bytes is not None and self.bytes + size > self.max_bytes)
        ):
            oldest = next(iter(self._frames))
            self._forget(oldest)
            self.dropped += 1
        self._frames[seq] = frames
        self.bytes += size
        self._arm(seq, now)

    def held(self) -> list[int]:
        """The held sequence numbers, oldest first."""
        return list(self._frames)

    def frames(self, seq: int) -> list[bytes] | None:
        """The frames of a held message, or None once acknowledged or dropped."""
        return self._frames.get(seq)

    def mark_sent(self, seq: int, now: float) -> None:
        """Restart the resend timer of a held message (it was sent later than added)."""
        if seq in self._frames:
            self._arm(seq, now)

    def delays(self, seqs: list[int], now: float) -> list[float]:
        """Seconds since the send of each held, never resent message of `seqs`."""
        once = [seq for seq in seqs if seq in self._frames and seq not in self._resent]
        return [now - self._sent_at[seq] for seq in once]

    def ack(self, seqs: list[int]) -> int:
        """Release acknowledged messages; returns how many were held (duplicates count once)."""
        released = 0
        for seq in seqs:
            if seq in self._frames:
                self._forget(seq)
                released += 1
        return released

    def due(self, now: float, resend_after: float) -> list[tuple[int, list[bytes]]]:
        """Messages sent `resend_after` or more before `now`, oldest first, re-armed as sent now."""
        ready: list[tuple[int, list[bytes]]] = []
        while self._schedule and self._schedule[0][0] + resend_after <= now:
            sent_at, seq = self._schedule.popleft()
            if self._sent_at.get(seq) == sent_at:
                ready.append((seq, self._frames[seq]))
        ready.sort()
        for seq, _ in ready:
            self._arm(seq, now)
            self._resent.add(seq)
        return ready

    def _arm(self, seq: int, now: float) -> None:
        if self._sent_at.get(seq) == now:
            return  # already armed at this instant: a second entry would resend it twice
        self._sent_at[seq] = now
        self._schedule.append((now, seq))

    def _forget(self, seq: int) -> None:
        self.bytes -= sum(len(frame) for frame in self._frames.pop(seq))
        del self._sent_at[seq]
        self._resent.discard(seq)
