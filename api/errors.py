"""Exceptions of the api package and the handlers that render every error as one JSON shape.

ApiError                 (an HTTP error: `status`, machine-readable `error_code`, `message`)
 ├── FilterError         (a runs filter or ordering that does not parse: 400)
 └── SignatureError      (a webhook signature that does not verify: missing headers, stale or
                          future timestamp, malformed secret, no matching signature)

Every error response is `{"error_code": ..., "message": ...}` with the matching HTTP status.
"""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    503: "TEMPORARILY_UNAVAILABLE",
}


class ApiError(Exception):
    """Root of every error the api raises; rendered as `{error_code, message}` with `status`."""

    def __init__(
        self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}


class SignatureError(ApiError):
    """A webhook request whose signature headers do not verify."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "INVALID_SIGNATURE", message)


class FilterError(ApiError):
    """A `filter` or `order_by` expression that does not parse."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "INVALID_PARAMETER_VALUE", message)


def not_found(what: str) -> ApiError:
    """The 404 for a resource that does not exist."""
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"{what} does not exist")


def _body(
    error_code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error_code": error_code, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _body(exc.error_code, exc.message, exc.status, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return _body("INVALID_PARAMETER_VALUE", "; ".join(parts), 400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "INTERNAL_ERROR")
    return _body(code, str(exc.detail), exc.status_code)


async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
    log.warning("redis unavailable: %s", exc)
    return _body("TEMPORARILY_UNAVAILABLE", "the metrics store is unreachable", 503)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled %s: %s", type(exc).__name__, exc)
    return _body("INTERNAL_ERROR", "internal error", 500)


def install_handlers(app: FastAPI) -> None:
    """Render ApiError, validation and routing errors, a Redis outage and any bug as JSON."""
    app.add_exception_handler(Exception, _unexpected)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(redis.ConnectionError, _redis_down)
    app.add_exception_handler(redis.TimeoutError, _redis_down)
