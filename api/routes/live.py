"""`/api/v1/runs/{id}/events`: a Server-Sent-Events stream of the run's new records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sse_starlette import EventSourceResponse

from analyzer.service import keys
from api.auth import READ
from api.deps import AsyncRedisDep, SettingsDep
from api.errors import not_found
from api.live import RunEvents
from api.telemetry import Telemetry

router = APIRouter(prefix="/api/v1/runs/{run_id}", tags=["live"], dependencies=[READ])

_EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "events `metric`, `alert`, `phase`, `scalars`, `state`; data is JSON",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/events", response_class=EventSourceResponse, responses=_EVENTS_DOC)
async def run_events(
    request: Request,
    run_id: Annotated[str, Path(min_length=1, max_length=128)],
    client: AsyncRedisDep,
    settings: SettingsDep,
    since_step: Annotated[int | None, Query(ge=0, description="replay records after it")] = None,
) -> EventSourceResponse:
    """New window records, phases, alerts, scalars and state changes of a run, as they land."""
    if not await client.exists(keys.meta(run_id)):
        raise not_found(f"run {run_id!r}")
    events = RunEvents(client, run_id, since_step, settings.sse_block)
    telemetry: Telemetry = request.app.state.telemetry
    return EventSourceResponse(_counted(events.stream(), telemetry), ping=15)


async def _counted(
    source: AsyncIterator[dict[str, str]], telemetry: Telemetry
) -> AsyncIterator[dict[str, str]]:
    telemetry.live_streams.inc()
    try:
        async for event in source:
            yield event
    finally:
        telemetry.live_streams.dec()
