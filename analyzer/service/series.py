"""One series (run, group): snapshots consumed in index order, each window computed exactly once.

Snapshots may arrive in any order; the series consumes them strictly in index order from its
`frontier` (the last consumed index), so every window is produced once, by the advance that
consumes its last snapshot, from the same state whatever the arrival order or batching.
A missing snapshot stalls the series until it arrives or its gap deadline passes; then the series
skips it (`skip=True`) (a series whose first snapshots never came simply starts later).

Strides: sketches are linear, so each stride s of `strides` is a series of its own (a `Lane`)
formed from the same stream. A stride-s lane uses only the consumed snapshots whose index is a
multiple of s (non-overlapping deltas, like checkpoints s snapshots apart): its update at such an
index i is u_i = x_i - x_j, j the previous consumed multiple of s (the lane's `anchor`); stride 1
is x_i - x_prev. An update that spans a skipped multiple of s (j < i - s) is flagged `gap`, and
so is every window containing it; an update touching an incomplete (timed-out, partly assembled)
snapshot x_i or x_j is flagged `incomplete`. Each lane keeps one rolling Gram of the longest window
length plus one, which serves every length W: its trailing W x W block is the window's Gram, the
block one row up its cross Gram U_prev Uᵀ. Each (W, stride) has its own window records, detector
states and direction-stability chain.

State fields (`to_fields`): `frontier`, `last`, and per lane, named by `keys.strided` (stride 1
keeps the names from before strides: `gram`, `marks`, `det:<W>`; stride s uses `gram/<s>`,
`marks/<s>`, `det:<W>/<s>`), plus for s > 1 its anchor `anchor/<s>` (snapshot) and `at/<s>`
(its index); the stride-1 anchor is `last` at `frontier`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from analyzer.core import spectrum
from analyzer.core.gram import RollingGram
from analyzer.errors import StateError
from analyzer.service import assembly
from analyzer.service.assembly import GAP, Snapshot
from analyzer.service.keys import strided

_CANCEL = 1e-6  # drift check of spectrum.batch_metrics' refinement (sum of updates cancels)
_COLUMNS = ("sigma", "ratios", "edge_ratio", "gap", "g23", "energy", "k95", "drift_speed")
_FIELDS = (*_COLUMNS, "k_star", "direction_stability", "flags")  # a record's metric fields


class Due(NamedTuple):
    """A window ready to evaluate, captured right after the push that completed it.

    `block` is the Gram of the lane's last (up to W_max + 1) updates at that push;
    `history[:stop]` holds the lane's updates so far in this advance (preceded by those its
    rolling Gram held before it). `previous` is the `top` remembered one push before (set for the
    first window of its (W, stride) in an advance; later ones chain to the window before them).
    """

    length: int
    end: int
    step: int
    block: np.ndarray
    history: list[np.ndarray]
    stop: int
    previous: np.ndarray | None
    flags: tuple[str, ...]
    stride: int = 1

    @property
    def gram(self) -> np.ndarray:
        """The window's W x W Gram."""
        return self.block[-self.length :, -self.length :]

    @property
    def cross(self) -> np.ndarray | None:
        """U_prev Uᵀ of the previous and this window, None for the first window of its length."""
        w = self.length
        return self.block[-w - 1 : -1, -w:] if self.block.shape[0] > w else None

    def updates(self) -> np.ndarray:
        """The window's W x d updates."""
        return np.stack(self.history[self.stop - self.length : self.stop])


@dataclass
class Lane:
    """One stride of a series: its anchor (last used snapshot), rolling Gram, update flags and
    detector states by W."""

    stride: int
    at: int = -1
    anchor: Snapshot | None = None
    rolling: RollingGram | None = None
    marks: list[list[str]] = field(default_factory=list)
    detectors: dict[int, bytes] = field(default_factory=dict)

    def push(
        self, index: int, snapshot: Snapshot, lengths: tuple[int, ...], history: list[np.ndarray]
    ) -> list[Due]:
        """Use snapshot `index` (a multiple of the stride): its update and the windows it ends."""
        at, anchor, self.at, self.anchor = self.at, self.anchor, index, snapshot
        if anchor is None:
            return []
        rolling = self.rolling
        if rolling is None:
            rolling = self.rolling = RollingGram(max(lengths) + 1, anchor.x.size)
        update = snapshot.x - anchor.x
        rolling.push(update)
        history.append(update)
        flags = snapshot.flags | anchor.flags
        self.marks.append(sorted(flags | {GAP}) if at < index - self.stride else sorted(flags))
        del self.marks[: -max(lengths)]
        block, stop, count = rolling.gram(), len(history), rolling.count
        step, marks, s = snapshot.step, self.marks, self.stride
        return [
            Due(
                w, index, step, block, history, stop, rolling.previous_top(w), _union(marks[-w:]), s
            )
            for w in lengths
            if count >= w
        ]

    def to_fields(self) -> dict[str, bytes]:
        """The lane's HASH fields."""
        s = self.stride
        fields = {strided("marks", s): json.dumps(self.marks).encode()}
        if s != 1 and self.anchor is not None:  # stride 1's are the series' `frontier`, `last`
            at, anchor = _anchor_fields(s)
            fields.update({at: str(self.at).encode(), anchor: assembly.pack(self.anchor)})
        if self.rolling is not None:
            fields[strided("gram", s)] = self.rolling.to_bytes()
        fields.update({f"det:{strided(str(w), s)}": v for w, v in self.detectors.items()})
        return fields

    @classmethod
    def from_fields(cls, stride: int, get: Mapping[str, bytes]) -> Lane:
        """Restore a lane from its series' decoded HASH fields."""
        s = stride
        at, anchor = _anchor_fields(s)
        gram = get.get(strided("gram", s))
        detectors = {}
        for name, state in get.items():
            window, _, of = name.removeprefix("det:").partition("/")
            if name.startswith("det:") and int(of or "1") == s:
                detectors[int(window)] = state
        return cls(
            stride=s,
            at=int(get.get(at, b"-1")),
            anchor=assembly.unpack(get[anchor]) if anchor in get else None,
            rolling=RollingGram.from_bytes(gram) if gram is not None else None,
            marks=json.loads(get.get(strided("marks", s), b"[]")),
            detectors=detectors,
        )


