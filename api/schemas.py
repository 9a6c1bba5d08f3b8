"""Request and response bodies of the REST api; the analyzer's records are served as they are."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from analyzer.records import Alert, KStar, RunInfo, RunState, WindowRecord
from api.silences import Ack


class RunList(BaseModel):
    """`GET /runs`: one page of runs matching the filter, in the asked order."""

    runs: list[RunInfo]
    next_page_token: str | None = None


class RunStateView(BaseModel):
    """`GET /runs/{id}/state`: the lifecycle state alone."""

    run_id: str
    state: RunState
    updated_at: float
    finished_at: float | None = None


class Series(BaseModel):
    """One (group, W, stride) metric series of a run and its latest step."""

    group: str
    window: int
    stride: int = 1
    latest_step: int | None


class SeriesList(BaseModel):
    """`GET /runs/{id}/series`: the run's metric series."""

    run_id: str
    series: list[Series]


class MetricHistory(BaseModel):
    """`GET /runs/{id}/metrics`: one series' window records in step order."""

    run_id: str
    group: str
    window: int
    stride: int = 1
    records: list[WindowRecord]
    downsampled: bool = False


class Spectrum(BaseModel):
    """`GET /runs/{id}/spectrum`: the latest window's singular values and edge."""

    run_id: str
    group: str
    window: int
    stride: int = 1
    step: int
    index: int
    sigma: list[float]
    k_star: KStar
    edge_ratio: float


class ScalarPoint(BaseModel):
    """Scalars logged at one step."""

    step: int
    values: dict[str, float]


class ScalarHistory(BaseModel):
    """`GET /runs/{id}/scalars`: logged scalars (validation loss, accuracy, ...) in step order."""

    run_id: str
    points: list[ScalarPoint]


class Phase(BaseModel):
    """One phase of a series: `kind` (rise, plateau, collapse, ...) over a step interval."""

    kind: str
    start_step: int
    end_step: int | None


class PhaseList(BaseModel):
    """`GET /runs/{id}/phases`: the phases of one (group, W, stride) series in step order."""

    run_id: str
    group: str
    window: int
    stride: int = 1
    source: str
    phases: list[Phase]


class CouplingWindow(BaseModel):
    """Coupling of R with the loss for one W: correlation per lag (positive: R leads), Granger."""

    window: int
    points: int
    lags: list[int] = []
    correlation: list[float | None] = []
    peak_lag: int | None = None
    peak_r: float | None = None
    granger_order: int | None = None
    granger_f: float | None = None
    granger_p: float | None = None
    error: str | None = None


class LagFlipView(BaseModel):
    """Peak lags at the smallest and largest W and whether their signs differ."""

    small_window: int
    small_lag: int
    large_window: int
    large_lag: int
    flipped: bool


class CouplingReport(BaseModel):
    """`GET /runs/{id}/coupling`: R against a logged loss, per W of one (group, stride), and the
    lag flip."""

    run_id: str
    group: str
    stride: int = 1
    scalar: str
    windows: list[CouplingWindow]
    lag_flip: LagFlipView | None


class AlertState(StrEnum):
    """An alert fires while its run is running and is resolved once the run ended."""

    FIRING = "firing"
    RESOLVED = "resolved"


class AlertEntry(Alert):
    """An alert as listed: the record, its stream entry id, its state, its acknowledgement (if
    any) and whether a silence covers it now."""

    entry_id: str
    state: AlertState
    acknowledged: Ack | None = None
    silenced: bool = False


class AlertList(BaseModel):
    """`GET /alerts`: alerts newest first, one page."""

    alerts: list[AlertEntry]
    next_page_token: str | None = None


class Health(BaseModel):
    """`GET /healthz`."""

    status: str
    redis: bool
