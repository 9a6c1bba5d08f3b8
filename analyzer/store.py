"""The one module that calls Redis: atomic writes via `analyzer/lua/`, typed reads for the api."""

from __future__ import annotations

import json
from enum import IntEnum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import redis

from analyzer import keys
from analyzer.errors import StateError
from analyzer.records import Alert, RunInfo, WindowRecord
from producer.wire import Kind, Message

_LUA = Path(__file__).with_name("lua")
_BATCH = 64


class Applied(IntEnum):
    """Outcome of applying one message (the codes `apply.lua` returns)."""

    APPLIED = 1
    DUPLICATE = 0
    UNKNOWN_RUN = -1
    DIM_MISMATCH = -2


class ApplyResult(NamedTuple):
    """What `Store.apply` did, and how many partial sketches the snapshot holds now."""

    outcome: Applied
    partials: int


class Store:
    """Typed access to the analyzer's Redis state; the client must not decode responses."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._scripts = {
            name: client.register_script((_LUA / f"{name}.lua").read_text(encoding="utf-8"))
            for name in ("apply", "record_window", "advance_detector", "mark_crashed")
        }

    # -- reads the api uses ------------------------------------------------------------------

    def list_runs(self) -> list[RunInfo]:
        """Every registered run, newest first."""
        run_ids = [r.decode() for r in self.client.zrevrange(keys.RUNS, 0, -1)]
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hgetall(keys.meta(run_id))
            metas = pipe.execute()
        return [info for raw in metas if (info := _run_info(raw)) is not None]

    def get_run(self, run_id: str) -> RunInfo | None:
        """One run's registry entry, or None when unknown."""
        return _run_info(self.client.hgetall(keys.meta(run_id)))

    def metrics(
        self,
        run_id: str,
        group: str = "all",
        window: int = 10,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[WindowRecord]:
        """Window records of one series in step order, optionally within [start_step, end_step]."""
        low = "-inf" if start_step is None else start_step
        high = "+inf" if end_step is None else end_step
        members = self.client.zrangebyscore(keys.metrics(run_id, group, window), low, high)
        return [WindowRecord.model_validate_json(m) for m in members]

    def run_alerts(self, run_id: str) -> list[Alert]:
        """The run's alerts, oldest first."""
        entries = self.client.xrange(keys.run_alerts(run_id))
        return [Alert.model_validate_json(fields[b"alert"]) for _, fields in entries]

    def scalars(self, run_id: str) -> list[dict[str, Any]]:
        """Logged scalars `{"step", "values"}` in step order."""
        return [json.loads(m) for m in self.client.zrange(keys.scalars(run_id), 0, -1)]

    # -- ingest ------------------------------------------------------------------------------

    def apply(self, message: Message, now: float) -> ApplyResult:
        """Apply a decoded message at most once (`apply.lua`)."""
        run = message.run
        target, extra = _kind_args(message)
        script_keys = [
            keys.seen(run, message.rank),
            keys.meta(run),
            keys.RUNS,
            target,
            keys.steps(run, message.group),
        ]
        dropped = _int_or_blank(message.body.get("dropped"))
        args = [message.seq, str(message.kind), run, repr(now), message.rank, dropped, *extra]
        code, partials = self._scripts["apply"](keys=script_keys, args=args)
        return ApplyResult(Applied(int(code)), int(partials))

    def assemble(self, run_id: str, group: str, index: int, owners: int) -> bool:
        """Sum a snapshot's partial sketches (in rank order) once all owners arrived."""
        parts = self.client.hgetall(keys.partials(run_id, group, index))
        if len(parts) < owners:
            return False
        ordered = sorted(parts.items(), key=lambda item: int(item[0]))
        total = np.sum([np.frombuffer(v, dtype="<f8") for _, v in ordered], axis=0)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hsetnx(keys.snapshots(run_id, group), str(index), total.astype("<f8").tobytes())
            pipe.delete(keys.partials(run_id, group, index))
            pipe.execute()
        return True

    def present(self, run_id: str, group: str, indices: range) -> set[int]:
        """Which of these snapshot indices hold a complete sketch."""
        with self.client.pipeline(transaction=False) as pipe:
            for index in indices:
                pipe.hexists(keys.snapshots(run_id, group), str(index))
            found = pipe.execute()
        return {index for index, hit in zip(indices, found, strict=True) if hit}

    def recorded(self, run_id: str, group: str, window: int, ends: list[int]) -> set[int]:
        """Which of these window ends are already computed."""
        if not ends:
            return set()
        steps = self.client.hmget(keys.windows(run_id, group, window), [str(e) for e in ends])
        return {end for end, step in zip(ends, steps, strict=True) if step is not None}

    def snapshot_block(self, run_id: str, group: str, first: int, last: int) -> np.ndarray:
        """Snapshots first..last as a (last - first + 1) x d float64 array."""
        fields = [str(i) for i in range(first, last + 1)]
        blobs = self.client.hmget(keys.snapshots(run_id, group), fields)
        if any(blob is None for blob in blobs):
            raise StateError(f"snapshots {first}..{last} of {run_id}/{group} are incomplete")
        if len({len(blob) for blob in blobs}) != 1 or len(blobs[0]) % 8:
            raise StateError(f"snapshots {first}..{last} of {run_id}/{group} differ in size")
        return np.stack([np.frombuffer(blob, dtype="<f8") for blob in blobs])

    def step_of(self, run_id: str, group: str, index: int) -> int:
        """The optimizer step of a snapshot."""
        step = self.client.hget(keys.steps(run_id, group), str(index))
        if step is None:
            raise StateError(f"no step for snapshot {index} of {run_id}/{group}")
        return int(step)

    def record_window(self, record: WindowRecord) -> bool:
        """Store a window record exactly once; True when this call stored it."""
        run, group, window = record.run_id, record.group, record.window
        script_keys = [keys.windows(run, group, window), keys.metrics(run, group, window)]
        args = [record.index, record.step, record.model_dump_json()]
        return bool(self._scripts["record_window"](keys=script_keys, args=args))

    def window_records(
        self, run_id: str, group: str, window: int, first: int
    ) -> list[WindowRecord]:
        """Records of consecutive window ends first, first + 1, ... up to the first missing one."""
        marker = keys.windows(run_id, group, window)
        steps: dict[int, int] = {}
        start, complete = first, True
        while complete:
            batch = self.client.hmget(marker, [str(i) for i in range(start, start + _BATCH)])
            for offset, step in enumerate(batch):
                if step is None:
                    complete = False
                    break
                steps[start + offset] = int(step)
            start += _BATCH
        if not steps:
            return []
        found = self.metrics(run_id, group, window, min(steps.values()), max(steps.values()))
        by_index = {r.index: r for r in found if r.index in steps}
        if len(by_index) != len(steps):
            raise StateError(f"window records of {run_id}/{group}/W={window} are missing")
        return [by_index[i] for i in sorted(by_index)]

    def detector_state(self, run_id: str, group: str, window: int) -> bytes | None:
        """A detector's serialised state, or None before its first record."""
        state: bytes | None = self.client.get(keys.detector(run_id, group, window))
        return state

    def advance_detector(
        self,
        run_id: str,
        group: str,
        window: int,
        expected: bytes | None,
        state: bytes,
        alerts: list[Alert],
    ) -> bool:
        """Swap a detector's state if it is still `expected`, and publish its alerts with it."""
        script_keys = [keys.detector(run_id, group, window), keys.run_alerts(run_id), keys.ALERTS]
        args = [expected or b"", state, *(a.model_dump_json() for a in alerts)]
        return bool(self._scripts["advance_detector"](keys=script_keys, args=args))

    def mark_crashed(self, run_id: str, updated_at: float) -> bool:
        """Mark a run crashed if it is running and silent since `updated_at`."""
        script = self._scripts["mark_crashed"]
        return bool(script(keys=[keys.meta(run_id)], args=[repr(updated_at)]))


def _kind_args(message: Message) -> tuple[str, list[Any]]:
    """The kind-specific target key and ARGV tail of `apply.lua` (see its header)."""
    run, body = message.run, message.body
    if message.kind is Kind.START:
        project = body.get("project")
        config = {k: v for k, v in body.items() if k != "project"}
        return keys.meta(run), [
            project if isinstance(project, str) and project else "default",
            message.world,
            json.dumps(config, sort_keys=True, allow_nan=False),
            _int_or_blank(body.get("d")),
        ]
    if message.kind is Kind.SKETCH:
        if message.owners == 1:
            target = keys.snapshots(run, message.group)
        else:
            target = keys.partials(run, message.group, message.index)
        payload = np.ascontiguousarray(message.payload, dtype="<f8").tobytes()
        return target, [message.index, message.step, message.owners, message.d, payload]
    if message.kind is Kind.SCALARS:
        member = {"step": message.step, "values": body.get("values", {})}
        encoded = json.dumps(member, sort_keys=True, allow_nan=False)
        return keys.scalars(run), [message.step, encoded]
    if message.kind is Kind.FINISH:
        return keys.meta(run), ["failed" if body.get("status") == "failed" else "finished"]
    return keys.meta(run), []


def _int_or_blank(value: object) -> int | str:
    """An int ARGV, or '' for anything else (the scripts read '' as absent)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else ""


def _run_info(raw: dict[bytes, bytes]) -> RunInfo | None:
    """A RunInfo from a meta hash, or None when the hash is empty."""
    if not raw:
        return None
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    finished_at = meta.get("finished_at")
    return RunInfo(
        run_id=meta["run_id"],
        project=meta.get("project", "default"),
        state=meta.get("state", "running"),
        created_at=float(meta["created_at"]),
        updated_at=float(meta["updated_at"]),
        finished_at=None if finished_at is None else float(finished_at),
        world=int(meta.get("world", 1)),
        config=json.loads(meta.get("config", "{}")),
        dropped=sum(int(v) for k, v in meta.items() if k.startswith("dropped:")),
    )
