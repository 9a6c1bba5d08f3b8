"""ApiSettings: explicit arguments > SPECTRAL_EDGE_* environment > defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest

from api import config
from api.config import ApiSettings
from tests.support.imports import imported_modules


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SPECTRAL_EDGE_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = ApiSettings()
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.webhook_max_attempts == 5
    assert settings.webhook_consumer


def test_environment_then_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRAL_EDGE_PORT", "9001")
    monkeypatch.setenv("SPECTRAL_EDGE_WEBHOOK_MAX_ATTEMPTS", "2")
    assert ApiSettings().port == 9001
    assert ApiSettings().webhook_max_attempts == 2
    assert ApiSettings(port=9002).port == 9002


def test_invalid_values_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        ApiSettings(webhook_backoff_base=10.0, webhook_backoff_cap=1.0)
    with pytest.raises(pydantic.ValidationError):
        ApiSettings(port=70000)


def test_the_settings_import_nothing_from_the_webhooks() -> None:
    source = Path(config.__file__).read_text(encoding="utf-8")
    assert not [m for m in imported_modules(source) if m.startswith("api.webhooks")]


def test_settings_repr_hides_the_redis_password() -> None:
    assert "hunter2" not in repr(ApiSettings(redis_url="redis://u:hunter2@h/0"))
