"""The analyzer's own counters and the budget that bounds how often it logs rejections."""

from __future__ import annotations

import threading
from collections import Counter


class Counters:
    """Thread-safe counters keyed by (name, reason); reason "" for plain counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def inc(self, name: str, reason: str = "", amount: int = 1) -> None:
        """Add `amount` to a counter."""
        with self._lock:
            self._counts[name, reason] += amount

    def value(self, name: str, reason: str = "") -> int:
        """One counter's value (0 when never incremented)."""
        with self._lock:
            return self._counts[name, reason]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """All counters as {name: {reason: count}}."""
        with self._lock:
            items = list(self._counts.items())
        result: dict[str, dict[str, int]] = {}
        for (name, reason), count in items:
            result.setdefault(name, {})[reason] = count
        return result


class LogBudget:
    """Token bucket: at most `burst` log lines at once, refilled at `rate` per second."""

    def __init__(self, rate: float = 1.0, burst: int = 10) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Whether a line may be logged at time `now` (monotonic seconds); spends a token if so."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
