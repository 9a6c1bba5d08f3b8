"""The per (rule, run) cooldown as a pure decision."""

from __future__ import annotations

from api.webhooks.cooldown import Mark, admit, rule_of
from tests.support.webhooks import make_alert


def test_first_alert_is_admitted() -> None:
    assert admit(None, "al_1", now=100.0, period=60.0)


def test_another_alert_within_the_period_is_suppressed() -> None:
    mark = Mark("al_1", at=100.0)
    assert not admit(mark, "al_2", now=100.0, period=60.0)
    assert not admit(mark, "al_2", now=159.9, period=60.0)
    assert admit(mark, "al_2", now=160.0, period=60.0)


def test_the_same_alert_read_again_is_admitted() -> None:
    assert admit(Mark("al_1", at=100.0), "al_1", now=101.0, period=60.0)


def test_a_zero_period_turns_the_cooldown_off() -> None:
    assert admit(Mark("al_1", at=100.0), "al_2", now=100.0, period=0.0)


def test_marks_round_trip_and_garbage_reads_as_none() -> None:
    mark = Mark("al_abc", at=1700000000.125)
    assert Mark.decode(mark.encode()) == mark
    assert Mark.decode(None) is None
    assert Mark.decode(b"") is None
    assert Mark.decode(b"not-a-time al_1") is None


def test_the_rule_is_the_detector_or_else_the_alert_type() -> None:
    assert rule_of(make_alert("edge.collapse")) == "edge.collapse"
    assert rule_of(make_alert("edge.decline", detector="lambda_max")) == "lambda_max"
