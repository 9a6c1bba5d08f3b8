"""Run the LM plan through the real pipeline (`benchmarks.pipeline`) and save each run's raw result:
the worker's summary, every window record per W (the whole record, as the api serves it) and the
run's alerts, as `raw/<run>.json`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from analyzer.service.server import AnalyzerService
from benchmarks import pipeline
from benchmarks.lm.runs import Plan
from training.lm import corpus


def gather(
    service: AnalyzerService, summary: dict[str, Any], timeout: float = 120.0
) -> dict[str, Any]:
    """The summary plus the run's window records per W and its alerts, once all are written."""
    run_id = summary["run_id"]
    pipeline.wait_for_windows(service, summary, timeout)
    records = {
        str(w): [r.model_dump() for r in service.store.metrics(run_id, "all", w)]
        for w in service.settings.windows
    }
    alerts = [a.model_dump() for a in service.store.run_alerts(run_id)]
    settings = service.settings.model_dump(
        mode="json",
        include={"windows", "edge_rule", "collapse_threshold", "plateau_min", "plateau_windows"},
    )
    return {**summary, "records": records, "alerts": alerts, "analyzer_settings": settings}


def run_all(
    plan: Plan, out: Path, jobs: int = 2, on_done: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """Train every run of `plan` (at most `jobs` at once) and save `out/raw/<run>.json` for each.

    The corpora are built (tokenizer trained, streams cached) here first, once, not in each worker.
    """
    for spec in plan.runs:
        corpus.load(Path(spec.cache), spec.vocab, spec.file_limit)
    return pipeline.run_all(
        plan.runs,
        "benchmarks.lm.worker",
        gather,
        out,
        windows=plan.windows,
        jobs=jobs,
        on_done=on_done,
    )
