"""AnalyzerSettings: explicit arguments > SPECTRAL_EDGE_* environment > defaults."""

from __future__ import annotations

import pydantic
import pytest

from analyzer.service.config import DEFAULT_STRIDES, AnalyzerSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "BIND", "WINDOWS", "STRIDES", "COLLAPSE_THRESHOLD", "EDGE_RULE"):
        monkeypatch.delenv(f"SPECTRAL_EDGE_{name}", raising=False)
    settings = AnalyzerSettings()
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.bind == "tcp://127.0.0.1:5555"
    assert settings.windows == [10, 20, 30]
    assert settings.strides == list(DEFAULT_STRIDES)
    assert (settings.collapse_threshold, settings.plateau_min, settings.plateau_windows) == (
        1.2,
        1.5,
        3,
    )
    assert (settings.heartbeat_timeout, settings.edge_rule) == (60.0, "weighted")
    assert (settings.assembly_timeout, settings.gap_timeout, settings.batch_max) == (
        30.0,
        60.0,
        1024,
    )
    assert (settings.metrics_port, settings.curve_secret_key, settings.redis_cluster) == (
        None,
        None,
        False,
    )


def test_environment_then_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRAL_EDGE_WINDOWS", "[30, 10, 10]")
    monkeypatch.setenv("SPECTRAL_EDGE_STRIDES", "[25, 1, 5, 5]")
    monkeypatch.setenv("SPECTRAL_EDGE_COLLAPSE_THRESHOLD", "1.3")
    monkeypatch.setenv("SPECTRAL_EDGE_MODE", "offline")  # a producer variable: ignored here
    assert AnalyzerSettings().windows == [10, 30]
    assert AnalyzerSettings().strides == [1, 5, 25]
    assert AnalyzerSettings(strides=[1000]).strides == [1000]
    assert AnalyzerSettings().collapse_threshold == 1.3
    assert AnalyzerSettings(collapse_threshold=1.15).collapse_threshold == 1.15


@pytest.mark.parametrize(
    "bad",
    [
        {"windows": []},
        {"windows": [1]},
        {"strides": []},
        {"strides": [0]},
        {"strides": [1, 1001]},
        {"plateau_windows": 0},
        {"edge_rule": "median"},
        {"keep_records": 0},
        {"assembly_timeout": 0},
        {"curve_secret_key": "short"},
    ],
)
def test_invalid_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        AnalyzerSettings(**bad)
