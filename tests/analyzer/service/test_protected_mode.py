"""Protected mode: without CURVE the analyzer binds only endpoints this machine alone can reach,
unless the operator says `insecure`; the refusal names both ways out."""

from __future__ import annotations

import pydantic
import pytest
import zmq

from analyzer.service.config import AnalyzerSettings, is_local

SECRET = zmq.curve_keypair()[1].decode()
LOCAL = ["tcp://127.0.0.1:5555", "tcp://127.8.0.1:*", "tcp://localhost:5555", "tcp://[::1]:5555",
         "ipc:///tmp/spectral-edge.sock", "inproc://analyzer"]  # fmt: skip
OPEN = ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.5:5555", "tcp://[::]:5555",
        "tcp://eth0:5555", "tcp://analyzer.example:5555"]  # fmt: skip


@pytest.mark.parametrize("bind", LOCAL)
def test_local_endpoints_need_no_keys(bind: str) -> None:
    assert is_local(bind)
    assert AnalyzerSettings(bind=bind).bind == bind


@pytest.mark.parametrize("bind", OPEN)
def test_an_open_endpoint_without_keys_is_refused(bind: str) -> None:
    assert not is_local(bind)
    with pytest.raises(pydantic.ValidationError) as refused:
        AnalyzerSettings(bind=bind)
    (error,) = refused.value.errors()
    assert error["type"] == "insecure_bind"
    assert bind in error["msg"] and "--curve-keys" in error["msg"] and "--insecure" in error["msg"]


@pytest.mark.parametrize("bind", OPEN)
def test_curve_keys_or_insecure_open_the_endpoint(bind: str) -> None:
    assert AnalyzerSettings(bind=bind, curve_secret_key=SECRET).curve_secret_key == SECRET
    assert AnalyzerSettings(bind=bind, insecure=True).insecure


def test_the_environment_binds_and_opts_out_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRAL_EDGE_BIND", "tcp://0.0.0.0:5555")
    with pytest.raises(pydantic.ValidationError, match="without CURVE"):
        AnalyzerSettings()
    monkeypatch.setenv("SPECTRAL_EDGE_INSECURE", "true")
    assert AnalyzerSettings().bind == "tcp://0.0.0.0:5555"
    monkeypatch.delenv("SPECTRAL_EDGE_INSECURE")
    monkeypatch.setenv("SPECTRAL_EDGE_CURVE_SECRET_KEY", SECRET)
    assert AnalyzerSettings().curve_secret_key == SECRET


def test_settings_repr_hides_the_redis_password_and_the_secret_key() -> None:
    secret_key = "x" * 40
    shown = repr(AnalyzerSettings(redis_url="redis://u:hunter2@h/0", curve_secret_key=secret_key))
    assert "hunter2" not in shown and secret_key not in shown
