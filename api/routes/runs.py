"""`/api/v1/runs`: the run registry and each run's metric history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from analyzer.records import RunInfo
from api.deps import StoreDep
from api.errors import ApiError, not_found
from api.schemas import MetricHistory, RunList

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])

RunId = Annotated[str, Path(min_length=1, max_length=128)]


@router.get("")
def list_runs(store: StoreDep) -> RunList:
    """Every run, newest first."""
    return RunList(runs=store.list_runs())


@router.get("/{run_id}")
def get_run(run_id: RunId, store: StoreDep) -> RunInfo:
    """One run's registry entry: state, project, configuration, timestamps."""
    info = store.get_run(run_id)
    if info is None:
        raise not_found(f"run {run_id!r}")
    return info


@router.get("/{run_id}/metrics")
def run_metrics(
    run_id: RunId,
    store: StoreDep,
    group: Annotated[str, Query(min_length=1, max_length=128)] = "all",
    window: Annotated[int, Query(ge=2, le=1024)] = 10,
    start_step: Annotated[int | None, Query(ge=0)] = None,
    end_step: Annotated[int | None, Query(ge=0)] = None,
) -> MetricHistory:
    """Window records of one (group, W) series, full resolution, optionally in a step range."""
    if start_step is not None and end_step is not None and start_step > end_step:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "start_step must be <= end_step")
    if store.get_run(run_id) is None:
        raise not_found(f"run {run_id!r}")
    records = store.metrics(run_id, group, window, start_step, end_step)
    return MetricHistory(run_id=run_id, group=group, window=window, records=records)
