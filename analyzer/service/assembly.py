"""Snapshots as stored in Redis, and the sum of shard owners' partial sketches.

A snapshot blob is a 16-byte little-endian header (optimizer step, flag bits) followed by the
float64 sketch. The full sketch of a sharded snapshot is the sum of its partial sketches, added
in rank order so every analyzer produces the same bits; when the assembly timeout passes before
all owners arrived, the sum of those present is stored with the `incomplete` flag.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

from analyzer.errors import StateError

INCOMPLETE = "incomplete"
GAP = "gap"
_FLAG_BITS = {INCOMPLETE: 1}
_HEADER = struct.Struct("<qq")


class Snapshot(NamedTuple):
    """One (possibly assembled) snapshot sketch x_i at optimizer step `step`."""

    step: int
    x: np.ndarray
    flags: frozenset[str] = frozenset()


def pack(snapshot: Snapshot) -> bytes:
    """The blob stored in Redis for a snapshot."""
    bits = sum(_FLAG_BITS[f] for f in snapshot.flags)
    payload = np.ascontiguousarray(snapshot.x, dtype="<f8").tobytes()
    return _HEADER.pack(snapshot.step, bits) + payload


def pack_payload(step: int, payload: bytes) -> bytes:
    """The blob of a complete snapshot from its raw float64 payload bytes."""
    return _HEADER.pack(step, 0) + payload


def unpack(blob: bytes) -> Snapshot:
    """Read a snapshot blob back; StateError when it is not one."""
    size = len(blob) - _HEADER.size
    if size <= 0 or size % 8:
        raise StateError(f"a snapshot blob of {len(blob)} bytes is not a header plus float64s")
    step, bits = _HEADER.unpack_from(blob)
    flags = frozenset(f for f, bit in _FLAG_BITS.items() if bits & bit)
    return Snapshot(step, np.frombuffer(blob, dtype="<f8", offset=_HEADER.size), flags)


def assemble(partials: dict[int, bytes], owners: int) -> Snapshot:
    """The sum of the partial snapshots by rank; flagged incomplete with fewer than `owners`."""
    if not partials:
        raise StateError("no partial sketches to assemble")
    parts = [unpack(partials[rank]) for rank in sorted(partials)]
    if len({p.x.size for p in parts}) != 1:
        raise StateError("partial sketches of one snapshot differ in size")
    total = parts[0].x.copy()
    for part in parts[1:]:
        total += part.x
    flags = frozenset({INCOMPLETE}) if len(parts) < owners else frozenset()
    return Snapshot(max(p.step for p in parts), total, flags)
