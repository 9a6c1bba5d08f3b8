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

from analyzer import assembly, spectrum
from analyzer.assembly import GAP, Snapshot
from analyzer.errors import StateError
from analyzer.gram import RollingGram

_CANCEL = 1e-6  # drift check of spectrum.batch_metrics' refinement (sum of updates cancels)


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
        if self.rolling is None:
            self.rolling = RollingGram(max(self.lengths) + 1, last.x.size)
        update = snapshot.x - last.x
        self.rolling.push(update)
        history.append(update)
        flags = snapshot.flags | last.flags | ({GAP} if gap else set())
        self.marks = [*self.marks, sorted(flags)][-max(self.lengths) :]
        rolling, block = self.rolling, self.rolling.gram()
        return [
            Due(
                w,
                index,
                snapshot.step,
                block,
                history,
                len(history),
                rolling.previous_top(w),
                _union(self.marks[-w:]),
            )
            for w in self.lengths
            if rolling.count >= w
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


def evaluate(groups: list[list[Due]], rule: str) -> list[list[Evaluated]]:
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
        previous = np.full((len(items), width), np.nan)
        for i, (g, _, due) in enumerate(items):
            chained = i > 0 and items[i - 1][0] == g
            if chained or due.previous is not None:
                previous[i] = batch.top[i - 1] if chained else due.previous
        none = np.zeros((width, width))
        cross = np.stack([none if (c := d.cross) is None else c for d in dues])
        stable = _stability(previous, cross, batch.top)
        for i, fields in enumerate(_fields(batch, stable)):
            top = None if np.isnan(batch.top[i]).any() else batch.top[i].copy()
            results[items[i][0]][items[i][1]] = Evaluated(fields, top)
    return [[r for r in group if r is not None] for group in results]


def _metrics(dues: list[Due], rule: str) -> spectrum.SpectrumBatch:
    grams = np.stack([d.gram for d in dues])
    batch = spectrum.batch_metrics(grams, rule, flags=[d.flags for d in dues])
    lam = batch.sigma**2
    total = np.abs(grams).sum(axis=(1, 2))
    steep = (lam[:, 0] > 0.0) & (lam[:, -1] < spectrum.REFINE * lam[:, 0])
    cancel = batch.drift_speed**2 * grams.shape[1] ** 2 < _CANCEL * total
    rows = np.flatnonzero(steep | cancel)
    if rows.size:
        exact = spectrum.batch_metrics(
            grams[rows], rule, updates=np.stack([dues[i].updates() for i in rows]),
            flags=[dues[i].flags for i in rows],
        )  # fmt: skip
        for name in ("sigma", "ratios", "edge_ratio", "gap", "g23", "energy", "k95",
                     "drift_speed", "top"):  # fmt: skip
            getattr(batch, name)[rows] = getattr(exact, name)
        for rule_name, k in batch.k_star.items():
            k[rows] = exact.k_star[rule_name]
    return batch


def _fields(batch: spectrum.SpectrumBatch, stable: np.ndarray) -> list[dict[str, Any]]:
    """Record fields per row from the struct of arrays (one `tolist` per array)."""
    columns = {
        name: getattr(batch, name).tolist()
        for name in ("sigma", "ratios", "edge_ratio", "gap", "g23", "energy", "k95", "drift_speed")
    }
    k_star = {rule: k.tolist() for rule, k in batch.k_star.items()}
    stability = [None if np.isnan(s) else s for s in stable.tolist()]
    return [
        {
            **{name: column[i] for name, column in columns.items()},
            "k_star": {rule: k[i] for rule, k in k_star.items()},
            "direction_stability": stability[i],
            "flags": batch.flags[i],
        }
        for i in range(len(stability))
    ]


def _stability(previous: np.ndarray, cross: np.ndarray, top: np.ndarray) -> np.ndarray:
    """`direction.stability` as per-row matrix products, so a row never depends on the batch
    it is evaluated in (einsum's summation order varies with N for some W)."""
    with np.errstate(invalid="ignore"):
        row = np.matmul(cross, top[..., None])[..., 0]
        return np.minimum(np.abs(np.sum(previous * row, axis=1)), 1.0)


def _union(marks: list[list[str]]) -> tuple[str, ...]:
    return tuple(sorted({flag for mark in marks for flag in mark}))
