"""The Lua scripts' calls and replies: KEYS and ARGV built from typed values, replies decoded.

Layouts are documented at the top of each `analyzer/service/lua/*.lua` file; `Store.run`
executes a list of `Call`s in one pipeline and returns the raw replies, which the decoders here
turn into named results (no I/O).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple

import numpy as np

from analyzer.service import assembly, keys
from producer.wire import Kind, Message


class Limits(NamedTuple):
    """Deadlines, retention and ownership the apply and advance scripts enforce: `owner` takes or
    renews each run's lease for `lease_ms` (0: no ownership, any analyzer applies any run)."""

    assembly_at: float = float("inf")
    gap_at: float = float("inf")
    keep_records: int = 100_000
    keep_alerts: int = 10_000
    keep_scalars: int = 100_000
    owner: str = ""
    lease_ms: int = 0


class Call(NamedTuple):
    """One script invocation to pipeline."""

    script: str
    keys: list[str]
    args: list[Any]


class Outcome(StrEnum):
    """What `apply.lua` did with one message; the last three refuse it."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    LATE = "late"  # a sketch for a snapshot its series passed: seen, data dropped
    UNKNOWN_RUN = "unknown_run"
    DIM_MISMATCH = "dim_mismatch"
    NOT_OWNER = "not_owner"  # another analyzer holds the run's lease: nothing applied


ACCEPTED = frozenset({Outcome.APPLIED, Outcome.DUPLICATE, Outcome.LATE})  # acknowledged
_OUTCOMES = {
    1: Outcome.APPLIED,
    0: Outcome.DUPLICATE,
    2: Outcome.LATE,
    -1: Outcome.UNKNOWN_RUN,
    -2: Outcome.DIM_MISMATCH,
    -3: Outcome.NOT_OWNER,
}


class Applied(NamedTuple):
    """One message's `apply.lua` result, by name."""

    outcome: Outcome
    created_at: float | None = None  # a START's run (applied or duplicate)
    next_snapshot: bool = False  # a one-owner sketch: its series' next snapshot is stored
    stored: bool = False  # a one-owner sketch: this message's data was stored
    partials: int = 0  # a sharded sketch: the partials its snapshot holds
    wait: float | None = None  # not owner: seconds until the owner's lease runs out

    @property
    def accepted(self) -> bool:
        """Whether the message was taken (applied, duplicate or late) rather than refused."""
        return self.outcome in ACCEPTED


class Assembled(IntEnum):
    """`assemble.lua`'s result."""

    RACED = -1  # the partials changed meanwhile: read them again
    PASSED = 0  # already assembled, or the series passed it: partials dropped
    STORED = 1
    NEXT = 2  # stored, and it is the series' next snapshot


class Advanced(IntEnum):
    """`advance.lua`'s result."""

    RACED = -1  # the series' version moved: nothing written
    DONE = 1
    AGAIN = 2  # the snapshot after the new frontier is already stored: advance again


def apply_calls(messages: Sequence[Message], now: float, limits: Limits) -> list[Call]:
    """One `apply.lua` call per run, its messages in order (results: (code, extra) per message)."""
    by_run: dict[str, list[Message]] = {}
    for message in messages:
        by_run.setdefault(message.run, []).append(message)
    calls = []
    for run_id, batch in by_run.items():
        script_keys = [
            keys.meta(run_id),
            keys.deadlines(run_id),
            keys.scalars(run_id),
            keys.owner(run_id),
        ]
        args: list[Any] = [
            repr(now),
            repr(limits.assembly_at),
            repr(limits.gap_at),
            limits.keep_scalars,
            run_id,
            limits.owner,
            limits.lease_ms,
        ]
        for message in batch:
            target, fields = _kind_args(message)
            script_keys += [
                keys.seen(run_id, message.rank),
                target,
                keys.series(run_id, message.group),
            ]
            dropped = _int_or_blank(message.body.get("dropped"))
            args += [str(message.kind), message.rank, message.seq, dropped, message.group, *fields]
        calls.append(Call("apply", script_keys, args))
    return calls


def applied(messages: Sequence[Message], replies: Sequence[Any]) -> list[Applied]:
    """Each message's result from the replies of `apply_calls(messages, ...)` (one per run)."""
    runs = dict.fromkeys(m.run for m in messages)
    pairs = {
        run: iter(zip(r[:-1:2], r[1:-1:2], strict=True))
        for run, r in zip(runs, replies, strict=True)
    }
    return [_applied(m, *next(pairs[m.run])) for m in messages]


def earliest_deadlines(messages: Sequence[Message], replies: Sequence[Any]) -> dict[str, float]:
    """Per run of `apply_calls(messages, ...)`, its first deadline (runs without one left out)."""
    runs = dict.fromkeys(m.run for m in messages)
    return {run: float(r[-1]) for run, r in zip(runs, replies, strict=True) if r[-1]}


def _applied(message: Message, code: Any, extra: Any) -> Applied:
    outcome = _OUTCOMES[int(code)]
    if outcome is Outcome.NOT_OWNER:
        return Applied(outcome, wait=max(int(extra), 0) / 1000)
    if outcome not in ACCEPTED:
        return Applied(outcome)
    if message.kind is Kind.START:
        return Applied(outcome, created_at=None if outcome is Outcome.LATE else float(extra))
    if message.kind is not Kind.SKETCH:
        return Applied(outcome)
    if message.owners > 1:
        return Applied(outcome, partials=int(extra))
    bits = int(extra)
    return Applied(outcome, next_snapshot=bool(bits & 1), stored=bool(bits & 2))


