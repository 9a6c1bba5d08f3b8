"""`/metrics`: the api's Prometheus metrics (read scope; scrape with a bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.auth import READ
from api.deps import ReaderDep
from api.telemetry import Telemetry

router = APIRouter(tags=["health"], dependencies=[READ])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def prometheus_metrics(request: Request, reader: ReaderDep) -> Response:
    """Prometheus text exposition: request counts and latencies, runs by state, live streams."""
    telemetry: Telemetry = request.app.state.telemetry
    telemetry.observe_runs(reader.list_runs())
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
