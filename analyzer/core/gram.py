"""The rolling Gram matrix of the last W update sketches, updated in O(W d) per update.

A ring of the last W + 1 updates (one extra, so the previous window's cross Gram exists) and their
float64 Gram in ring coordinates. `push` writes one new row and column of inner products; each
entry is computed once from the stored rows, so round-off cannot accumulate, and every
`recompute_every` pushes the whole Gram is recomputed from the rows (one matrix product) anyway.
Sub-windows: `gram(w)`, `updates(w)`, `cross(w)` give the last w <= W updates, so one RollingGram
serves every window length up to W. `remember(top)` keeps a window's `top` (a1 / sigma1, see
`analyzer.core.direction`) for the next window of the same length.

Binary format (little endian), version 1: header `<4sBIIIQI` = magic b"SEGR", version, window,
dim, recompute_every, count, pushes since the last recompute; then the m = min(count, W + 1)
retained updates oldest first (m x dim float64) and their Gram (m x m float64); then `<H` the
number of remembered tops, each `<IQ` (length, count when remembered) and length float64.
"""

from __future__ import annotations

import functools
import math
import struct

import numpy as np

from analyzer.errors import NonFiniteError, SpectrumError, StateError

_MAGIC = b"SEGR"
_VERSION = 1
_HEADER = struct.Struct("<4sBIIIQI")
_TOPS = struct.Struct("<H")
_TOP = struct.Struct("<IQ")
_PAIRED_RING = 64  # rings up to this size keep a (ring, ring, ring) index table (2 MiB at most)


class RollingGram:
    """Gram matrix of the last `window` updates of dimension `dim`, oldest first."""

    def __init__(self, window: int, dim: int, recompute_every: int = 1024) -> None:
        if window < 2 or dim < 1 or recompute_every < 1:
            raise SpectrumError("need window >= 2, dim >= 1 and recompute_every >= 1")
        self.window, self.dim, self.recompute_every = window, dim, recompute_every
        self._rows = np.zeros((window + 1, dim))
        self._gram = np.zeros((window + 1, window + 1))
        self._order, self._pairs = _layout(window + 1)
        self._count = 0
        self._since = 0
        self._tops: dict[int, tuple[int, np.ndarray]] = {}

    @property
    def count(self) -> int:
        """Updates pushed so far."""
        return self._count

    @property
    def full(self) -> bool:
        """Whether a whole window of `window` updates is held."""
        return self._count >= self.window

    def push(self, update: np.ndarray) -> None:
        """Append one update (dim,), dropping the oldest, in O(W d); bad input changes nothing."""
        u = np.asarray(update, dtype=np.float64)
        if u.shape != (self.dim,):
            raise SpectrumError(f"update must have shape ({self.dim},), got {u.shape}")
        slot = self._count % (self.window + 1)
        with np.errstate(over="ignore", invalid="ignore"):
            row = self._rows @ u
            row[slot] = u @ u
            trace = float(self._gram.trace() - self._gram[slot, slot] + row[slot])
            ok = np.isfinite(row).all() and math.isfinite(trace * (self.window + 1))
        if not ok:
            raise NonFiniteError("update holds NaN or Inf, or its inner products overflow")
        self._rows[slot] = u
        self._gram[slot, :] = row
        self._gram[:, slot] = row
        self._count += 1
        self._since += 1
        if self._since >= self.recompute_every:
            self.recompute()

    def recompute(self) -> None:
        """Recompute the Gram of the retained updates exactly from the rows."""
        slots = self._slots(min(self._count, self.window + 1))
        rows = self._rows[slots]
        self._gram[np.ix_(slots, slots)] = rows @ rows.T
        self._since = 0

    def gram(self, length: int | None = None) -> np.ndarray:
        """Gram (m x m) of the last m = min(count, length or window) updates, oldest first."""
        m = min(self._count, self._length(length))
        if m == 0:
            return np.zeros((0, 0))
        return self._entries(slice(-m, None), slice(-m, None))

    def updates(self, length: int | None = None) -> np.ndarray:
        """The last m = min(count, length or window) updates (m x dim), oldest first."""
        rows: np.ndarray = self._rows[self._slots(min(self._count, self._length(length)))]
        return rows

    def cross(self, length: int | None = None) -> np.ndarray | None:
        """U_prev U_nowᵀ (w x w) of the last two windows of length w; None before w + 1 updates."""
        w = self._length(length)
        if self._count < w + 1:
            return None
        return self._entries(slice(-w - 1, -1), slice(-w, None))

    def remember(self, top: np.ndarray) -> None:
        """Keep the current window's `top` (w,), keyed by its length w."""
        values = np.array(top, dtype=np.float64)
        self._tops[self._length(values.size)] = (self._count, values)

    def previous_top(self, length: int | None = None) -> np.ndarray | None:
        """The `top` remembered for length w exactly one push ago, else None."""
        count, top = self._tops.get(self._length(length), (-1, None))
        return top if count == self._count - 1 else None

    def to_bytes(self) -> bytes:
        """Serialise to the versioned binary format of the module docstring."""
        m = min(self._count, self.window + 1)
        slots = self._slots(m)
        head = (_MAGIC, _VERSION, self.window, self.dim, self.recompute_every, self._count)
        parts = [_HEADER.pack(*head, self._since)]
        parts += [_le(self._rows[slots]), _le(self._gram[np.ix_(slots, slots)])]
        parts.append(_TOPS.pack(len(self._tops)))
        for length, (count, top) in sorted(self._tops.items()):
            parts += [_TOP.pack(length, count), _le(top)]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> RollingGram:
        """Restore a RollingGram serialised by `to_bytes`; StateError if unreadable."""
        try:
            return _decode(cls, memoryview(data))
        except (struct.error, ValueError, SpectrumError) as exc:
            raise StateError(f"unreadable rolling-gram state: {exc}") from None

    def _entries(self, rows: slice, cols: slice) -> np.ndarray:
        """Gram entries at positions rows x cols of the ring slots ordered oldest first."""
        last = (self._count - 1) % (self.window + 1)
        if self._pairs is not None:
            flat = self._pairs[last, rows, cols]
        else:
            order = self._order[last]
            flat = order[rows, None] * (self.window + 1) + order[cols]
        entries: np.ndarray = self._gram.take(flat)
        return entries

    def _slots(self, m: int) -> np.ndarray:
        return self._order[(self._count - 1) % (self.window + 1), self.window + 1 - m :]

    def _length(self, length: int | None) -> int:
        if length is None:
            return self.window
        if not 2 <= length <= self.window:
            raise SpectrumError(f"window length must be in 2..{self.window}, got {length}")
        return length