def _anchor_fields(stride: int) -> tuple[str, str]:
    """The fields of a lane's anchor index and snapshot: stride 1's are the series' own."""
    return ("frontier", "last") if stride == 1 else (f"at/{stride}", f"anchor/{stride}")


@dataclass
class Series:
    """The consumed prefix of one series: frontier, last snapshot, and one `Lane` per stride."""

    lengths: tuple[int, ...]
    strides: tuple[int, ...] = (1,)
    frontier: int = -1
    last: Snapshot | None = None
    lanes: dict[int, Lane] = field(default_factory=dict)
    version: int = 0

    def __post_init__(self) -> None:
        self.lanes = {s: self.lanes.get(s) or Lane(s) for s in sorted(self.strides)}

    def advance(
        self, pending: Mapping[int, Snapshot], skip: bool = False
    ) -> tuple[list[int], list[Due]]:
        """Consume the pending snapshots continuing the frontier (`skip`: over one hole).

        The windows come lane by lane (stride order), each lane's in index order.
        """
        consumed: list[int] = []
        due: dict[int, list[Due]] = {s: [] for s in self.lanes}
        history: dict[int, list[np.ndarray]] = {}
        while True:
            index = self.frontier + 1
            if index not in pending:
                later = [i for i in pending if i > self.frontier]
                if not (skip and later):
                    return consumed, [d for lane in due.values() for d in lane]
                index, skip = min(later), False
            consumed.append(index)
            self._push(index, pending[index], history, due)

    def _push(
        self,
        index: int,
        snapshot: Snapshot,
        history: dict[int, list[np.ndarray]],
        due: dict[int, list[Due]],
    ) -> None:
        last, self.last, self.frontier = self.last, snapshot, index
        if last is not None and snapshot.x.size != last.x.size:
            raise StateError(f"snapshot {index} has d={snapshot.x.size}, the series {last.x.size}")
        for s, lane in self.lanes.items():
            if index % s == 0:
                if s not in history:  # the updates the lane's rolling Gram held before
                    history[s] = list(lane.rolling.updates()) if lane.rolling is not None else []
                due[s] += lane.push(index, snapshot, self.lengths, history[s])

    def remember(self, dues: list[Due], tops: list[np.ndarray | None]) -> None:
        """Keep each lane's last window's `top` per length for the next advance's direction
        stability."""
        for due, top in zip(dues, tops, strict=True):
            lane = self.lanes[due.stride]
            if lane.rolling is not None and due.end == lane.at and top is not None:
                lane.rolling.remember(top)

    def to_fields(self) -> dict[str, bytes]:
        """The state as Redis HASH fields (version excluded: the CAS script owns it)."""
        fields = {"frontier": str(self.frontier).encode()}
        if self.last is not None:
            fields["last"] = assembly.pack(self.last)
        for lane in self.lanes.values():
            fields.update(lane.to_fields())
        return fields

    @classmethod
    def from_fields(
        cls,
        lengths: tuple[int, ...],
        fields: Mapping[bytes, bytes],
        strides: tuple[int, ...] = (1,),
    ) -> Series:
        """Restore a series from its HASH (an empty mapping is a new series)."""
        get = {k.decode(): v for k, v in fields.items()}
        try:
            series = cls(
                lengths=lengths,
                strides=strides,
                frontier=int(get.get("frontier", b"-1")),
                last=assembly.unpack(get["last"]) if "last" in get else None,
                version=int(get.get("v", b"0")),
            )
            series.lanes = {s: Lane.from_fields(s, get) for s in series.lanes}
        except (ValueError, KeyError) as exc:
            raise StateError(f"unreadable series state: {exc}") from None
        return series


