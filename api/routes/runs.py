"""`/api/v1/runs`: the run registry, filtered, ordered and paged, and each run's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from analyzer.records import RunInfo
from analyzer.service.reader import Reader
from api import filters, pagination
from api.auth import READ
from api.deps import ReaderDep
from api.errors import not_found
from api.schemas import RunList, RunStateView

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], dependencies=[READ])

RunId = Annotated[str, Path(min_length=1, max_length=128)]
FilterText = Annotated[
    str,
    Query(
        max_length=filters.MAX_LENGTH,
        description="e.g. `state = 'running' AND project IN ('a', 'b')` (see api.filters)",
    ),
]
OrderBy = Annotated[str, Query(max_length=64, description="`field [ASC|DESC]`")]
PageToken = Annotated[str | None, Query(max_length=4096, description="from `next_page_token`")]
MaxResults = Annotated[int, Query(ge=1, le=1000)]


def existing_run(reader: Reader, run_id: str) -> RunInfo:
    """The run's registry entry, or a 404."""
    info = reader.get_run(run_id)
    if info is None:
        raise not_found(f"run {run_id!r}")
    return info


@router.get("")
def list_runs(
    reader: ReaderDep,
    filter: FilterText = "",
    order_by: OrderBy = pagination.DEFAULT_ORDER,
    page_token: PageToken = None,
    max_results: MaxResults = 100,
) -> RunList:
    """Runs matching `filter`, in `order_by` order, `max_results` per page."""
    conditions = filters.parse(filter)
    order = pagination.parse_order(order_by)
    query = pagination.fingerprint(filter, order_by)
    runs = [run for run in reader.list_runs() if filters.matches(run, conditions)]
    chunk, token = pagination.page(runs, order, query, page_token, max_results)
    return RunList(runs=chunk, next_page_token=token)


@router.get("/{run_id}")
def get_run(run_id: RunId, reader: ReaderDep) -> RunInfo:
    """One run's registry entry: state, project, configuration, timestamps."""
    return existing_run(reader, run_id)


@router.get("/{run_id}/state")
def get_state(run_id: RunId, reader: ReaderDep) -> RunStateView:
    """The run's lifecycle state: running, finished, failed or crashed."""
    info = existing_run(reader, run_id)
    return RunStateView(
        run_id=run_id, state=info.state, updated_at=info.updated_at, finished_at=info.finished_at
    )
