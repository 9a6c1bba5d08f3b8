"""The outage log policy with the clock passed in: the first failure, a summary per interval with
the count in between, a recovery line, and nothing while healthy."""

from __future__ import annotations

from analyzer.service.outage_log import Line, OutageLog


def test_the_first_failure_is_logged_and_the_next_only_counted() -> None:
    outage = OutageLog(interval=10.0)
    assert outage.failed(100.0) == Line(suppressed=0, failures=1, elapsed=0.0)
    assert [outage.failed(100.0 + i / 50) for i in range(1, 50)] == [None] * 49


def test_a_summary_every_interval_counts_the_failures_not_logged() -> None:
    outage = OutageLog(interval=10.0)
    times = [100.0 + i / 50 for i in range(50 * 25)]  # 25 s of failures, 50 per second
    lines = [(now, line) for now in times if (line := outage.failed(now)) is not None]
    assert [now for now, _ in lines] == [100.0, 110.0, 120.0]
    assert [line.suppressed for _, line in lines] == [0, 499, 499]
    assert [line.failures for _, line in lines] == [1, 501, 1001]
    assert lines[2][1].elapsed == 20.0


def test_recovery_reports_the_outage_then_the_next_failure_is_a_first_again() -> None:
    outage = OutageLog(interval=10.0)
    for now in (0.0, 1.0, 2.0, 3.5):
        outage.failed(now)
    assert outage.recovered(4.0) == Line(suppressed=3, failures=4, elapsed=4.0)
    assert outage.recovered(5.0) is None
    assert outage.failed(6.0) == Line(suppressed=0, failures=1, elapsed=0.0)


def test_nothing_is_logged_while_healthy() -> None:
    outage = OutageLog()
    assert [outage.recovered(float(now)) for now in range(5)] == [None] * 5