class Evaluated(NamedTuple):
    """A window's record fields (those of `records.WindowRecord` beyond its identity) and top."""

    fields: dict[str, Any]
    top: np.ndarray | None


def evaluate_windows(groups: list[list[Due]], rule: str) -> list[list[Evaluated]]:
    """Every due window's metrics, one batched eigen-solve per (W, d); results shaped as groups.

    Rows the Gram alone cannot give to 1e-9 are evaluated again with their updates (the
    refinement of `spectrum.batch_metrics`), so each row's result never depends on its batch.
    """
    results: list[list[Evaluated | None]] = [[None] * len(g) for g in groups]
    shapes: dict[tuple[int, int], list[tuple[int, int, Due]]] = {}
    for g, dues in enumerate(groups):
        for j, due in enumerate(dues):
            shapes.setdefault((due.length, due.history[0].size), []).append((g, j, due))
    for (width, _), items in shapes.items():
        dues = [due for _, _, due in items]
        batch = _metrics(dues, rule)
        previous = _previous(items, batch.top)
        none = np.zeros((width, width))
        cross = np.stack([none if (c := d.cross) is None else c for d in dues])
        stable = _stability(previous, cross, batch.top)
        live = (~np.isnan(batch.top).any(axis=1)).tolist()
        tops = list(batch.top)
        fields = _fields(batch, stable, [d.flags for d in dues])
        for (g, j, _), row, top, ok in zip(items, fields, tops, live, strict=True):
            results[g][j] = Evaluated(row, top if ok else None)
    return [[r for r in group if r is not None] for group in results]


def _previous(items: list[tuple[int, int, Due]], top: np.ndarray) -> np.ndarray:
    """Each row's previous `top`: the row before it of the same series and stride (their rows
    are adjacent: `Series.advance` yields them lane by lane), else `due.previous`."""
    owner = [(g, due.stride) for g, _, due in items]
    first = [i for i, g in enumerate(owner) if i == 0 or owner[i - 1] != g]
    chained = np.ones(len(items), dtype=bool)
    chained[first] = False
    previous = np.full(top.shape, np.nan)
    previous[1:][chained[1:]] = top[:-1][chained[1:]]
    for i in first:
        if (before := items[i][2].previous) is not None:
            previous[i] = before
    return previous


def _metrics(dues: list[Due], rule: str) -> spectrum.SpectrumBatch:
    grams = np.stack([d.gram for d in dues])
    batch = spectrum.batch_metrics(grams, rule)
    lam = batch.sigma**2
    total = np.abs(grams).sum(axis=(1, 2))
    steep = (lam[:, 0] > 0.0) & (lam[:, -1] < spectrum.REFINE * lam[:, 0])
    cancel = batch.drift_speed**2 * grams.shape[1] ** 2 < _CANCEL * total
    rows = np.flatnonzero(steep | cancel)
    if rows.size:
        exact = spectrum.batch_metrics(
            grams[rows], rule, updates=np.stack([dues[i].updates() for i in rows])
        )
        for name in ("sigma", "ratios", "edge_ratio", "gap", "g23", "energy", "k95",
                     "drift_speed", "top"):  # fmt: skip
            getattr(batch, name)[rows] = getattr(exact, name)
        for rule_name, k in batch.k_star.items():
            k[rows] = exact.k_star[rule_name]
    return batch


def _fields(
    batch: spectrum.SpectrumBatch, stable: np.ndarray, flags: list[tuple[str, ...]]
) -> list[dict[str, Any]]:
    """Record fields per row from the struct of arrays (one `tolist` per array)."""
    columns = [getattr(batch, name).tolist() for name in _COLUMNS]
    rules = list(batch.k_star)
    ks = zip(*(batch.k_star[r].tolist() for r in rules), strict=True)
    k_star = [dict(zip(rules, k, strict=True)) for k in ks]
    stability = [None if s != s else s for s in stable.tolist()]
    rows = zip(*columns, k_star, stability, [list(f) for f in flags], strict=True)
    return [dict(zip(_FIELDS, row, strict=True)) for row in rows]


def _stability(previous: np.ndarray, cross: np.ndarray, top: np.ndarray) -> np.ndarray:
    """`direction.stability` as per-row matrix products, so a row never depends on the batch
    it is evaluated in (einsum's summation order varies with N for some W)."""
    with np.errstate(invalid="ignore"):
        row = np.matmul(cross, top[..., None])[..., 0]
        return np.minimum(np.abs(np.sum(previous * row, axis=1)), 1.0)


def _union(marks: list[list[str]]) -> tuple[str, ...]:
    if not any(marks):
        return ()
    return tuple(sorted({flag for mark in marks for flag in mark}))
