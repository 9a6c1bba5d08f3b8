"""`/api/v1/runs/{id}/phases` and `/coupling`: analyses of a run's stored series."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import analysis
from api.auth import READ
from api.deps import ReaderDep
from api.routes.runs import RunId, existing_run
from api.routes.series import Group, Stride, Window
from api.schemas import CouplingReport, PhaseList

router = APIRouter(prefix="/api/v1/runs/{run_id}", tags=["analysis"], dependencies=[READ])


@router.get("/phases")
def run_phases(
    run_id: RunId,
    reader: ReaderDep,
    group: Group = "all",
    window: Window = 10,
    source: Annotated[Literal["reference", "events"], Query()] = "reference",
    stride: Stride = 1,
) -> PhaseList:
    """Rise, plateau and collapse of a series: the retrospective rule, or the live events."""
    existing_run(reader, run_id)
    if source == "reference":
        phases = analysis.reference(reader.metrics(run_id, group, window, stride=stride))
    else:
        where = (group, window, stride)
        mine = [a for a in reader.run_alerts(run_id) if (a.group, a.window, a.stride) == where]
        latest = reader.latest(run_id, group, window, stride)
        phases = analysis.from_events(mine, latest.step if latest else None)
    return PhaseList(
        run_id=run_id, group=group, window=window, stride=stride, source=source, phases=phases
    )


@router.get("/coupling")
def run_coupling(
    run_id: RunId,
    reader: ReaderDep,
    group: Group = "all",
    scalar: Annotated[str, Query(min_length=1, max_length=64)] = "val_loss",
    max_lag: Annotated[int, Query(ge=0, le=50)] = 5,
    max_order: Annotated[int, Query(ge=1, le=10)] = 2,
    stride: Stride = 1,
) -> CouplingReport:
    """Lagged correlation and Granger test of R with a logged scalar for every W of a group
    (at one stride)."""
    existing_run(reader, run_id)
    loss = [
        (int(p["step"]), float(v))
        for p in reader.scalars(run_id)
        if isinstance(v := p.get("values", {}).get(scalar), int | float) and not isinstance(v, bool)
    ]
    windows = [w for g, w, s in reader.series(run_id) if (g, s) == (group, stride)]
    results = [
        analysis.couple(reader.metrics(run_id, group, w, stride=stride), loss, max_lag, max_order)
        for w in windows
    ]
    flip = analysis.flip(results)
    return CouplingReport(
        run_id=run_id, group=group, stride=stride, scalar=scalar, windows=results, lag_flip=flip
    )
