"""The bridge into a real MLflow tracking server (`mlflow server` on a free loopback port)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from analyzer.records import WindowRecord
from analyzer.service.embedded_redis import free_port
from api.bridge.mirror import Mirror
from api.bridge.mlflow import RUN_TAG, MlflowSink
from api.client import Client
from tests.support.polling import eventually


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking server on SQLite in a temporary directory; its process group stopped after."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1",
               "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
               "--default-artifact-root", str(root / "artifacts")]  # fmt: skip
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert eventually(lambda: _healthy(url) or server.poll() is not None, timeout=90)
        assert server.poll() is None, (root / "server.log").read_text()[-2000:]
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_runs_metrics_and_alerts_reach_the_tracking_server(
    se: Client,
    run_id: str,
    seeded: list[WindowRecord],
    end_run: Callable[[str, str], None],
    mlflow_url: str,
    tmp_path: Path,
) -> None:
    mirror = Mirror(se, [MlflowSink(mlflow_url)], tmp_path / "state.json")
    mirror.sync()
    end_run(run_id, "failed")
    mirror.sync()
    mirror.close()

    tracking = MlflowClient(tracking_uri=mlflow_url)
    experiment = tracking.get_experiment_by_name("api-test")
    assert experiment is not None
    (found,) = tracking.search_runs([experiment.experiment_id], f"tags.`{RUN_TAG}` = '{run_id}'")
    assert found.info.run_name == run_id and found.info.status == "FAILED"
    history = tracking.get_metric_history(found.info.run_id, "spectral_edge/all/W10/edge_ratio")
    assert sorted(m.step for m in history) == [r.step for r in seeded]
    assert {m.step: m.value for m in history}[30] == pytest.approx(seeded[2].edge_ratio)
    collapse = tracking.get_metric_history(found.info.run_id, "spectral_edge/alerts/edge.collapse")
    assert [(m.step, m.value) for m in collapse] == [(1200, 1.0)]
    messages = [v for k, v in found.data.tags.items() if k.startswith("spectral_edge.alert.")]
    assert len(messages) == 2 and all("edge ratio fell" in m for m in messages)
    assert found.data.params["every"] == "10"


def test_a_restarted_bridge_finds_its_mlflow_run_again(
    se: Client, run_id: str, seeded: list[WindowRecord], mlflow_url: str, tmp_path: Path
) -> None:
    for attempt in range(2):
        mirror = Mirror(se, [MlflowSink(mlflow_url)], tmp_path / f"state-{attempt}.json")
        mirror.sync()
        mirror.close()
    tracking = MlflowClient(tracking_uri=mlflow_url)
    experiment = tracking.get_experiment_by_name("api-test")
    assert experiment is not None
    runs = tracking.search_runs([experiment.experiment_id], f"tags.`{RUN_TAG}` = '{run_id}'")
    assert len(runs) == 1
