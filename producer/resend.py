"""When to resend an unacknowledged message: TCP's retransmission timer (RFC 6298), clock passed in.

The timeout follows the measured acknowledgement delay (srtt + 4 rttvar), never below `floor`
(the configured `resend_after`), so a slow, overloaded analyzer is not flooded with duplicates.
Each round that had to resend doubles it, up to `ceiling`, so an absent analyzer costs a few
resends per message rather than one every `floor` seconds. The next acknowledgement of a message
sent only once restores it; delays of resent messages are ambiguous and never sampled (Karn).
"""

from __future__ import annotations

CEILING = 60.0
MAX_BACKOFF = 2**16


class ResendTimer:
    """The resend timeout of one sender."""

    def __init__(self, floor: float, ceiling: float = CEILING) -> None:
        self.floor, self.ceiling = floor, max(ceiling, floor)
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.backoff = 1

    @property
    def timeout(self) -> float:
        """Seconds after its last send that an unacknowledged message is resent."""
        measured = self.floor if self.srtt is None else self.srtt + 4 * self.rttvar
        return min(max(self.floor, measured) * self.backoff, self.ceiling)

    def sample(self, delay: float) -> None:
        """An acknowledgement arrived `delay` seconds after the message's only send."""
        if self.srtt is None:
            self.srtt, self.rttvar = delay, delay / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - delay)
            self.srtt = 0.875 * self.srtt + 0.125 * delay
        self.backoff = 1

    def reset(self) -> None:
        """Forget the backoff (a new analyzer, or one that said when to come back)."""
        self.backoff = 1

    def expired(self) -> None:
        """A round of resends went out: wait twice as long before the next."""
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)
