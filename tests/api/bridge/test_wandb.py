"""The bridge into W&B offline runs, written by the real `wandb` package and read back from its
transaction log; `wandb sync --dry-run` lists them as runs to upload."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.records import WindowRecord
from api.bridge.mirror import Mirror
from api.bridge.wandb import STEP, WandbSink, wandb_id
from api.client import Client
from tests.support.wandb_log import history, records


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B's settings, cache and data under the test's directory, and no network."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))


def test_an_ended_run_is_an_offline_run_wandb_sync_uploads(
    se: Client,
    run_id: str,
    seeded: list[WindowRecord],
    end_run: Callable[[str, str], None],
    tmp_path: Path,
) -> None:
    end_run(run_id, "finished")
    mirror = Mirror(se, [WandbSink(tmp_path / "wb")], tmp_path / "state.json")
    mirror.sync()
    mirror.close()

    (log,) = (tmp_path / "wb" / "wandb").glob(f"offline-run-*-{wandb_id(run_id)}/*.wandb")
    rows = history(log)
    name = "spectral_edge/all/W10/edge_ratio"
    edge = [(r[STEP], r[name]) for r in rows if name in r]
    assert edge == [(r.step, pytest.approx(r.edge_ratio)) for r in seeded]
    alerts = [r[STEP] for r in rows if "spectral_edge/alerts/edge.collapse" in r]
    assert alerts == [1200]
    kinds = [r.WhichOneof("record_type") for r in records(log)]
    assert "run" in kinds and "exit" in kinds
    (run_record,) = [r.run for r in records(log) if r.WhichOneof("record_type") == "run"]
    assert run_record.display_name == run_id and run_record.project == "api-test"

    listed = subprocess.run(
        [sys.executable, "-m", "wandb", "sync", "--dry-run", str(log.parent)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert listed.returncode == 0 and log.name in listed.stdout + listed.stderr


def test_run_ids_are_valid_for_wandb_and_stable() -> None:
    assert wandb_id("lm-small-s0") == "lm-small-s0"
    odd = wandb_id("team/run 1" + "x" * 100)
    assert len(odd) <= 64 and odd == wandb_id("team/run 1" + "x" * 100)
    assert set(odd) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert wandb_id("a/b") != wandb_id("a-b")
