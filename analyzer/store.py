"""The one module that calls Redis: atomic per-run scripts in `analyzer/lua/`, typed reads.

Works with `redis.Redis` and `redis.cluster.RedisCluster` alike (raw bytes, no decoding): every
script touches one run's `{run_id}` keys; global indexes follow as single-key commands in the
order `analyzer.keys` documents. Scripts run through pipelines, one round trip per batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from analyzer import keys
from analyzer.errors import StateError
from analyzer.records import Alert, RunInfo, WindowRecord
from analyzer.runs import run_info
from analyzer.scripts import Call, Limits, apply_calls
from producer.wire import Kind, Message

_LUA = Path(__file__).with_name("lua")
_SCRIPTS = ("apply", "assemble", "advance", "detect_scalars", "record_window", "mark_crashed")
Client = redis.Redis | redis.RedisCluster


def connect(url: str, cluster: bool = False) -> Client:
    """A raw-bytes client of a single Redis or (`cluster`) of a Redis Cluster via any node."""
    if cluster:
        return redis.RedisCluster.from_url(url)
    return redis.Redis.from_url(url)


class Store:
    """Typed access to the analyzer's Redis state; the client must not decode responses."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._text = {n: (_LUA / f"{n}.lua").read_text(encoding="utf-8") for n in _SCRIPTS}
        self._sha = {n: client.register_script(t).sha for n, t in self._text.items()}

    # -- reads the api uses ------------------------------------------------------------------

    def list_runs(self) -> list[RunInfo]:
        """Every registered run, newest first."""
        run_ids = [r.decode() for r in self.client.zrevrange(keys.RUNS, 0, -1)]
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hgetall(keys.meta(run_id))
            metas = pipe.execute()
        return [info for raw in metas if (info := run_info(raw)) is not None]

    def get_run(self, run_id: str) -> RunInfo | None:
        """One run's registry entry, or None when unknown."""
        return run_info(self.client.hgetall(keys.meta(run_id)))

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

    # -- writes ------------------------------------------------------------------------------

    def run(self, calls: Sequence[Call]) -> list[Any]:
        """Run script calls in one pipeline; scripts a restarted server forgot are loaded again."""
        for attempt in range(2):
            with self.client.pipeline(transaction=False) as pipe:
                for call in calls:
                    sha = self._sha[call.script]
                    pipe.execute_command("EVALSHA", sha, len(call.keys), *call.keys, *call.args)
                try:
                    return list(pipe.execute())
                except redis.exceptions.NoScriptError:
                    if attempt:
                        raise
            for text in self._text.values():
                self.client.script_load(text)
        raise StateError("unreachable")

    def register(self, runs: dict[str, float]) -> None:
        """Add runs to the global registry (idempotent: ZADD NX), after their START applied."""
        if runs:
            with self.client.pipeline(transaction=False) as pipe:
                for run_id, created_at in runs.items():
                    pipe.zadd(keys.RUNS, {run_id: created_at}, nx=True)
                pipe.execute()

    def publish(self, run_ids: Sequence[str]) -> int:
        """Copy the runs' outbox alerts to the global stream, then drop them from the outboxes."""
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.lrange(keys.outbox(run_id), 0, -1)
            pending = dict(zip(run_ids, pipe.execute(), strict=True))
        with self.client.pipeline(transaction=False) as pipe:
            for run_id, docs in pending.items():
                for doc in docs:
                    pipe.xadd(keys.ALERTS, {"alert": doc})
                if docs:
                    pipe.ltrim(keys.outbox(run_id), len(docs), -1)
            pipe.execute()
        return sum(len(docs) for docs in pending.values())

    def load(self, run_id: str, group: str) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
        """A series' state HASH and its pending snapshots HASH."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.series(run_id, group))
            pipe.hgetall(keys.snapshots(run_id, group))
            state, pending = pipe.execute()
        return state, pending

    def partials(self, run_id: str, group: str, index: int) -> dict[int, bytes]:
        """The partial snapshot blobs of one snapshot, by rank."""
        raw = self.client.hgetall(keys.partials(run_id, group, index))
        return {int(rank): blob for rank, blob in raw.items()}

    def expired(self, run_id: str, now: float) -> list[str]:
        """The run's deadline members due by `now`."""
        due = self.client.zrangebyscore(keys.deadlines(run_id), "-inf", now)
        return [member.decode() for member in due]

    def clear_deadline(self, run_id: str, member: str) -> None:
        """Drop a deadline that needs nothing done any more."""
        self.client.zrem(keys.deadlines(run_id), member)

    def detector_state(self, run_id: str) -> tuple[int, bytes | None]:
        """The run's scalar-detector version and state (0, None before the first)."""
        version, state = self.client.hmget(keys.scalar_detectors(run_id), ["v", "state"])
        return int(version or 0), state

    def record_window(self, record: WindowRecord) -> bool:
        """Store one window record exactly once per index (seeding outside the series path)."""
        run, group, window = record.run_id, record.group, record.window
        script_keys = [keys.windows(run, group, window), keys.metrics(run, group, window)]
        args = [record.index, record.step, record.model_dump_json()]
        return bool(self.run([Call("record_window", script_keys, args)])[0])

    def mark_crashed(self, run_id: str, updated_at: float) -> bool:
        """Mark a run crashed if it is running and silent since `updated_at`."""
        call = Call("mark_crashed", [keys.meta(run_id)], [repr(updated_at)])
        return bool(self.run([call])[0])

    def apply(self, message: Message, now: float, limits: Limits | None = None) -> tuple[int, Any]:
        """Apply one message (see `apply_calls`) and register its run; (code, extra)."""
        (code, extra), *_ = self.run(apply_calls([message], now, limits or Limits()))
        if message.kind is Kind.START and code in (0, 1):
            self.register({message.run: float(extra)})
        return int(code), extra
