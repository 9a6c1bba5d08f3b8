"""Producer configuration, resolved in one place: argument > `SPECTRAL_EDGE_*` env > default."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from producer.errors import ConfigError
from producer.sketch import METHODS
from producer.wire import MAX_DIM, valid_id

ENV_PREFIX = "SPECTRAL_EDGE_"
MODES = ("online", "offline", "disabled")
LAYOUTS = ("auto", "replicated", "sharded", "allreduce")
SECRETS = frozenset({"secret_key"})
_ENDPOINT = re.compile(r"^[a-z]+://\S+$")
_INTS = frozenset({"every", "dim", "seed", "buffer_max", "buffer_bytes", "linger_ms", "threads"})
_Z85_KEY = re.compile(r"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_FLOATS = frozenset({"heartbeat", "resend_after", "close_timeout", "failover_after"})
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class ProducerConfig:
    """Everything a producer needs; each field `x` reads `SPECTRAL_EDGE_X` from the environment.

    `method` picks the sketch operator (`producer.sketch`), `distributed` the snapshot layout
    (`producer.snapshot`); `threads` = 0 follows torch's thread count; `native` = False keeps
    CPU sketches off the C kernel (`producer.kernel`), which is built into `cache_dir` (by
    default `$XDG_CACHE_HOME/spectral-edge`, else `~/.cache/spectral-edge`); `server_key` (the
    analyzer's Z85 CURVE public key) turns on CURVE, with `public_key`/`secret_key` as this
    client's pair (an ephemeral pair when unset). `endpoint` may list several analyzers,
    comma-separated: each run sends to one of them, picked by rendezvous hashing of its run id,
    and moves to the next after `failover_after` seconds without a reply (`producer.rendezvous`).
    """

    mode: str = "online"
    endpoint: str = "tcp://127.0.0.1:5555"
    run_id: str | None = None
    project: str = "default"
    every: int = 10
    dim: int = 400  # the weak-edge benchmark's smallest d finding the edge >= 99 % of the time
    seed: int = 0
    method: str = "countsketch-srht"
    heartbeat: float = 10.0
    buffer_max: int = 10_000
    buffer_bytes: int = 32 << 20
    resend_after: float = 5.0
    failover_after: float = 10.0
    linger_ms: int = 1000
    close_timeout: float = 5.0
    spool_dir: str = "spool"
    distributed: str = "auto"
    threads: int = 0
    native: bool = True
    cache_dir: str | None = None
    server_key: str | None = None
    public_key: str | None = None
    secret_key: str | None = None

    def __post_init__(self) -> None:
        _check(self.mode in MODES, f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for endpoint in self.endpoints:
            _check(bool(_ENDPOINT.match(endpoint)), f"endpoint {endpoint!r} is not a URL")
        _check(
            self.run_id is None or valid_id(self.run_id),
            f"run_id {self.run_id!r} must be 1-128 of [A-Za-z0-9._:-], starting alphanumeric",
        )
        _check(0 < len(self.project) <= 128, "project must be 1-128 characters")
        _check(self.every >= 1, f"every must be >= 1, got {self.every}")
        _check(1 <= self.dim <= MAX_DIM, f"dim must be in [1, {MAX_DIM}], got {self.dim}")
        _check(0 <= self.seed < 2**64, f"seed must be in [0, 2**64), got {self.seed}")
        _check(self.method in METHODS, f"method must be one of {', '.join(METHODS)}")
        _check(self.heartbeat > 0, f"heartbeat must be > 0 seconds, got {self.heartbeat}")
        _check(self.buffer_max >= 1, f"buffer_max must be >= 1, got {self.buffer_max}")
        _check(self.buffer_bytes >= 1, f"buffer_bytes must be >= 1, got {self.buffer_bytes}")
        _check(self.resend_after > 0, f"resend_after must be > 0 seconds, got {self.resend_after}")
        _check(self.failover_after > 0, f"failover_after must be > 0 s, got {self.failover_after}")
        _check(self.linger_ms >= 0, f"linger_ms must be >= 0, got {self.linger_ms}")
        _check(self.close_timeout >= 0, f"close_timeout must be >= 0, got {self.close_timeout}")
        _check(bool(self.spool_dir), "spool_dir must not be empty")
        _check(self.distributed in LAYOUTS, f"distributed must be one of {', '.join(LAYOUTS)}")
        _check(self.threads >= 0, f"threads must be >= 0, got {self.threads}")
        _check(self.cache_dir is None or bool(self.cache_dir), "cache_dir must not be empty")
        for name in ("server_key", "public_key", "secret_key"):
            key = getattr(self, name)
            _check(key is None or bool(_Z85_KEY.match(key)), f"{name} is not a Z85 CURVE key")
        _check(
            (self.public_key is None) == (self.secret_key is None),
            "public_key and secret_key go together",
        )

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The analyzers `endpoint` lists (comma-separated)."""
        return tuple(e.strip() for e in self.endpoint.split(","))

    def public(self) -> dict[str, Any]:
        """The fields safe to send to the analyzer (secret keys left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in SECRETS}


def resolve_config(env: Mapping[str, str] | None = None, **explicit: Any) -> ProducerConfig:
    """Build a config from explicit arguments (None means unset), then `env`, then defaults."""
    env = os.environ if env is None else env
    names = [f.name for f in fields(ProducerConfig)]
    unknown = sorted(set(explicit) - set(names))
    if unknown:
        raise ConfigError(f"unknown producer option(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name in names:
        variable = ENV_PREFIX + name.upper()
        if explicit.get(name) is not None:
            values[name] = _coerce(name, explicit[name], f"argument {name}")
        elif env.get(variable, "").strip():
            values[name] = _coerce(name, env[variable].strip(), variable)
    return ProducerConfig(**values)


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert one raw value to its field's type, naming `source` when it cannot be."""
    if name in _INTS:
        return _number(int, "an integer", value, source)
    if name in _FLOATS:
        return _number(float, "a number", value, source)
    if name == "native":
        return _flag(value, source)
    if not isinstance(value, str):
        raise ConfigError(f"{source}={value!r} is not a string")
    return value.strip().lower() if name in ("mode", "distributed") else value


def _number(kind: type, what: str, value: Any, source: str) -> Any:
    if isinstance(value, bool) or (kind is int and isinstance(value, float)):
        raise ConfigError(f"{source}={value!r} is not {what}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}={value!r} is not {what}") from None


def _flag(value: Any, source: str) -> bool:
    """A bool, or a word for one: 1/0, true/false, yes/no, on/off (any case)."""
    word = value.strip().lower() if isinstance(value, str) else value
    if value is True or word in _YES:
        return True
    if value is False or word in _NO:
        return False
    raise ConfigError(f"{source}={value!r} is not a boolean (1/0, true/false, yes/no, on/off)")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