@functools.lru_cache(maxsize=16)
def _layout(ring: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Per newest slot s: the ring slots oldest first (ring x ring), shared by every instance;
    for small rings also the flat indices of their Gram entries (ring^3, so `gram` is one take)."""
    order = (np.arange(ring) + np.arange(1, ring + 1)[:, None]) % ring
    pairs = order[:, :, None] * ring + order[:, None, :] if ring <= _PAIRED_RING else None
    for table in (order, pairs):
        if table is not None:
            table.setflags(write=False)
    return order, pairs


def _le(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f8").tobytes()


def _floats(data: memoryview, offset: int, n: int) -> tuple[np.ndarray, int]:
    end = offset + 8 * n
    if end > len(data):
        raise ValueError("truncated")
    return np.frombuffer(data[offset:end], dtype="<f8").astype(np.float64), end


def _decode(cls: type[RollingGram], data: memoryview) -> RollingGram:
    magic, version, window, dim, every, count, since = _HEADER.unpack_from(data)
    if magic != _MAGIC or version != _VERSION:
        raise ValueError(f"bad magic or version {magic!r} v{version}")
    state = cls(window, dim, every)
    m = min(count, window + 1)
    rows, offset = _floats(data, _HEADER.size, m * dim)
    gram, offset = _floats(data, offset, m * m)
    state._count, state._since = count, since
    slots = state._slots(m)
    state._rows[slots] = rows.reshape(m, dim)
    state._gram[np.ix_(slots, slots)] = gram.reshape(m, m)
    (n_tops,) = _TOPS.unpack_from(data, offset)
    offset += _TOPS.size
    for _ in range(n_tops):
        length, when = _TOP.unpack_from(data, offset)
        top, offset = _floats(data, offset + _TOP.size, length)
        state._tops[state._length(length)] = (when, top)
    if offset != len(data):
        raise ValueError("trailing bytes")
    return state
