"""`/metrics`: the exposition parses, and a real Prometheus scrapes it with a read token."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.polling import eventually
from tests.support.prometheus import BINARY, prometheus, scrape_config


def test_exposition(http: httpx.Client, read_token: str) -> None:
    http.get("/api/v1/runs")
    response = http.get("/metrics", headers={"Authorization": f"Bearer {read_token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {"spectral_edge_api_requests", "spectral_edge_runs"} <= set(families)
    runs_list = [
        s
        for s in families["spectral_edge_api_requests"].samples
        if s.labels.get("route") == "/api/v1/runs" and s.name.endswith("_total")
    ]
    assert runs_list and runs_list[0].value >= 1
    states = {s.labels["state"] for s in families["spectral_edge_runs"].samples}
    assert states == {"running", "finished", "failed", "crashed"}


@pytest.mark.skipif(BINARY is None, reason="Debian's prometheus binary is not installed")
def test_real_prometheus_scrapes_without_errors(
    api_url: str, read_token: str, tmp_path: Path
) -> None:
    target = api_url.removeprefix("http://")
    with prometheus(scrape_config(target, read_token), tmp_path) as url:

        def healthy() -> dict[str, str] | None:
            targets = httpx.get(f"{url}/api/v1/targets", timeout=5).json()["data"]
            active = targets["activeTargets"]
            return active[0] if active and active[0]["health"] == "up" else None

        target_doc = eventually(healthy, timeout=30, interval=0.1)
        assert target_doc["lastError"] == ""
        assert target_doc["scrapeUrl"] == f"{api_url}/metrics"

        def stored() -> list[dict[str, object]]:
            query = {"query": 'spectral_edge_runs{job="spectral-edge-api"}'}
            result: list[dict[str, object]] = httpx.get(
                f"{url}/api/v1/query", params=query, timeout=5
            ).json()["data"]["result"]
            return result

        assert len(eventually(stored, timeout=30, interval=0.1)) == 4
