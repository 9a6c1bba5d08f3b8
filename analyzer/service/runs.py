"""Run lifecycle: the registry entry read from its meta HASH, and the crash policy.

A run is `running` from its START, `finished` or `failed` from its FINISH, and `crashed` when it is
running but silent (no message of any kind, heartbeats included) for longer than the heartbeat
timeout; a message from a crashed run makes it running again.
"""

from __future__ import annotations

import json

from analyzer.records import RunInfo, RunState


def run_state(run: RunInfo, now: float, timeout: float) -> RunState:
    """A run's state as of `now`: running runs silent for longer than `timeout` have crashed."""
    if run.state is RunState.RUNNING and now - run.updated_at > timeout:
        return RunState.CRASHED
    return run.state


def run_info(raw: dict[bytes, bytes]) -> RunInfo | None:
    """A RunInfo from a meta HASH, or None when the hash is empty or has no START yet."""
    if not raw or b"run_id" not in raw:
        return None
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    finished_at = meta.get("finished_at")
    return RunInfo(
        run_id=meta["run_id"],
        project=meta.get("project", "default"),
        state=RunState(meta.get("state", "running")),
        created_at=float(meta["created_at"]),
        updated_at=float(meta["updated_at"]),
        finished_at=None if finished_at is None else float(finished_at),
        world=int(meta.get("world", 1)),
        config=json.loads(meta.get("config", "{}")),
        dropped=sum(int(v) for k, v in meta.items() if k.startswith("dropped:")),
    )
