"""The runs filter grammar: what parses, what it matches, and every way it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.records import RunInfo, RunState
from api.errors import FilterError
from api.filters import Condition, matches, parse


def _run(**fields: object) -> RunInfo:
    base: dict[str, object] = {
        "run_id": "r1",
        "project": "grok",
        "state": RunState.RUNNING,
        "created_at": 100.0,
        "updated_at": 200.0,
        "world": 2,
    }
    return RunInfo.model_validate(base | fields)


def test_conjunction_of_comparisons() -> None:
    conditions = parse("state = 'running' AND project != 'x' and world >= 2 AND created_at < 1e3")
    assert conditions == [
        Condition("state", "=", "running"),
        Condition("project", "!=", "x"),
        Condition("world", ">=", 2.0),
        Condition("created_at", "<", 1000.0),
    ]
    assert matches(_run(), conditions)
    assert not matches(_run(world=1), conditions)
    assert not matches(_run(state=RunState.CRASHED), conditions)


def test_in_lists_quotes_and_missing_values() -> None:
    assert matches(_run(project="it's"), parse("project IN ('a', 'it''s')"))
    assert not matches(_run(project="b"), parse("project in ('a','c')"))
    assert not matches(_run(), parse("finished_at > 0"))
    assert matches(_run(finished_at=5.0), parse("finished_at > 0"))
    assert parse("") == [] and parse("   ") == []


@pytest.mark.parametrize(
    "text",
    [
        "state",
        "state =",
        "state = running",
        "state > 'running'",
        "world = 'two'",
        "colour = 'red'",
        "state = 'running' AND",
        "state = 'running' OR world = 1",
        "state = 'running' world = 1",
        "project IN 'a'",
        "project IN ('a'",
        "project = 'unterminated",
        "__import__('os').system('true')",
        "world = 1; DROP",
        "x" * 1001,
    ],
)
def test_refusals_are_filter_errors(text: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse(text)
    assert caught.value.status == 400
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        conditions = parse(text)
    except FilterError:
        return
    assert isinstance(matches(_run(), conditions), bool)
