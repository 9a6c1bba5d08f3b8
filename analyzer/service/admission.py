"""Admission of new runs: caps on running runs per project and on new runs per producer identity.

A pure policy (state + now -> decision) the Ingestor drives. It is asked only about a START that
would create a run; STARTs of runs that exist (resends, further ranks, a restarted producer)
always pass. A refusal is a reason the analyzer counts, and the START stays unacknowledged, so a
real producer resends it and gets in once a slot or a token is free. Project counts come from
the registry at each sweep (`refresh`) and grow with each admission in between; the per-identity
rate is a token bucket (`per_minute` at once, refilled at `per_minute` a minute) in each analyzer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from analyzer.records import RunInfo, RunState
from analyzer.service.runs import run_state

PROJECT_FULL = "project_full"
RATE_LIMITED = "rate_limited"


class Admission:
    """Which new runs to create: at most `max_active` running per project, and at most
    `per_minute` new ones per producer identity per minute."""

    def __init__(self, max_active: int, per_minute: int) -> None:
        self.max_active = max_active
        self.burst = float(per_minute)
        self.rate = per_minute / 60.0
        self.active: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # identity -> (tokens, as of)

    def admit(self, identity: str, project: str, now: float) -> str | None:
        """None when `identity` may create a run of `project` at `now` (it is then counted),
        else the reason it may not; a refusal charges nothing."""
        if self.active[project] >= self.max_active:
            return PROJECT_FULL
        tokens = self._tokens(identity, now)
        if tokens < 1.0:
            return RATE_LIMITED
        self._buckets[identity] = (tokens - 1.0, now)
        self.active[project] += 1
        return None

    @property
    def tracked(self) -> int:
        """How many identities the rate table holds (those that created a run within a minute)."""
        return len(self._buckets)

    def refresh(self, active: Mapping[str, int], now: float) -> None:
        """Take the running runs per project from the registry; forget identities whose bucket
        has refilled (they are as good as new), so the table holds recent creators only."""
        self.active = Counter(active)
        self._buckets = {
            identity: bucket
            for identity, bucket in self._buckets.items()
            if self._tokens(identity, now) < self.burst
        }

    def _tokens(self, identity: str, now: float) -> float:
        tokens, at = self._buckets.get(identity, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) * self.rate)


def running_by_project(runs: Iterable[RunInfo], now: float, timeout: float) -> Counter[str]:
    """Running runs per project as of `now`: finished, failed and crashed runs hold no slot."""
    return Counter(r.project for r in runs if run_state(r, now, timeout) is RunState.RUNNING)
