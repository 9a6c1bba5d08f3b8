"""Prometheus counters of a running service, scraped over HTTP; the log budget policy."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from analyzer.service.prometheus import Counters, LogBudget
from analyzer.service.server import AnalyzerService
from tests.support.producers import deliver, walk_stream


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_service_serves_its_counters(
    make_service: Callable[..., AnalyzerService], run_id: str
) -> None:
    service = make_service(metrics_port=0)
    assert service.metrics_port is not None
    stream = walk_stream(run_id, 8, 4, seed=0)
    deliver([service.endpoint], stream[:1])
    deliver([service.endpoint], stream[1:])
    deliver([service.endpoint], stream[1:3])
    service.process([[b"x", b"\xc1junk"]])
    got = _scrape(service.metrics_port)
    assert got["se_analyzer_received_total", ()] == 12
    assert got["se_analyzer_applied_total", (("kind", "sketch"),)] == 8
    assert got["se_analyzer_duplicates_total", (("kind", "sketch"),)] == 2
    assert got["se_analyzer_rejected_total", (("reason", "bad_header"),)] == 1
    assert got["se_analyzer_windows_computed_total", ()] == (8 - 3) + (8 - 5)
    assert got["se_analyzer_processing_lag_seconds", ()] >= 0.0
    assert ("se_analyzer_assembly_timeouts_total", ()) in got


def test_counters_mirror_their_values() -> None:
    counters = Counters()
    counters.inc("rejected", "bad_header", 3)
    counters.inc("windows")
    assert counters.value("rejected", "bad_header") == 3
    assert counters.snapshot() == {"rejected": {"bad_header": 3}, "windows": {"": 1}}
    assert counters.registry.get_sample_value("se_analyzer_windows_computed_total") == 1.0
    counters.set("batch", 7)
    assert counters.registry.get_sample_value("se_analyzer_batch_size") == 7.0


def test_log_budget_refills_at_its_rate() -> None:
    budget = LogBudget(rate=1.0, burst=2)
    assert [budget.allow(0.0) for _ in range(3)] == [True, True, False]
    assert budget.allow(0.5) is False
    assert budget.allow(1.6) is True
