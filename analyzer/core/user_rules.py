"""User rules (`analyzer.records.Rule`) over a metric's values: pure evaluation with its state.

`RuleState` is what one rule remembers for one run (and series, for window metrics): the trailing
values `change` and `zscore` compare with, the last step seen (an older or equal step is ignored,
so replays are harmless), when the metric last arrived (for `stall`) and whether it fired: each
rule fires at most once per state. Evidence is finite: a non-finite value is reported as
`value_nan` = 1 or `value_inf` = +-1.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from analyzer.errors import StateError
from analyzer.records import Condition, Rule

Evidence = dict[str, float]


@dataclass
class RuleState:
    """One rule's memory for one run or series."""

    values: list[float] = field(default_factory=list)
    last_step: int = -1
    seen_at: float | None = None
    fired: bool = False

    def to_bytes(self) -> bytes:
        """Compact JSON."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> RuleState:
        """A stored state, or a fresh one for None; raises StateError when unreadable."""
        if data is None:
            return cls()
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError) as exc:
            raise StateError(f"unreadable rule state: {exc}") from None


def observe(rule: Rule, state: RuleState, step: int, value: float, now: float) -> Evidence | None:
    """Feed the metric's value at `step`; the evidence when the rule fires on it."""
    if step <= state.last_step:
        return None
    state.last_step, state.seen_at = step, now
    previous = state.values[-rule.lookback :]
    if math.isfinite(value):
        state.values = [*previous, value][-rule.lookback :]
    if state.fired:
        return None
    hit = _check(rule, previous, value)
    state.fired = hit is not None
    return hit


def stalled(rule: Rule, state: RuleState, since: float, now: float) -> Evidence | None:
    """A `stall` rule's evidence when the metric has not arrived for `rule.seconds` (counted from
    `since`, the run's start, until it first arrives); fires once."""
    if rule.condition is not Condition.STALL or state.fired or rule.seconds is None:
        return None
    quiet = now - (state.seen_at if state.seen_at is not None else since)
    if quiet < rule.seconds:
        return None
    state.fired = True
    return {"seconds": quiet, "limit": rule.seconds, "last_step": float(state.last_step)}


def describe(rule: Rule, hit: Evidence, step: int) -> str:
    """The alert message of a rule that fired."""
    name = rule.name or rule.metric
    c = rule.condition
    if c is Condition.STALL:
        return f"{name}: no {rule.metric} for {hit['seconds']:.0f} s (limit {rule.seconds:g} s)"
    if c is Condition.NONFINITE:
        value = "nan" if "value_nan" in hit else "inf" if hit["value_inf"] > 0 else "-inf"
        return f"{name}: {rule.metric} is {value} at step {step}"
    if c is Condition.CHANGE:
        return (
            f"{name}: {rule.metric} changed by {hit['change']:.1%} to {hit['value']:.4g} "
            f"(from {hit['previous']:.4g}) at step {step}"
        )
    if c is Condition.ZSCORE:
        return (
            f"{name}: {rule.metric} = {hit['value']:.4g} is {hit['zscore']:.1f} standard "
            f"deviations from its trailing mean {hit['mean']:.4g} at step {step}"
        )
    return (
        f"{name}: {rule.metric} = {hit['value']:.4g} is {c.value} {rule.threshold:g} at step {step}"
    )


def _check(rule: Rule, previous: list[float], value: float) -> Evidence | None:
    c, threshold = rule.condition, rule.threshold
    if c is Condition.NONFINITE:
        if math.isnan(value):
            return {"value_nan": 1.0}
        return None if math.isfinite(value) else {"value_inf": math.copysign(1.0, value)}
    if not math.isfinite(value) or threshold is None:
        return None
    if (c is Condition.ABOVE and value > threshold) or (c is Condition.BELOW and value < threshold):
        return {"value": value, "threshold": threshold}
    if c is Condition.CHANGE and previous and previous[-1] != 0:
        change = abs(value / previous[-1] - 1.0)
        if change >= threshold:
            return {"value": value, "previous": previous[-1], "change": change}
    if c is Condition.ZSCORE and len(previous) >= rule.lookback:
        mean = math.fsum(previous) / len(previous)
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in previous) / (len(previous) - 1))
        if std > 0 and abs(value - mean) / std >= threshold:
            return {"value": value, "mean": mean, "std": std, "zscore": (value - mean) / std}
    return None
