"""The wire codec: `encode(message) -> frames`, `decode(frames) -> message`; no sockets, no clock.

A message is one msgpack header frame, plus a raw little-endian float64 payload frame for sketches.
Acknowledgements flow back as a single msgpack frame listing applied sequence numbers, plus, from
an analyzer that does not own the run, how long to wait before resending (`Ack.wait`).
Every decoding failure raises `WireError` with a `reason` the analyzer counts rejections by.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

import msgpack
import numpy as np

from producer.errors import WireError

PROTOCOL_VERSION = 1
MAX_DIM = 1 << 16
MAX_HEADER_BYTES = 1 << 16
MAX_WORLD = 1 << 16
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")
_PAYLOAD_DTYPE = np.dtype("<f8")


class Kind(StrEnum):
    """What a message carries."""

    START = "start"
    SKETCH = "sketch"
    SCALARS = "scalars"
    HEARTBEAT = "heartbeat"
    FINISH = "finish"


_KINDS = {str(kind): kind for kind in Kind}  # a dict lookup costs a tenth of Kind(value)


@dataclass(frozen=True)
class Message:
    """One producer message.

    `index` is the snapshot index of a sketch (0, 1, 2, ... per run and group); `owners` is how
    many shard owners' partial sketches sum to the full sketch of that snapshot (1 when one rank
    sends it all).
    `body` holds the kind's small fields: run configuration (start), scalar values (scalars),
    status (finish) and the sender's dropped-message count (every kind).
    """

    kind: Kind
    run: str
    seq: int
    rank: int = 0
    world: int = 1
    step: int = 0
    group: str = "all"
    index: int = 0
    owners: int = 1
    method: str = "countsketch"
    d: int = 0
    seed: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    payload: np.ndarray | None = None


def encode(message: Message) -> list[bytes]:
    """Serialise a message into its frames."""
    header = {
        "v": PROTOCOL_VERSION,
        "kind": str(message.kind),
        "run": message.run,
        "seq": message.seq,
        "rank": message.rank,
        "world": message.world,
        "step": message.step,
        "group": message.group,
        "body": message.body,
    }
    if message.kind is not Kind.SKETCH:
        return [msgpack.packb(header)]
    if message.payload is None:
        raise WireError("bad_field", "a sketch needs a payload")
    payload = np.ascontiguousarray(message.payload, dtype=_PAYLOAD_DTYPE)
    header.update(
        index=message.index,
        owners=message.owners,
        method=message.method,
        d=int(payload.shape[0]),
        seed=message.seed,
        dtype="<f8",
    )
    return [msgpack.packb(header), payload.tobytes()]


def decode(frames: list[bytes]) -> Message:
    """Parse and validate frames into a message, or raise `WireError` with a reason."""
    if not frames or len(frames) > 2:
        raise WireError("bad_frames", f"expected 1 or 2 frames, got {len(frames)}")
    header = _header(frames[0])
    kind = header["kind"]
    common = {
        "kind": kind,
        "run": _ident(header, "run"),
        "seq": _int(header, "seq", 0, 2**63 - 1),
        "rank": _int(header, "rank", 0, MAX_WORLD - 1),
        "world": _int(header, "world", 1, MAX_WORLD),
        "step": _int(header, "step", 0, 2**63 - 1),
        "group": _ident(header, "group"),
        "body": _body(header),
    }
    if common["rank"] >= common["world"]:
        raise WireError("bad_field", "rank must be below world")
    if kind is not Kind.SKETCH:
        if len(frames) != 1:
            raise WireError("bad_frames", f"{kind} takes no payload frame")
        return Message(**common)
    if len(frames) != 2:
        raise WireError("truncated", "sketch without payload frame")
    d = _int(header, "d", 1, MAX_DIM)
    if header.get("dtype") != "<f8":
        raise WireError("bad_dtype", f"payload dtype {header.get('dtype')!r}")
    if len(frames[1]) != d * _PAYLOAD_DTYPE.itemsize:
        raise WireError("dim_mismatch", f"payload has {len(frames[1])} bytes for d={d}")
    payload = np.frombuffer(frames[1], dtype=_PAYLOAD_DTYPE)
    if not np.isfinite(payload).all():
        raise WireError("non_finite", "payload holds NaN or Inf")
    method = header.get("method")
    if not isinstance(method, str) or not _ID.match(method):
        raise WireError("bad_field", "method")
    return Message(
        **common,
        index=_int(header, "index", 0, 2**63 - 1),
        owners=_int(header, "owners", 1, MAX_WORLD),
        method=method,
        d=d,
        seed=_int(header, "seed", 0, 2**64 - 1),
        payload=payload,
    )


def valid_id(value: object) -> bool:
    """Whether `value` may name a run, group or method on the wire."""
    return isinstance(value, str) and _ID.match(value) is not None


class Ack(NamedTuple):
    """An analyzer's reply: the seqs durably applied, and `wait`, when set, the seconds until the
    run's owner lease elsewhere runs out (messages sent before then are not applied)."""

    seqs: list[int]
    wait: float | None = None


