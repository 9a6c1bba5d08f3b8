"""Configuration: explicit argument > SPECTRAL_EDGE_* environment > default, validated."""

from __future__ import annotations

import dataclasses

import pytest

from producer.config import ProducerConfig, resolve_config
from producer.errors import ConfigError


def test_defaults() -> None:
    config = resolve_config({})
    assert config == ProducerConfig()
    assert (config.mode, config.endpoint, config.every, config.dim, config.seed) == (
        "online",
        "tcp://127.0.0.1:5555",
        10,
        400,
        0,
    )
    assert (config.heartbeat, config.buffer_max, config.resend_after) == (10.0, 10_000, 5.0)
    assert (config.linger_ms, config.close_timeout, config.run_id) == (1000, 5.0, None)
    assert (config.native, config.cache_dir) == (True, None)


def test_environment_overrides_defaults() -> None:
    env = {
        "SPECTRAL_EDGE_MODE": "Offline",
        "SPECTRAL_EDGE_ENDPOINT": "tcp://10.0.0.1:6000",
        "SPECTRAL_EDGE_RUN_ID": "run-7",
        "SPECTRAL_EDGE_PROJECT": "grokking",
        "SPECTRAL_EDGE_EVERY": "5",
        "SPECTRAL_EDGE_DIM": "128",
        "SPECTRAL_EDGE_SEED": "42",
        "SPECTRAL_EDGE_HEARTBEAT": "2.5",
        "SPECTRAL_EDGE_BUFFER_MAX": "7",
        "SPECTRAL_EDGE_SPOOL_DIR": "/tmp/spool",
    }
    config = resolve_config(env)
    assert config.mode == "offline"
    assert config.endpoint == "tcp://10.0.0.1:6000"
    assert (config.run_id, config.project) == ("run-7", "grokking")
    assert (config.every, config.dim, config.seed) == (5, 128, 42)
    assert (config.heartbeat, config.buffer_max, config.spool_dir) == (2.5, 7, "/tmp/spool")


def test_explicit_beats_environment_and_none_means_unset() -> None:
    env = {"SPECTRAL_EDGE_EVERY": "5", "SPECTRAL_EDGE_DIM": "128", "SPECTRAL_EDGE_MODE": "offline"}
    config = resolve_config(env, every=3, dim=None, mode="disabled")
    assert (config.every, config.dim, config.mode) == (3, 128, "disabled")


def test_blank_environment_values_are_ignored() -> None:
    assert resolve_config({"SPECTRAL_EDGE_EVERY": "  "}).every == 10


@pytest.mark.parametrize(
    ("env", "explicit", "match"),
    [
        ({"SPECTRAL_EDGE_EVERY": "ten"}, {}, "SPECTRAL_EDGE_EVERY='ten' is not an integer"),
        ({"SPECTRAL_EDGE_HEARTBEAT": "soon"}, {}, "SPECTRAL_EDGE_HEARTBEAT='soon' is not a number"),
        ({}, {"mode": "sometimes"}, "mode must be one of online, offline, disabled"),
        ({}, {"every": 0}, "every must be >= 1"),
        ({}, {"every": 2.5}, "argument every=2.5 is not an integer"),
        ({}, {"dim": True}, "argument dim=True is not an integer"),
        ({}, {"dim": 1 << 20}, "dim must be in"),
        ({}, {"seed": -1}, "seed must be in"),
        ({}, {"endpoint": "localhost"}, "is not a URL"),
        ({}, {"run_id": "has space"}, "run_id 'has space' must be"),
        ({}, {"heartbeat": 0}, "heartbeat must be > 0"),
        ({}, {"buffer_max": 0}, "buffer_max must be >= 1"),
        ({}, {"colour": "red"}, "unknown producer option"),
        ({}, {"distributed": "ring"}, "distributed must be one of"),
        ({}, {"method": "gaussian"}, "method must be one of"),
        ({}, {"threads": -1}, "threads must be >= 0"),
        ({}, {"buffer_bytes": 0}, "buffer_bytes must be >= 1"),
        ({}, {"server_key": "short"}, "server_key is not a Z85 CURVE key"),
        ({}, {"public_key": "x" * 40}, "public_key and secret_key go together"),
        ({"SPECTRAL_EDGE_NATIVE": "maybe"}, {}, "SPECTRAL_EDGE_NATIVE='maybe' is not a boolean"),
        ({}, {"native": 1}, "argument native=1 is not a boolean"),
        ({}, {"cache_dir": ""}, "cache_dir must not be empty"),
    ],
)
def test_invalid_values_raise_config_error(env: dict, explicit: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        resolve_config(env, **explicit)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ProducerConfig().every = 3  # type: ignore[misc]


def test_distributed_and_sketch_settings_from_the_environment() -> None:
    env = {
        "SPECTRAL_EDGE_DISTRIBUTED": " AllReduce ",
        "SPECTRAL_EDGE_METHOD": "countsketch",
        "SPECTRAL_EDGE_THREADS": "3",
        "SPECTRAL_EDGE_BUFFER_BYTES": "1000",
    }
    config = resolve_config(env)
    assert (config.distributed, config.method, config.threads, config.buffer_bytes) == (
        "allreduce",
        "countsketch",
        3,
        1000,
    )
    assert ProducerConfig().method == "countsketch-srht"


@pytest.mark.parametrize(
    ("word", "native"),
    [("0", False), ("off", False), (" No ", False), ("FALSE", False), ("1", True), ("on", True)],
)
def test_native_kernel_switch_from_the_environment(word: str, native: bool) -> None:
    assert resolve_config({"SPECTRAL_EDGE_NATIVE": word}).native is native


def test_kernel_settings_resolve_like_the_others() -> None:
    env = {"SPECTRAL_EDGE_NATIVE": "0", "SPECTRAL_EDGE_CACHE_DIR": "/tmp/kernels"}
    assert (resolve_config(env).native, resolve_config(env).cache_dir) == (False, "/tmp/kernels")
    explicit = resolve_config(env, native=True, cache_dir="/opt/kernels")
    assert (explicit.native, explicit.cache_dir) == (True, "/opt/kernels")
    assert resolve_config(env, native="yes").native is True
