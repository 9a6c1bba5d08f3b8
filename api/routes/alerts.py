"""`/api/v1/alerts` and `/api/v1/runs/{id}/alerts`: alert events, newest first, filtered and paged.

An alert's `state` is `firing` while its run is running and `resolved` once the run finished,
failed or crashed. `rule` matches an alert type exactly, or a family with a trailing `.*`
(`phase.*`).
"""

from __future__ import annotations

import re
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query

from analyzer.records import Alert, RunState
from analyzer.service import keys
from analyzer.service.reader import Reader
from api import pagination
from api.auth import ADMIN, READ
from api.deps import ReaderDep
from api.errors import FilterError
from api.routes.runs import RunId, existing_run
from api.schemas import AlertEntry, AlertList, AlertState
from api.silences import Ack, decode, silencing

router = APIRouter(prefix="/api/v1", tags=["alerts"], dependencies=[READ])

_ENTRY_ID = re.compile(r"\d+-\d+")
_SCAN = 500
_SCAN_LIMIT = 20_000


AlertId = Annotated[str, Path(pattern=r"^al_[0-9a-f]{24}$")]
Rule = Annotated[str | None, Query(min_length=1, max_length=128, description="type or `family.*`")]
StateQuery = Annotated[AlertState | None, Query()]
PageToken = Annotated[str | None, Query(max_length=4096)]
MaxResults = Annotated[int, Query(ge=1, le=1000)]


def rule_matches(rule: str | None, alert_type: str) -> bool:
    """Whether an alert type falls under `rule` (exact, or a `family.*` prefix)."""
    if rule is None:
        return True
    if rule.endswith(".*"):
        return alert_type.startswith(rule[:-1])
    return alert_type == rule


def collect(
    reader: Reader,
    stream: str,
    wanted: tuple[str | None, AlertState | None],
    page_token: str | None,
    size: int,
) -> AlertList:
    """Walk the stream newest first until a page of matching alerts is found."""
    rule, state = wanted
    query = pagination.fingerprint(stream, rule or "", state or "")
    newest = _after(page_token, query) if page_token else "+"
    states: dict[str, AlertState] = {}
    found: list[AlertEntry] = []
    scanned, last = 0, None
    while len(found) < size and scanned < _SCAN_LIMIT:
        chunk = reader.alerts(stream, newest, _SCAN)
        for entry_id, alert in chunk:
            last = entry_id
            if alert is not None and rule_matches(rule, alert.type):
                current = states.get(alert.run_id) or _state_of(reader, alert)
                states[alert.run_id] = current
                if state is None or current is state:
                    found.append(AlertEntry(**alert.model_dump(), entry_id=entry_id, state=current))
            if len(found) == size:
                break
        scanned += len(chunk)
        if len(chunk) < _SCAN or len(found) == size:
            break
        newest = f"({last}"
    more = last is not None and bool(reader.alerts(stream, f"({last}", 1))
    token = pagination.encode_token([last], query) if more else None
    return AlertList(alerts=_annotated(reader, found), next_page_token=token)


def _annotated(reader: Reader, found: list[AlertEntry]) -> list[AlertEntry]:
    """The entries with their acknowledgements and whether a silence covers them now."""
    if not found:
        return found
    acks = reader.client.hmget(keys.ACKS, [a.id for a in found])
    silences = decode(reader.client.hvals(keys.SILENCES))
    projects: dict[str, str | None] = {}
    now = time.time()
    for entry, ack in zip(found, acks, strict=True):
        if ack is not None:
            entry.acknowledged = Ack.model_validate_json(ack)
        if silences:
            if entry.run_id not in projects:
                info = reader.get_run(entry.run_id)
                projects[entry.run_id] = info.project if info else None
            project = projects[entry.run_id]
            entry.silenced = silencing(silences, entry, project, now) is not None
    return found


@router.post("/alerts/{alert_id}/ack", dependencies=[ADMIN])
def acknowledge(alert_id: AlertId, reader: ReaderDep, body: Ack | None = None) -> Ack:
    """Mark an alert handled (again: the comment and time are replaced)."""
    ack = Ack(at=time.time(), comment=body.comment if body else "")
    reader.client.hset(keys.ACKS, alert_id, ack.model_dump_json())
    return ack


@router.get("/alerts")
def list_alerts(
    reader: ReaderDep,
    rule: Rule = None,
    state: StateQuery = None,
    page_token: PageToken = None,
    max_results: MaxResults = 100,
) -> AlertList:
    """Alerts of every run, newest first; filter by `rule` and `state`."""
    return collect(reader, keys.ALERTS, (rule, state), page_token, max_results)


@router.get("/runs/{run_id}/alerts")
def run_alerts(
    run_id: RunId,
    reader: ReaderDep,
    rule: Rule = None,
    state: StateQuery = None,
    page_token: PageToken = None,
    max_results: MaxResults = 100,
) -> AlertList:
    """One run's alerts, newest first; filter by `rule` and `state`."""
    existing_run(reader, run_id)
    stream = keys.run_alerts(run_id)
    return collect(reader, stream, (rule, state), page_token, max_results)


def _state_of(reader: Reader, alert: Alert) -> AlertState:
    info = reader.get_run(alert.run_id)
    running = info is not None and info.state is RunState.RUNNING
    return AlertState.FIRING if running else AlertState.RESOLVED


def _after(token: str, query: str) -> str:
    after = pagination.decode_token(token, query)
    if len(after) != 1 or not isinstance(after[0], str) or not _ENTRY_ID.fullmatch(after[0]):
        raise FilterError("page_token belongs to a different filter")
    return f"({after[0]}"
