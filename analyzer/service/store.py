"""The analyzer's writes to Redis: atomic per-run scripts in `analyzer/service/lua/`.

Works with `redis.Redis` and `redis.cluster.RedisCluster` alike (raw bytes, no decoding): every
script touches one run's `{run_id}` keys; global indexes follow as single-key commands in the
order `analyzer.service.keys` documents. Scripts run through pipelines, one round trip per batch.
URLs are redis-py's: `rediss://` for TLS (CA options as query parameters, `?ssl_ca_certs=PATH`),
`redis://user:password@host` for an ACL user; `redact` keeps the password out of messages.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.connection import parse_url

from analyzer.errors import StateError
from analyzer.records import RunInfo
from analyzer.service import keys
from analyzer.service.reader import Client, Reader
from analyzer.service.runs import run_info
from analyzer.service.scripts import Call, mark_crashed_call, remove_empty_call, swapped

_LUA = Path(__file__).with_name("lua")
_SCRIPTS = (
    "apply", "assemble", "advance", "detect_scalars", "fire_rules", "mark_crashed", "release",
    "remove_empty",
)  # fmt: skip
_HIDDEN = "***"


def connect(url: str, cluster: bool = False) -> Client:
    """A raw-bytes client of a single Redis or (`cluster`) of a Redis Cluster via any node."""
    if cluster:
        return redis.RedisCluster.from_url(url)
    return redis.Redis.from_url(url)


def redact(url: str) -> str:
    """`url` with its password (user info or `password=` query parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable Redis URL>"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if ":" in userinfo:
        userinfo = f"{userinfo.partition(':')[0]}:{_HIDDEN}"
    query = [(k, _HIDDEN if k == "password" else v) for k, v in parse_qsl(parts.query)]
    netloc = f"{userinfo}{at}{hostport}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/*")))


def unreachable(url: str, exc: redis.RedisError) -> str:
    """Why Redis at `url` (redacted) failed, with a hint when TLS or a password is the cause."""
    hint = ""
    if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
        hint = " (the client does not trust the server's certificate: check ?ssl_ca_certs=)"
    elif isinstance(exc.__cause__, ConnectionResetError) and url.startswith("redis://"):
        hint = " (a server that requires TLS resets plain connections: use rediss://)"
    elif isinstance(exc, redis.AuthenticationError) and "password" not in parse_url(url):
        hint = " (the server requires a password: redis://user:password@host)"
    return f"cannot reach Redis at {redact(url)}: {exc}{hint}"


class Store(Reader):
    """The analyzer's Redis state: script calls, global indexes, and the reads of `Reader`."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self._text = {n: (_LUA / f"{n}.lua").read_text(encoding="utf-8") for n in _SCRIPTS}
        self._sha = {n: client.register_script(t).sha for n, t in self._text.items()}

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

    def missing(self, run_ids: Sequence[str]) -> set[str]:
        """Those of `run_ids` that have no meta HASH: a START for them would create the run."""
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.exists(keys.meta(run_id))
            found = pipe.execute()
        return {run_id for run_id, n in zip(run_ids, found, strict=True) if not n}

    def remove_empty(self, runs: Sequence[RunInfo]) -> list[str]:
        """Delete those of `runs` (as read, `updated_at` included) that no data ever reached and
        that stayed silent since, then drop them from the registry; the run ids removed."""
        with self.client.pipeline(transaction=False) as pipe:
            for run in runs:
                pipe.hkeys(keys.meta(run.run_id))
            fields = pipe.execute()
        calls = {
            run.run_id: call
            for run, names in zip(runs, fields, strict=True)
            if (call := remove_empty_call(run.run_id, run.updated_at, names)) is not None
        }
        replies = self.run(list(calls.values())) if calls else []
        removed = [run_id for run_id, reply in zip(calls, replies, strict=True) if swapped(reply)]
        self.unregister(removed)
        return removed

    def unregister(self, run_ids: Sequence[str]) -> None:
        """Drop deleted runs from the registry (ZREM after the delete, as `keys` documents); a run
        a START re-created meanwhile, whose ZADD NX came before this ZREM, is registered again."""
        if not run_ids:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.zrem(keys.RUNS, run_id)
                pipe.zrem(keys.DUE, run_id)
            pipe.execute()
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hget(keys.meta(run_id), "created_at")
            created = pipe.execute()
        self.register({r: float(c) for r, c in zip(run_ids, created, strict=True) if c is not None})

    def schedule(self, looks: Mapping[str, float]) -> None:
        """Bring the runs' entries in the deadline index forward to these times (`ZADD LT`)."""
        if looks:
            self.client.zadd(keys.DUE, dict(looks), lt=True)

    def due(self, now: float, count: int) -> list[str]:
        """Up to `count` runs the deadline index says to look at by `now`, earliest first."""
        found = self.client.zrangebyscore(keys.DUE, "-inf", now, start=0, num=count)
        return [run_id.decode() for run_id in found]

    def owners(self, run_ids: Sequence[str]) -> list[str | None]:
        """The analyzer holding each run's lease (None where no lease is live)."""
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.get(keys.owner(run_id))
            held = pipe.execute()
        return [None if name is None else name.decode() for name in held]

    def glance(self, run_ids: Sequence[str]) -> list[tuple[RunInfo | None, float | None]]:
        """Each run's registry entry and its first deadline (None when it has none)."""
        with self.client.pipeline(transaction=False) as pipe:
            for run_id in run_ids:
                pipe.hgetall(keys.meta(run_id))
                pipe.zrange(keys.deadlines(run_id), 0, 0, withscores=True)
            replies = pipe.execute()
        return [
            (run_info(meta), first[0][1] if first else None)
            for meta, first in zip(replies[::2], replies[1::2], strict=True)
        ]

    def reschedule(self, looks: Mapping[str, float | None]) -> None:
        """Set the runs' next looks (None: out of the index), then lower each to its first
        deadline as it stands after the write (see `keys`)."""
        if not looks:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for run_id, at in looks.items():
                if at is None:
                    pipe.zrem(keys.DUE, run_id)
                else:
                    pipe.zadd(keys.DUE, {run_id: at})
                pipe.zrange(keys.deadlines(run_id), 0, 0, withscores=True)
            replies = pipe.execute()[1::2]
        firsts = {run: first[0][1] for run, first in zip(looks, replies, strict=True) if first}
        self.schedule(firsts)

    def release(self, run_ids: Sequence[str], name: str) -> int:
        """Give up the leases `name` still holds on these runs; how many it held."""
        calls = [Call("release", [keys.owner(run_id)], [name]) for run_id in run_ids]
        return sum(swapped(reply) for reply in self.run(calls)) if calls else 0

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

    def rules(self) -> list[bytes]:
        """The user rules' JSON documents."""
        docs: list[bytes] = self.client.hvals(keys.RULES)
        return docs

    def rule_states(self, run_id: str, fields: Sequence[str]) -> dict[str, bytes | None]:
        """The stored states of these user-rule fields of a run (None where there is none)."""
        if not fields:
            return {}
        return dict(zip(fields, self.client.hmget(keys.rule_state(run_id), fields), strict=True))

    def mark_crashed(self, run_id: str, updated_at: float) -> bool:
        """Mark a run crashed if it is running and silent since `updated_at`."""
        return swapped(self.run([mark_crashed_call(run_id, updated_at)])[0])
