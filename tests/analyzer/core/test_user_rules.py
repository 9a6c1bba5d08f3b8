"""User rules over a metric's values: each condition fires once, replays are ignored, stalls."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from analyzer.core.user_rules import RuleState, describe, observe, stalled
from analyzer.records import Rule


def _feed(rule: Rule, values: list[float], state: RuleState | None = None) -> list[int]:
    state = state or RuleState()
    return [step for step, v in enumerate(values, 1) if observe(rule, state, step, v, 0.0)]


def test_thresholds_fire_once_on_the_first_crossing() -> None:
    above = Rule(metric="val_loss", condition="above", threshold=2.0)
    assert _feed(above, [1.0, 2.0, 2.5, 3.0, 1.0, 4.0]) == [3]
    below = Rule(metric="lr", condition="below", threshold=1e-5)
    assert _feed(below, [1e-3, 1e-6, 1e-7]) == [2]


def test_nonfinite_catches_nan_and_inf_and_ignores_them_elsewhere() -> None:
    nonfinite = Rule(metric="train_loss", condition="nonfinite")
    assert _feed(nonfinite, [1.0, 0.5, math.inf, math.nan]) == [3]
    above = Rule(metric="train_loss", condition="above", threshold=10.0)
    assert _feed(above, [1.0, math.nan, 11.0]) == [3]


def test_relative_change_against_the_previous_value() -> None:
    change = Rule(metric="grad_norm", condition="change", threshold=1.0)
    assert _feed(change, [1.0, 1.5, 2.9, 6.0, 0.1]) == [4]
    state = RuleState()
    observe(change, state, 1, 2.0, 0.0)
    hit = observe(change, state, 2, 5.0, 0.0)
    assert hit == {"value": 5.0, "previous": 2.0, "change": 1.5}
    assert "150.0%" in describe(change, hit, 2)


def test_zscore_over_a_full_trailing_window() -> None:
    zscore = Rule(metric="val_loss", condition="zscore", threshold=4.0, lookback=5)
    calm = [1.0, 1.1, 0.9, 1.05, 0.95]
    assert _feed(zscore, [*calm, 1.02, 0.98]) == []
    assert _feed(zscore, [*calm, 3.0]) == [6]
    assert _feed(zscore, [5.0, 1.0, 1.0, 1.0]) == []  # fewer than `lookback` values before it


def test_replayed_and_older_steps_are_ignored() -> None:
    above = Rule(metric="x", condition="above", threshold=1.0)
    state = RuleState()
    assert observe(above, state, 10, 0.5, 0.0) is None
    assert observe(above, state, 5, 9.0, 0.0) is None and not state.fired
    assert observe(above, state, 11, 2.0, 0.0) is not None
    restored = RuleState.from_bytes(state.to_bytes())
    assert restored == state and observe(above, restored, 12, 3.0, 0.0) is None


def test_a_stall_counts_from_the_start_until_data_arrives_then_from_the_last() -> None:
    stall = Rule(metric="val_loss", condition="stall", seconds=60)
    state = RuleState()
    assert stalled(stall, state, since=100.0, now=150.0) is None
    observe(stall, state, 1, 1.0, now=150.0)
    assert stalled(stall, state, since=100.0, now=200.0) is None
    hit = stalled(stall, state, since=100.0, now=215.0)
    assert hit == {"seconds": 65.0, "limit": 60.0, "last_step": 1.0}
    assert stalled(stall, state, since=100.0, now=999.0) is None
    assert "no val_loss for 65 s" in describe(stall, hit, 1)


@pytest.mark.parametrize(
    "fields",
    [
        {"condition": "above"},
        {"condition": "above", "threshold": math.inf},
        {"condition": "zscore", "threshold": -1.0},
        {"condition": "stall"},
        {"condition": "nonfinite", "group": "attn"},
        {"condition": "sideways", "threshold": 1.0},
        {"condition": "above", "threshold": 1.0, "treshold": 2.0},
    ],
)
def test_incomplete_or_unknown_rules_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Rule(metric="val_loss", **fields)


def test_scope_matches_project_run_group_and_window() -> None:
    rule = Rule(metric="edge_ratio", source="window", condition="below", threshold=1.1,
                project="lm", group="attn", window=20)  # fmt: skip
    assert rule.applies("lm", "r1", "attn", 20)
    assert not rule.applies("lm", "r1", "all", 20) and not rule.applies("grok", "r1", "attn", 20)
    assert Rule(metric="x", condition="nonfinite").applies("any", "run")
    assert rule.type == "rule.below"
