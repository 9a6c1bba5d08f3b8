"""Run grid specs through the real pipeline and save what the analyzer wrote for each run.

A private redis-server and an in-process `AnalyzerService` (real ZeroMQ socket) receive every
run; each run trains in its own worker process (`worker.py`, torch on one thread), at most `jobs`
at a time. Afterwards the window records per (W, stride) and the run's alerts are read back from
Redis and saved with the worker's summary as `raw/<run>.json` (what `--rescore` reads), records
under `"W"` for stride 1 and `"W/s"` for stride s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from analyzer.core.grokking import GrokkingConfig
from analyzer.records import WindowRecord
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.server import AnalyzerService
from benchmarks.grokking.grid import RunSpec

WINDOWS = (10, 20)
STRIDES = (1, 4, 10)  # updates over 5, 20 and 50 optimizer steps (a snapshot every 5 steps)
_DETECTOR_SETTINGS = {"windows", "strides", "edge_rule", "collapse_threshold", "plateau_min",
                      "plateau_windows"}  # fmt: skip


def series_label(window: int, stride: int) -> str:
    """The key of a (W, stride) series in a raw run's `records`."""
    return str(window) if stride == 1 else f"{window}/{stride}"


@contextmanager
def pipeline(
    windows: tuple[int, ...] = WINDOWS, strides: tuple[int, ...] = STRIDES
) -> Iterator[AnalyzerService]:
    """A private Redis and a started analyzer service bound to a free loopback port."""
    with EmbeddedRedis() as redis_server:
        settings = AnalyzerSettings(
            redis_url=redis_server.url, bind="tcp://127.0.0.1:*", windows=list(windows),
            strides=list(strides), sweep_interval=3600, heartbeat_timeout=3600,
        )  # fmt: skip
        with AnalyzerService(settings) as service:
            yield service


def _start(spec: RunSpec, endpoint: str, scratch: Path) -> tuple[str, subprocess.Popen[bytes]]:
    run_id = f"{spec.name}-{uuid.uuid4().hex[:6]}"
    out = scratch / f"{run_id}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "benchmarks.grokking.worker", json.dumps(spec.to_dict()),
               run_id, endpoint, str(out)]  # fmt: skip
    return run_id, subprocess.Popen(command, env=env)


def gather(
    service: AnalyzerService, summary: dict[str, Any], timeout: float = 60.0
) -> dict[str, Any]:
    """The summary plus the run's window records per (W, stride) and its alerts, once written.

    Every stride advances in the same compare-and-set as stride 1, so once the stride-1 series
    of the shortest W holds all its windows, every series is complete.
    """
    run_id, snapshots = summary["run_id"], summary["snapshots"]
    shortest = min(service.settings.windows)
    expected = max(snapshots - shortest + 1, 0)
    deadline = time.monotonic() + timeout
    while len(service.store.metrics(run_id, "all", shortest)) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    records: dict[str, list[dict[str, Any]]] = {}
    for window in service.settings.windows:
        for stride in service.settings.strides:
            found = service.store.metrics(run_id, "all", window, stride=stride)
            records[series_label(window, stride)] = [_record(r) for r in found]
    alerts = [a.model_dump() for a in service.store.run_alerts(run_id)]
    settings = service.settings.model_dump(mode="json", include=_DETECTOR_SETTINGS)
    config = asdict(GrokkingConfig.from_settings(service.settings))
    return {**summary, "records": records, "alerts": alerts, "analyzer_settings": settings,
            "grokking_config": config}  # fmt: skip


def _record(record: WindowRecord) -> dict[str, Any]:
    """The fields the detectors read."""
    return {
        "index": record.index,
        "step": record.step,
        "edge_ratio": record.edge_ratio,
        "g23": record.g23,
        "k_star": record.k_star.weighted,
    }


def run_all(
    specs: list[RunSpec],
    out: Path,
    jobs: int = 2,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every spec (at most `jobs` at once) and save `out/raw/<run>.json` for each."""
    raw_dir = out / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    done: list[dict[str, Any]] = []
    pending = list(specs)
    with pipeline() as service, tempfile.TemporaryDirectory() as temporary:
        scratch = Path(temporary)
        running: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    running.append(_start(pending.pop(0), service.endpoint, scratch))
                time.sleep(0.5)
                for run_id, process in [r for r in running if r[1].poll() is not None]:
                    running.remove((run_id, process))
                    result = scratch / f"{run_id}.json"
                    if process.returncode != 0 or not result.exists():
                        continue
                    raw = gather(service, json.loads(result.read_text(encoding="utf-8")))
                    (raw_dir / f"{run_id}.json").write_text(json.dumps(raw), encoding="utf-8")
                    done.append(raw)
                    if on_done is not None:
                        on_done(raw)
        finally:
            for _, process in running:
                process.kill()
    return done