def encode_ack(seqs: list[int], wait: float | None = None) -> list[bytes]:
    """Frames acknowledging that these sequence numbers are durably applied (`wait`: see `Ack`)."""
    reply: dict[str, Any] = {"v": PROTOCOL_VERSION, "ack": list(seqs)}
    if wait is not None:
        reply["wait"] = wait
    return [msgpack.packb(reply)]


def decode_ack(frames: list[bytes]) -> Ack:
    """An acknowledgement from its frames, or raise `WireError`."""
    if len(frames) != 1:
        raise WireError("bad_frames", "an ack is one frame")
    try:
        ack = msgpack.unpackb(frames[0])
    except Exception as exc:
        raise WireError("bad_header", str(exc)) from None
    if not isinstance(ack, dict) or ack.get("v") != PROTOCOL_VERSION:
        raise WireError("bad_version", "ack version")
    seqs, wait = ack.get("ack"), ack.get("wait")
    if not isinstance(seqs, list) or not all(isinstance(s, int) for s in seqs):
        raise WireError("bad_field", "ack")
    if wait is not None and not (isinstance(wait, int | float) and 0 <= wait < 86_400):
        raise WireError("bad_field", "ack wait")
    return Ack(seqs, None if wait is None else float(wait))


def _header(frame: bytes) -> dict[str, Any]:
    if len(frame) > MAX_HEADER_BYTES:
        raise WireError("too_large", f"header of {len(frame)} bytes")
    try:
        header = msgpack.unpackb(frame)
    except Exception as exc:
        raise WireError("bad_header", type(exc).__name__) from None
    if not isinstance(header, dict):
        raise WireError("bad_header", "header is not a map")
    if header.get("v") != PROTOCOL_VERSION:
        raise WireError("bad_version", f"version {header.get('v')!r}")
    try:
        header["kind"] = _KINDS[header["kind"]]
    except (KeyError, TypeError):
        raise WireError("bad_kind", f"kind {header.get('kind')!r}") from None
    return header


def _int(header: dict[str, Any], name: str, low: int, high: int) -> int:
    value = header.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WireError("bad_field", f"{name}={value!r}")
    return value


def _ident(header: dict[str, Any], name: str) -> str:
    value = header.get(name)
    if not isinstance(value, str) or not _ID.match(value):
        raise WireError("bad_field", f"{name}={value!r}")
    return value


def _body(header: dict[str, Any]) -> dict[str, Any]:
    body = header.get("body", {})
    if not isinstance(body, dict) or not all(isinstance(k, str) for k in body):
        raise WireError("bad_field", "body")
    for value in body.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise WireError("non_finite", "body holds NaN or Inf")
    return body
