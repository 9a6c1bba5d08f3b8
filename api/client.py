"""A Python client of the REST api that needs only httpx (pandas for frames), not the server extra.

    from api.client import Client
    with Client("http://127.0.0.1:8000", token="se_...") as se:
        runs = se.runs(filter="state = 'running'")
        history = se.metrics(runs.run_id[0], window=10)   # one row per window, sigma_1, ...

Frames have the columns of the api's `format=csv` tables (`api.export`); `pandas=False` returns the
api's JSON documents instead. `token` defaults to `SPECTRAL_EDGE_TOKEN`. An api error raises
`ClientError` with its status and error code; 429 and 503 answers are retried after Retry-After.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import pandas as pd

PAGE = 1000
RETRIES = 3
MAX_WAIT = 5.0


class ClientError(Exception):
    """An api answer other than success: `status`, the api's `error_code`, and its message."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code


class Client:
    """Runs, window metrics, scalars, alerts and spectra of one spectral-edge api."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = token if token is not None else os.environ.get("SPECTRAL_EDGE_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1",
            headers=headers,
            timeout=timeout,
            transport=transport or httpx.HTTPTransport(retries=RETRIES),
        )

    def runs(self, filter: str = "", order_by: str | None = None, *, pandas: bool = True) -> Any:
        """Every run matching `filter` (the api's filter syntax), following the pages."""
        params = {"filter": filter, **({"order_by": order_by} if order_by else {})}
        found = list(self._pages("/runs", params, "runs"))
        return _frame(found) if pandas else found

    def run(self, run_id: str) -> dict[str, Any]:
        """One run's registry entry."""
        doc: dict[str, Any] = self._get(f"/runs/{run_id}").json()
        return doc

    def series(self, run_id: str) -> list[dict[str, Any]]:
        """The run's (group, window, stride) metric series with their latest step."""
        found: list[dict[str, Any]] = self._get(f"/runs/{run_id}/series").json()["series"]
        return found

    def metrics(
        self,
        run_id: str,
        window: int = 10,
        group: str = "all",
        stride: int = 1,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        downsample: int | None = None,
        pandas: bool = True,
    ) -> Any:
        """One series' window records in step order: a frame, or the records' JSON."""
        params = _steps(start_step, end_step) | {"window": window, "group": group, "stride": stride}
        if downsample is not None:
            params["downsample"] = downsample
        if pandas:
            return self._table(f"/runs/{run_id}/metrics", params)
        return self._get(f"/runs/{run_id}/metrics", params).json()["records"]

    def scalars(
        self,
        run_id: str,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        pandas: bool = True,
    ) -> Any:
        """Logged scalars in step order: a frame with one column per name, or the points' JSON."""
        params = _steps(start_step, end_step)
        if pandas:
            return self._table(f"/runs/{run_id}/scalars", params)
        return self._get(f"/runs/{run_id}/scalars", params).json()["points"]

    def alerts(
        self,
        run_id: str | None = None,
        *,
        rule: str | None = None,
        state: str | None = None,
        pandas: bool = True,
    ) -> Any:
        """Alerts newest first, of one run or all: `rule` an alert type or `family.*`."""
        path = f"/runs/{run_id}/alerts" if run_id else "/alerts"
        params = {k: v for k, v in {"rule": rule, "state": state}.items() if v is not None}
        found = list(self._pages(path, params, "alerts"))
        return _frame(found) if pandas else found

    def spectrum(
        self, run_id: str, window: int = 10, group: str = "all", stride: int = 1
    ) -> dict[str, Any]:
        """The singular values and edge of the series' latest window."""
        params = {"window": window, "group": group, "stride": stride}
        doc: dict[str, Any] = self._get(f"/runs/{run_id}/spectrum", params).json()
        return doc

    def export(
        self,
        run_id: str,
        fmt: str = "csv",
        window: int = 10,
        group: str = "all",
        stride: int = 1,
        *,
        scalars: bool = False,
    ) -> bytes:
        """A series' history, or with `scalars` the logged scalars, as a csv/parquet/json file."""
        if scalars:
            return self._get(f"/runs/{run_id}/scalars", {"format": fmt}).content
        params = {"window": window, "group": group, "stride": stride, "format": fmt}
        return self._get(f"/runs/{run_id}/metrics", params).content

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _table(self, path: str, params: dict[str, Any]) -> pd.DataFrame:
        import pandas as pd

        body = self._get(path, {**params, "format": "csv"}).content
        return pd.read_csv(io.BytesIO(body)) if body.strip() else pd.DataFrame()

    def _pages(self, path: str, params: dict[str, Any], field: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = {**params, "max_results": PAGE, **({"page_token": token} if token else {})}
            doc = self._get(path, page).json()
            yield from doc[field]
            token = doc.get("next_page_token")
            if not token:
                return

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        for attempt in range(RETRIES + 1):
            response = self.http.get(path, params=params)
            if response.status_code not in (429, 503) or attempt == RETRIES:
                break
            time.sleep(_retry_after(response, attempt))
        if response.is_success:
            return response
        try:
            doc = response.json()
            code, message = doc["error_code"], doc["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "UNKNOWN", response.text[:200]
        raise ClientError(response.status_code, code, message)


def _steps(start_step: int | None, end_step: int | None) -> dict[str, Any]:
    given = {"start_step": start_step, "end_step": end_step}
    return {k: v for k, v in given.items() if v is not None}


def _retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying: the answer's Retry-After, else 0.25 s doubling."""
    try:
        wait = float(response.headers.get("Retry-After", ""))
    except ValueError:
        wait = 0.25 * 2**attempt
    return min(max(wait, 0.0), MAX_WAIT)


def _frame(documents: list[dict[str, Any]]) -> pd.DataFrame:
    """JSON documents as a frame, nested objects flattened to dotted columns."""
    import pandas as pd

    return pd.json_normalize(documents) if documents else pd.DataFrame()
