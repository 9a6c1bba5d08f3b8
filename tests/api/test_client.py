"""The Python client against the real api: frames and JSON, paging, errors, retries, its imports."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI, Response

from analyzer.records import WindowRecord
from analyzer.service import keys
from api import client as client_module
from api.client import Client, ClientError


def test_metrics_frame_has_a_column_per_value(se: Client, run_id: str, seeded: list) -> None:
    frame = se.metrics(run_id, window=10)
    assert list(frame.step) == [r.step for r in seeded]
    assert list(frame.edge_ratio) == pytest.approx([r.edge_ratio for r in seeded])
    assert list(frame.sigma_1) == [3.0] * 5 and list(frame.sigma_3) == [0.5] * 5
    assert list(frame.k_star_weighted) == [1] * 5 and "ratio_2" in frame.columns
    ranged = se.metrics(run_id, start_step=20, end_step=40)
    assert list(ranged.step) == [20, 30, 40]
    assert len(se.metrics(run_id, downsample=2)) == 2
    records = se.metrics(run_id, pandas=False)
    assert [WindowRecord.model_validate(r) for r in records] == seeded


def test_scalars_alerts_spectrum_and_run(se: Client, run_id: str, seeded: list) -> None:
    scalars = se.scalars(run_id)
    assert list(scalars.step) == [10, 20, 30]
    assert list(scalars.val_acc) == pytest.approx([0.1, 0.2, 0.3])
    assert se.scalars(run_id, start_step=15, pandas=False)[0] == {
        "step": 20,
        "values": {"val_loss": 0.05, "val_acc": 0.2},
    }
    alerts = se.alerts(run_id)
    assert list(alerts.type) == ["phase.rise", "edge.collapse"]
    assert "evidence.edge_ratio" in alerts.columns and set(alerts.state) == {"firing"}
    assert [a["type"] for a in se.alerts(run_id, rule="edge.*", pandas=False)] == ["edge.collapse"]
    assert se.spectrum(run_id)["sigma"] == [3.0, 1.0, 0.5]
    assert se.series(run_id) == [{"group": "all", "window": 10, "stride": 1, "latest_step": 50}]
    assert se.run(run_id)["state"] == "running"


def test_an_empty_series_is_an_empty_frame(
    se: Client, run_id: str, start_run: Callable[..., None]
) -> None:
    start_run(run_id, now=1.0)
    assert se.scalars(run_id).empty
    assert se.alerts(run_id).empty
    assert se.metrics(run_id, start_step=10**9).empty


@pytest.fixture
def project_runs(
    start_run: Callable[..., None], client: redis.Redis
) -> Iterator[tuple[str, list[str]]]:
    """Three runs of a project no other test uses; deleted afterwards."""
    project = f"client-{uuid.uuid4().hex[:8]}"
    runs = [f"api-test-{uuid.uuid4().hex}" for _ in range(3)]
    for n, run in enumerate(runs):
        start_run(run, now=1.0 + n, project=project)
    yield project, runs
    for run in runs:
        stale = list(client.scan_iter(match=f"se:{{{run}}}:*", count=1000))
        if stale:
            client.delete(*stale)
        client.zrem(keys.RUNS, run)


def test_runs_follow_every_page(
    se: Client, project_runs: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, runs = project_runs
    monkeypatch.setattr(client_module, "PAGE", 2)
    frame = se.runs(filter=f"project = '{project}'", order_by="created_at ASC")
    assert list(frame.run_id) == runs and set(frame.project) == {project}
    listed = se.runs(filter=f"project = '{project}'", pandas=False)
    assert sorted(r["run_id"] for r in listed) == sorted(runs)


def test_errors_carry_the_api_status_and_code(api_url: str, se: Client) -> None:
    with pytest.raises(ClientError) as missing:
        se.metrics(f"no-such-run-{uuid.uuid4().hex}")
    assert missing.value.status == 404 and missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with Client(api_url, token="") as anonymous, pytest.raises(ClientError) as refused:
        anonymous.runs()
    assert refused.value.status == 401


def test_overload_answers_are_retried_after_retry_after(serve: Any) -> None:
    app, calls = FastAPI(), []

    @app.get("/api/v1/runs/{run_id}/spectrum")
    def busy(run_id: str) -> Response:
        calls.append(run_id)
        if len(calls) < 3:
            return Response(status_code=503, headers={"Retry-After": "0"})
        return Response(json.dumps({"sigma": [1.0]}), media_type="application/json")

    with serve(app) as server, Client(server.url, token="t") as c:
        assert c.spectrum("r") == {"sigma": [1.0]}
    assert calls == ["r", "r", "r"]


def test_imports_without_the_server_extra() -> None:
    blocked = ["fastapi", "starlette", "redis", "pydantic", "uvicorn", "analyzer", "pandas"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from api.client import Client\n"
        "Client('http://127.0.0.1:1').close()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
