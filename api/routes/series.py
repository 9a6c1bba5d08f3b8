"""`/api/v1/runs/{id}/...`: metric series, their history, the latest spectrum, logged scalars.

History and scalars also come as tables (`format=csv|parquet`, see `api.export`).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response

from analyzer.records import WindowRecord, flat_record
from analyzer.service.config import MAX_STRIDE
from analyzer.service.reader import Reader
from api import export
from api.auth import READ
from api.deps import ReaderDep
from api.errors import ApiError, not_found
from api.export import Format
from api.routes.runs import RunId, existing_run
from api.schemas import MetricHistory, ScalarHistory, ScalarPoint, Series, SeriesList, Spectrum

router = APIRouter(prefix="/api/v1/runs/{run_id}", tags=["metrics"], dependencies=[READ])

Group = Annotated[str, Query(min_length=1, max_length=128)]
Window = Annotated[int, Query(ge=2, le=1024)]
Stride = Annotated[
    int, Query(ge=1, le=MAX_STRIDE, description="updates x_i - x_(i-s) over every s-th snapshot")
]
Step = Annotated[int | None, Query(ge=0)]
T = TypeVar("T")
Downsample = Annotated[
    int | None, Query(ge=2, le=100_000, description="at most this many evenly spaced records")
]
TableFormat = Annotated[Format, Query(alias="format", description="json, or a table: csv, parquet")]
TABLES: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in export.MEDIA_TYPES.values()}}
}


def check_range(start_step: int | None, end_step: int | None) -> None:
    """Refuse a step range whose start lies after its end."""
    if start_step is not None and end_step is not None and start_step > end_step:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "start_step must be <= end_step")


def no_series(reader: Reader, run_id: str, group: str, window: int, stride: int = 1) -> ApiError:
    """The 404 of a missing series (a missing run raises its own 404 here)."""
    existing_run(reader, run_id)
    where = f"W={window}" if stride == 1 else f"W={window}, stride={stride}"
    return not_found(f"metrics of run {run_id!r}, group {group!r}, {where}")


def downsample(records: list[T], points: int) -> list[T]:
    """At most `points` records evenly spaced by position, always keeping the first and last."""
    if len(records) <= points:
        return records
    last = len(records) - 1
    picks = sorted({round(i * last / (points - 1)) for i in range(points)})
    return [records[i] for i in picks]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def table(rows: list[dict[str, Any]], fmt: Format, name: str) -> Response:
    """The rows as a downloadable CSV or Parquet file called `name`.<format>."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    headers = {"Content-Disposition": f'attachment; filename="{safe}.{fmt.value}"'}
    return Response(export.encode(rows, fmt), media_type=export.MEDIA_TYPES[fmt], headers=headers)


@router.get("/series")
def list_series(run_id: RunId, reader: ReaderDep) -> SeriesList:
    """The run's (group, W, stride) metric series with their latest step."""
    existing_run(reader, run_id)
    found = []
    for group, window, stride in reader.series(run_id):
        latest = reader.latest(run_id, group, window, stride)
        step = latest.step if latest else None
        found.append(Series(group=group, window=window, stride=stride, latest_step=step))
    return SeriesList(run_id=run_id, series=found)


@router.get("/metrics", response_model=MetricHistory, responses=TABLES)
def run_metrics(
    run_id: RunId,
    reader: ReaderDep,
    group: Group = "all",
    window: Window = 10,
    start_step: Step = None,
    end_step: Step = None,
    downsample_to: Annotated[Downsample, Query(alias="downsample")] = None,
    stride: Stride = 1,
    fmt: TableFormat = Format.JSON,
) -> Response:
    """Window records of one (group, W, stride) series, full resolution unless `downsample`."""
    check_range(start_step, end_step)
    members = reader.metrics_json(run_id, group, window, start_step, end_step, stride)
    if not members:
        existing_run(reader, run_id)
    thinned = downsample(members, downsample_to) if downsample_to else members
    if fmt is not Format.JSON:
        rows = [flat_record(json.loads(m)) for m in thinned]
        return table(rows, fmt, f"{run_id}-{group}-W{window}-s{stride}")
    head = {"run_id": run_id, "group": group, "window": window, "stride": stride}
    flag = b"true" if len(thinned) < len(members) else b"false"
    body = json.dumps(head).encode()[:-1] + b', "records": [' + b",".join(thinned)
    return _json(body + b'], "downsampled": ' + flag + b"}")


@router.get("/metrics/latest", response_model=WindowRecord)
def latest_metrics(
    run_id: RunId, reader: ReaderDep, group: Group = "all", window: Window = 10, stride: Stride = 1
) -> Response:
    """The series' most recent window record."""
    raw = reader.latest_json(run_id, group, window, stride)
    if raw is None:
        raise no_series(reader, run_id, group, window, stride)
    return _json(raw)


@router.get("/spectrum")
def latest_spectrum(
    run_id: RunId, reader: ReaderDep, group: Group = "all", window: Window = 10, stride: Stride = 1
) -> Spectrum:
    """The singular values and edge of the series' latest window."""
    record = reader.latest(run_id, group, window, stride)
    if record is None:
        raise no_series(reader, run_id, group, window, stride)
    return Spectrum.model_validate(record.model_dump(include=set(Spectrum.model_fields)))


@router.get("/scalars", response_model=ScalarHistory, responses=TABLES)
def run_scalars(
    run_id: RunId,
    reader: ReaderDep,
    start_step: Step = None,
    end_step: Step = None,
    fmt: TableFormat = Format.JSON,
) -> ScalarHistory | Response:
    """Logged scalars (val_loss, val_acc, ...) in step order, optionally in a step range."""
    check_range(start_step, end_step)
    existing_run(reader, run_id)
    points = [
        ScalarPoint(step=p["step"], values=_numbers(p.get("values", {})))
        for p in reader.scalars(run_id, start_step, end_step)
    ]
    if fmt is not Format.JSON:
        return table([export.scalar_row(p.model_dump()) for p in points], fmt, f"{run_id}-scalars")
    return ScalarHistory(run_id=run_id, points=points)


def _numbers(values: dict[str, object]) -> dict[str, float]:
    numeric = {k: v for k, v in values.items() if not isinstance(v, bool)}
    return {k: float(v) for k, v in numeric.items() if isinstance(v, int | float)}
