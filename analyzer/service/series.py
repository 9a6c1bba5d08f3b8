"""One series (run, group): snapshots consumed in index order, each window computed exactly once.

Snapshots may arrive in any order; the series consumes them strictly in index order from its
`frontier` (the last consumed index), so every window is produced once, by the advance that
consumes its last snapshot, from the same state whatever the arrival order or batching. Update u_i
is x_i - x_prev; one rolling Gram of the longest window length plus one serves every length W:
its trailing W x W block is the window's Gram, the block one row up its cross Gram U_prev Uᵀ.
A missing snapshot stalls the series until it arrives or its gap deadline passes; then the series
skips it (`skip=True`), the spanning update is flagged `gap`, and so is every window containing it
(a series whose first snapshots never came simply starts later). Updates touching an incomplete
(timed-out, partly assembled) snapshot are flagged `incomplete`.
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

_CANCEL = 1e-6  # drift check of spectrum.batch_metrics' refinement (sum of updates cancels)
_COLUMNS = ("sigma", "ratios", "edge_ratio", "gap", "g23", "energy", "k95", "drift_speed")
_FIELDS = (*_COLUMNS, "k_star", "direction_stability", "flags")  # a record's metric fields


class Due(NamedTuple):
    """A window ready to evaluate, captured right after the push that completed it.

    `block` is the Gram of the last (up to W_max + 1) updates at that push; `history[:stop]` holds
    the updates so far in this advance (preceded by those the rolling Gram held before it).
    `previous` is the `top` remembered one push before (set for the first window of its length
    in an advance; later ones chain to the window before them).
    """

    length: int
    end: int
    step: int
    block: np.ndarray
    history: list[np.ndarray]
    stop: int
    previous: np.ndarray | None
    flags: tuple[str, ...]

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
class Series:
    """The consumed prefix of one series: frontier, last snapshot, rolling Gram, update flags."""

    lengths: tuple[int, ...]
    frontier: int = -1
    last: Snapshot | None = None
    rolling: RollingGram | None = None
    marks: list[list[str]] = field(default_factory=list)
    detectors: dict[int, bytes] = field(default_factory=dict)
    version: int = 0

    def advance(
        self, pending: Mapping[int, Snapshot], skip: bool = False
    ) -> tuple[list[int], list[Due]]:
        """Consume the pending snapshots continuing the frontier (`skip`: over one hole)."""
        consumed: list[int] = []
        due: list[Due] = []
        history = list(self.rolling.updates()) if self.rolling is not None else []
        while True:
            index = self.frontier + 1
            gap = index not in pending
            if gap:
                later = [i for i in pending if i > self.frontier]
                if not (skip and later):
                    return consumed, due
                index, skip = min(later), False
            consumed.append(index)
            due += self._push(index, pending[index], gap, history)

    def _push(
        self, index: int, snapshot: Snapshot, gap: bool, history: list[np.ndarray]
    ) -> list[Due]:
        last, self.last, self.frontier = self.last, snapshot, index
        if last is None:
            return []
        if snapshot.x.size != last.x.size:
            raise StateError(f"snapshot {index} has d={snapshot.x.size}, the series {last.x.size}")
        rolling = self.rolling
        if rolling is None:
            rolling = self.rolling = RollingGram(max(self.lengths) + 1, last.x.size)
        update = snapshot.x - last.x
        rolling.push(update)
        history.append(update)
        flags = snapshot.flags | last.flags
        self.marks.append(sorted(flags | {GAP}) if gap else sorted(flags))
        del self.marks[: -max(self.lengths)]
        block, stop, count = rolling.gram(), len(history), rolling.count
        step, marks = snapshot.step, self.marks
        return [
            Due(w, index, step, block, history, stop, rolling.previous_top(w), _union(marks[-w:]))
            for w in self.lengths
            if count >= w
        ]

    def remember(self, dues: list[Due], tops: list[np.ndarray | None]) -> None:
        """Keep the last window's `top` per length for the next advance's direction stability."""
        for due, top in zip(dues, tops, strict=True):
            if self.rolling is not None and due.end == self.frontier and top is not None:
                self.rolling.remember(top)

    def to_fields(self) -> dict[str, bytes]:
        """The state as Redis HASH fields (version excluded: the CAS script owns it)."""
        fields = {"frontier": str(self.frontier).encode(), "marks": json.dumps(self.marks).encode()}
        if self.last is not None:
            fields["last"] = assembly.pack(self.last)
        if self.rolling is not None:
            fields["gram"] = self.rolling.to_bytes()
        fields.update({f"det:{w}": state for w, state in self.detectors.items()})
        return fields

    @classmethod
    def from_fields(cls, lengths: tuple[int, ...], fields: Mapping[bytes, bytes]) -> Series:
        """Restore a series from its HASH (an empty mapping is a new series)."""
        get = {k.decode(): v for k, v in fields.items()}
        try:
            return cls(
                lengths=lengths,
                frontier=int(get.get("frontier", b"-1")),
                last=assembly.unpack(get["last"]) if "last" in get else None,
                rolling=RollingGram.from_bytes(get["gram"]) if "gram" in get else None,
                marks=json.loads(get.get("marks", b"[]")),
                detectors={int(k[4:]): v for k, v in get.items() if k.startswith("det:")},
                version=int(get.get("v", b"0")),
            )
        except (ValueError, KeyError) as exc:
            raise StateError(f"unreadable series state: {exc}") from None


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
    """Each row's previous `top`: the row before it of the same series, else `due.previous`."""
    owner = [g for g, _, _ in items]
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
