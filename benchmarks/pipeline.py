"""Run benchmark workers through the real pipeline and keep what the analyzer wrote for each run.

A private redis-server and an in-process `AnalyzerService` (real ZeroMQ socket) receive every
run; each run trains in its own worker process (torch on one thread), at most `jobs` at a time.
A worker is a module run as `python -m WORKER SPEC_JSON RUN_ID ENDPOINT OUT_JSON` that writes
its summary, with `run_id` and `snapshots`, to OUT_JSON. After it exits, `gather` turns the
summary and what the analyzer stored into the run's raw result, saved as `raw/<run>.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.server import AnalyzerService

Gather = Callable[[AnalyzerService, dict[str, Any]], dict[str, Any]]


class Spec(Protocol):
    """What a worker is started from: a name (the run id's prefix) and a JSON-able dict."""

    name: str

    def to_dict(self) -> dict[str, Any]: ...


@contextmanager
def pipeline(windows: Sequence[int], strides: Sequence[int] = (1,)) -> Iterator[AnalyzerService]:
    """A private Redis and a started analyzer service bound to a free loopback port."""
    with EmbeddedRedis() as redis_server:
        settings = AnalyzerSettings(
            redis_url=redis_server.url, bind="tcp://127.0.0.1:*", windows=list(windows),
            strides=list(strides), sweep_interval=3600, heartbeat_timeout=3600,
        )  # fmt: skip
        with AnalyzerService(settings) as service:
            yield service


def wait_for_windows(service: AnalyzerService, summary: dict[str, Any], timeout: float) -> None:
    """Wait until the run's stride-1 series of the shortest W holds all its windows.

    Every stride and W advances in the same compare-and-set as that series, so then every series
    is complete.
    """
    run_id, snapshots = summary["run_id"], summary["snapshots"]
    shortest = min(service.settings.windows)
    expected = max(snapshots - shortest + 1, 0)
    deadline = time.monotonic() + timeout
    while len(service.store.metrics(run_id, "all", shortest)) < expected:
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)


def run_all(
    specs: Sequence[Spec],
    worker: str,
    gather: Gather,
    out: Path,
    *,
    windows: Sequence[int],
    strides: Sequence[int] = (1,),
    jobs: int = 2,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run `worker` on every spec (at most `jobs` at once); save and return each raw result."""
    raw_dir = out / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    done: list[dict[str, Any]] = []
    pending = list(specs)
    with pipeline(windows, strides) as service, tempfile.TemporaryDirectory() as temporary:
        scratch = Path(temporary)
        running: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    running.append(_start(worker, pending.pop(0), service.endpoint, scratch))
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


def _start(
    worker: str, spec: Spec, endpoint: str, scratch: Path
) -> tuple[str, subprocess.Popen[bytes]]:
    run_id = f"{spec.name}-{uuid.uuid4().hex[:6]}"
    out = scratch / f"{run_id}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", worker, json.dumps(spec.to_dict()), run_id, endpoint, str(out)]
    return run_id, subprocess.Popen(command, env=env)
