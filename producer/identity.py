"""Who is sending: the run id every rank agrees on, this process's rank and the world size.

Run id order: explicit, `SPECTRAL_EDGE_RUN_ID`, `TORCHELASTIC_RUN_ID` (not the literal `none`),
`SLURM_JOB_ID`, else generated on rank 0 and broadcast when a process group exists.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any

from producer.errors import ConfigError

_SOURCES = ("SPECTRAL_EDGE_RUN_ID", "TORCHELASTIC_RUN_ID", "SLURM_JOB_ID")
_UNSAFE = re.compile(r"[^A-Za-z0-9._:\-]")


def resolve_run_id(explicit: str | None, env: Mapping[str, str]) -> str:
    """The run id from the first source that has one, or one generated and shared from rank 0."""
    found = explicit or _from_env(env)
    if found:
        return found
    run_id = generate_run_id()
    dist = _distributed()
    if dist is not None and dist.get_world_size() > 1:
        box = [run_id]
        dist.broadcast_object_list(box, src=0)
        run_id = box[0]
    return run_id


def rank_and_world(env: Mapping[str, str]) -> tuple[int, int]:
    """This rank and the world size: torch.distributed, else RANK/WORLD_SIZE, else 0 and 1."""
    dist = _distributed()
    if dist is not None:
        return dist.get_rank(), dist.get_world_size()
    rank = _env_int(env, "RANK", 0)
    world = _env_int(env, "WORLD_SIZE", 1)
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} and WORLD_SIZE={world} need 0 <= RANK < WORLD_SIZE")
    return rank, world


def generate_run_id() -> str:
    """A fresh, sortable, wire-safe run id such as `run-20250101-120000-a1b2c3`."""
    return f"run-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def sanitize_run_id(value: str) -> str:
    """Make an id taken from a scheduler safe for the wire (allowed characters, <= 128 long)."""
    cleaned = _UNSAFE.sub("-", value.strip())[:128]
    return cleaned if cleaned[:1].isalnum() else f"r{cleaned}"[:128]


def _from_env(env: Mapping[str, str]) -> str | None:
    for name in _SOURCES:
        value = env.get(name, "").strip()
        if value and not (name == "TORCHELASTIC_RUN_ID" and value.lower() == "none"):
            return sanitize_run_id(value)
    return None


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def _distributed() -> Any:
    """`torch.distributed` when torch is already imported and a process group exists, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    if not dist.is_available() or not dist.is_initialized():
        return None
    return dist