def assemble_call(
    run_id: str, group: str, index: int, owners: int, blob: bytes, summed: int, gap_at: float
) -> Call:
    """`assemble.lua`: store a snapshot summed from `summed` partials (result: 2, 1, 0 or -1)."""
    script_keys = [
        keys.partials(run_id, group, index),
        keys.snapshots(run_id, group),
        keys.series(run_id, group),
        keys.deadlines(run_id),
    ]
    member = f"part|{group}|{index}|{owners}"
    return Call("assemble", script_keys, [index, blob, summed, member, repr(gap_at), group])


def advance_call(
    run_id: str,
    group: str,
    version: int,
    state: dict[str, bytes],
    consumed: list[int],
    records: dict[tuple[int, int], list[tuple[int, bytes]]],
    alerts: list[str],
    limits: Limits,
) -> Call:
    """`advance.lua`: CAS a series from `version`, with its records (by (W, stride)) and alert
    JSONs: every stride of the series in one compare-and-set."""
    series = sorted(records)
    script_keys = [
        keys.series(run_id, group),
        keys.snapshots(run_id, group),
        keys.deadlines(run_id),
        keys.run_alerts(run_id),
        keys.outbox(run_id),
        *(keys.metrics(run_id, group, w, s) for w, s in series),
    ]
    args: list[Any] = [
        version,
        group,
        limits.keep_records,
        limits.keep_alerts,
        repr(limits.gap_at),
        len(state),
        len(consumed),
        len(alerts),
        *(len(records[named]) for named in series),
    ]
    for name, value in state.items():
        args += [name, value]
    args += [*consumed, *alerts]
    for named in series:
        for step, doc in records[named]:
            args += [step, doc]
    return Call("advance", script_keys, args)


def scalars_call(run_id: str, version: int, state: bytes, alerts: list[str], keep: int) -> Call:
    """`detect_scalars.lua`: CAS the run's scalar detectors from `version`, with their alerts."""
    script_keys = [keys.scalar_detectors(run_id), keys.run_alerts(run_id), keys.outbox(run_id)]
    return Call("detect_scalars", script_keys, [version, state, keep, *alerts])


def fire_rules_call(run_id: str, keep: int, updates: Sequence[tuple[str, bytes, str]]) -> Call:
    """`fire_rules.lua`: store (field, state, alert or '') user-rule updates of one run."""
    script_keys = [keys.rule_state(run_id), keys.run_alerts(run_id), keys.outbox(run_id)]
    return Call("fire_rules", script_keys, [keep, *(v for update in updates for v in update)])


def mark_crashed_call(run_id: str, updated_at: float) -> Call:
    """`mark_crashed.lua`: mark a running run crashed unless it spoke after `updated_at`."""
    return Call("mark_crashed", [keys.meta(run_id)], [repr(updated_at)])


def remove_empty_call(run_id: str, updated_at: float, fields: Sequence[bytes]) -> Call | None:
    """`remove_empty.lua` for a run whose meta HASH has these field names: delete its meta, lease
    and its ranks' seen SETs unless it spoke after `updated_at`; None when data reached it."""
    if b"empty" not in fields:
        return None
    ranks = sorted(int(f[4:]) for f in fields if f.startswith(b"low:"))
    script_keys = [
        keys.meta(run_id),
        keys.owner(run_id),
        *(keys.seen(run_id, rank) for rank in ranks),
    ]
    return Call("remove_empty", script_keys, [repr(updated_at)])


def swapped(reply: Any) -> bool:
    """Whether a compare-and-set script (`detect_scalars`, `mark_crashed`, `remove_empty`) wrote."""
    return int(reply) == 1


WIRE_ALIASES = {"d": "dim"}
"""START fields that repeat a producer setting under its wire name."""


def run_config(body: dict[str, Any]) -> dict[str, Any]:
    """A START body as the run's flat configuration: the producer's settings (`config`) beside
    the run's own fields, each once; the project is kept apart."""
    settings = body.get("config")
    flat = {k: v for k, v in body.items() if k not in ("project", "config")}
    flat.update(settings if isinstance(settings, dict) else {})
    flat.pop("project", None)
    for wire, name in WIRE_ALIASES.items():
        if name in flat:
            flat.pop(wire, None)
    return flat


def run_project(body: dict[str, Any]) -> str:
    """The project a START body names, "default" when it names none."""
    project = body.get("project")
    return project if isinstance(project, str) and project else "default"


def _kind_args(message: Message) -> tuple[str, list[Any]]:
    """The kind's target key and its four fields f1..f4 of `apply.lua` (see its header)."""
    run, body = message.run, message.body
    if message.kind is Kind.START:
        return keys.meta(run), [
            run_project(body),
            message.world,
            json.dumps(run_config(body), sort_keys=True, allow_nan=False),
            _int_or_blank(body.get("d")),
        ]
    if message.kind is Kind.SKETCH:
        if message.owners == 1:
            target = keys.snapshots(run, message.group)
        else:
            target = keys.partials(run, message.group, message.index)
        payload = np.ascontiguousarray(message.payload, dtype="<f8").tobytes()
        blob = assembly.pack_payload(message.step, payload)
        return target, [message.index, message.owners, message.d, blob]
    if message.kind is Kind.SCALARS:
        values = {k: v if math.isfinite(v) else None for k, v in body.get("values", {}).items()}
        member = {"step": message.step, "values": values}
        return keys.meta(run), [message.step, json.dumps(member, sort_keys=True), "", ""]
    if message.kind is Kind.FINISH:
        status = "failed" if body.get("status") == "failed" else "finished"
        return keys.meta(run), [status, _int_or_blank(body.get("base")), "", ""]
    return keys.meta(run), [_int_or_blank(body.get("base")), "", "", ""]


def _int_or_blank(value: object) -> int | str:
    """An int ARGV, or '' for anything else (the scripts read '' as absent)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else ""
