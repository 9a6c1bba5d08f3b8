"""When to log a failure that repeats, such as a Redis outage: the first, a summary every
`interval` seconds with the count in between, and a line when it ends.

Pure: the caller passes the monotonic clock and logs the `Line` it gets back. `LogBudget` (a token
bucket in `analyzer.service.prometheus`) bounds one-off lines such as rejections; this follows one
ongoing condition, so its lines can say how many failures were not logged and how long it lasted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """What to log: `suppressed` failures not logged since the previous line, `failures` in the
    whole outage so far, `elapsed` seconds since its first failure."""

    suppressed: int
    failures: int
    elapsed: float


class OutageLog:
    """The logging state of one condition: healthy, or failing since a time with counts."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._began: float | None = None
        self._logged = 0.0
        self._suppressed = 0
        self._failures = 0

    def failed(self, now: float) -> Line | None:
        """A failure at `now`: the line to log (the first, or a due summary), else None."""
        self._failures += 1
        if self._began is None:
            self._began = self._logged = now
            return Line(0, 1, 0.0)
        if now - self._logged < self.interval:
            self._suppressed += 1
            return None
        line = Line(self._suppressed, self._failures, now - self._began)
        self._logged, self._suppressed = now, 0
        return line

    def recovered(self, now: float) -> Line | None:
        """A success at `now`: the recovery line when an outage was ongoing, else None."""
        if self._began is None:
            return None
        line = Line(self._suppressed, self._failures, now - self._began)
        self._began, self._suppressed, self._failures = None, 0, 0
        return line
