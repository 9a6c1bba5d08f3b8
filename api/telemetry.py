"""The api's Prometheus metrics: request counts and latencies per route, runs by state, streams.

Each app owns its registry (no process-global state), so several apps can live in one process.
`RequestMetrics` is a pure ASGI middleware: it never buffers a body, so live streams pass through.
"""

from __future__ import annotations

import time
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analyzer.records import RunInfo, RunState

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class Telemetry:
    """The metric families of one api app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "spectral_edge_api_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "spectral_edge_api_request_duration_seconds",
            "Time to the end of the response, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.runs = Gauge(
            "spectral_edge_runs", "Registered runs by state.", ["state"], registry=self.registry
        )
        self.live_streams = Gauge(
            "spectral_edge_api_live_streams", "Open live (SSE) streams.", registry=self.registry
        )

    def observe_runs(self, runs: list[RunInfo]) -> None:
        """Set the runs-by-state gauge from the registry's current content."""
        counts = Tally(run.state for run in runs)
        for state in RunState:
            self.runs.labels(state=state.value).set(counts.get(state, 0))

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request and record its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.telemetry.requests.labels(method, route, str(status)).inc()
            self.telemetry.latency.labels(method, route).observe(time.perf_counter() - started)
