"""Which analyzer a run talks to: rendezvous (highest-random-weight) hashing of the run id.

Every rank of a run ranks the same endpoint list the same way, so all of them reach the same
analyzer, and a run moves only when its analyzer goes (adding or removing one endpoint moves only
the runs that rank it first). A `Route` walks that order: it starts at the first endpoint and
moves to the next (wrapping round) after `after` seconds with messages outstanding and no reply.
The analyzer that owns the run (its lease in Redis, `analyzer.service.lua/apply.lua`) answers a
producer that reached another one with "wait", which counts as a reply: the producer stays and
resends when the lease runs out. Pure: the clock is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def ranked(run_id: str, endpoints: Sequence[str]) -> list[str]:
    """`endpoints` (duplicates dropped) in the run's rendezvous order, most preferred first."""

    def weight(endpoint: str) -> bytes:
        return hashlib.blake2b(f"{endpoint}\0{run_id}".encode(), digest_size=8).digest()

    return sorted(dict.fromkeys(endpoints), key=weight, reverse=True)


class Route:
    """The endpoint a sender uses now, and when to move on to the next."""

    def __init__(self, run_id: str, endpoints: Sequence[str], after: float) -> None:
        self.order = ranked(run_id, endpoints)
        self.after = after
        self.position = 0
        self.moves = 0
        self._quiet_since: float | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint to send to."""
        return self.order[self.position]

    def waiting(self, now: float) -> None:
        """Messages are outstanding from `now` on (keeps an earlier start of the wait)."""
        if self._quiet_since is None:
            self._quiet_since = now

    def heard(self, now: float, outstanding: bool) -> None:
        """A reply came at `now`; `outstanding`: whether messages still wait for an ack."""
        self._quiet_since = now if outstanding else None

    def moved(self, now: float) -> bool:
        """Whether to switch to the next endpoint at `now` (then `endpoint` is the new one)."""
        quiet = self._quiet_since
        if len(self.order) < 2 or quiet is None or now - quiet < self.after:
            return False
        self.position = (self.position + 1) % len(self.order)
        self.moves += 1
        self._quiet_since = now
        return True
