"""Run grid specs through the real pipeline (`benchmarks.pipeline`) and save what the analyzer
wrote for each run: the window records per (W, stride) and the run's alerts, with the worker's
summary, as `raw/<run>.json` (what `--rescore` reads), records under `"W"` for stride 1 and `"W/s"`
for stride s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from analyzer.core.grokking import GrokkingConfig
from analyzer.records import WindowRecord
from analyzer.service.server import AnalyzerService
from benchmarks import pipeline
from benchmarks.grokking.grid import RunSpec

WINDOWS = (10, 20)
STRIDES = (1, 4, 10)  # updates over 5, 20 and 50 optimizer steps (a snapshot every 5 steps)
_DETECTOR_SETTINGS = {"windows", "strides", "edge_rule", "collapse_threshold", "plateau_min",
                      "plateau_windows"}  # fmt: skip


def series_label(window: int, stride: int) -> str:
    """The key of a (W, stride) series in a raw run's `records`."""
    return str(window) if stride == 1 else f"{window}/{stride}"


def gather(
    service: AnalyzerService, summary: dict[str, Any], timeout: float = 60.0
) -> dict[str, Any]:
    """The summary plus the run's window records per (W, stride) and its alerts, once written."""
    run_id = summary["run_id"]
    pipeline.wait_for_windows(service, summary, timeout)
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
    return pipeline.run_all(
        specs, "benchmarks.grokking.worker", gather, out, windows=WINDOWS, strides=STRIDES,
        jobs=jobs, on_done=on_done,
    )  # fmt: skip
