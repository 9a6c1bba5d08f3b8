"""The pure math of `analyzer.core` imports no I/O library and no service module."""

from __future__ import annotations

from pathlib import Path

import pytest

import analyzer
from tests.support.imports import imported_modules

ROOT = Path(analyzer.__file__).parent
IO_LIBRARIES = {
    "redis", "zmq", "httpx", "fastapi", "starlette", "uvicorn", "prometheus_client", "socket",
    "subprocess", "requests", "urllib", "http", "asyncio", "threading", "api",
}  # fmt: skip
PURE_ANALYZER = ("analyzer.core", "analyzer.errors", "analyzer.records")
PURE_MODULES = [*sorted((ROOT / "core").glob("*.py")), ROOT / "errors.py", ROOT / "records.py"]


def offences(source: str) -> list[str]:
    """The imports of one module's source that a pure module must not make."""
    found = []
    for name in imported_modules(source):
        root = name.split(".")[0]
        service = root == "analyzer" and not name.startswith(PURE_ANALYZER)
        if root in IO_LIBRARIES or service:
            found.append(name)
    return found


@pytest.mark.parametrize("path", PURE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io_and_no_service(path: Path) -> None:
    assert offences(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import redis", ["redis"]),
        ("import zmq.auth", ["zmq.auth"]),
        ("from httpx import Client", ["httpx.Client"]),
        ("from analyzer.service.store import Store", ["analyzer.service.store.Store"]),
        ("from analyzer import keys, records", ["analyzer.keys"]),
        ("from analyzer.core import edge\nimport numpy", []),
    ],
)
def test_the_check_finds_each_kind_of_offence(source: str, expected: list[str]) -> None:
    assert offences(source) == expected


def test_the_core_holds_the_math() -> None:
    names = {p.stem for p in (ROOT / "core").glob("*.py")}
    assert {"gram", "spectrum", "edge", "phases", "coupling", "granger", "grokking"} <= names
