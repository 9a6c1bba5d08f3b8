"""Strides: a stride-s lane's windows are those of x_i - x_j over the multiples of s, any order."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import spectrum
from analyzer.service.assembly import GAP, INCOMPLETE, Snapshot
from analyzer.service.series import Due, Series, evaluate_windows

LENGTHS = (3, 5)
STRIDES = (1, 3)
D = 6
N = 31


def _snapshots(n: int = N, seed: int = 0) -> dict[int, Snapshot]:
    xs = np.random.default_rng(seed).normal(size=(n, D)).cumsum(axis=0)
    return {i: Snapshot(10 * i, x) for i, x in enumerate(xs)}


def _restored(series: Series) -> Series:
    fields = {k.encode(): v for k, v in series.to_fields().items()}
    return Series.from_fields(series.lengths, fields, series.strides)


def _feed(
    order: list[int], snaps: dict[int, Snapshot], strides: tuple[int, ...], restore: bool = False
) -> list[tuple[Due, dict[str, object]]]:
    """Deliver one snapshot at a time, evaluating (and remembering) as the bank does."""
    series, pending, got = Series(LENGTHS, strides), {}, []
    for index in order:
        pending[index] = snaps[index]
        consumed, dues = series.advance(pending)
        for i in consumed:
            del pending[i]
        evaluated = evaluate_windows([dues], "weighted")[0]
        series.remember(dues, [e.top for e in evaluated])
        got += [(due, e.fields) for due, e in zip(dues, evaluated, strict=True)]
        series = _restored(series) if restore else series
    return got


def _key(got: list[tuple[Due, dict[str, object]]]) -> list[tuple[object, ...]]:
    return sorted((d.stride, d.length, d.end, d.step, d.flags, repr(f)) for d, f in got)


def test_strided_windows_are_the_core_metrics_of_the_strided_updates() -> None:
    snaps = _snapshots()
    got = _feed(list(range(N)), snaps, STRIDES)
    strided = [(d, f) for d, f in got if d.stride == 3]
    ends = {w: [d.end for d, _ in strided if d.length == w] for w in LENGTHS}
    assert ends == {w: list(range(3 * w, N, 3)) for w in LENGTHS}
    xs = np.stack([snaps[i].x for i in range(0, N, 3)])  # the multiples of 3
    previous: dict[int, np.ndarray] = {}
    for due, fields in strided:
        at = due.end // 3
        updates = np.diff(xs[at - due.length : at + 1], axis=0)
        np.testing.assert_array_equal(due.updates(), updates)
        ref = spectrum.window_metrics(updates, previous=previous.get(due.length))
        previous[due.length] = ref.direction
        assert due.step == 10 * due.end and due.flags == ()
        np.testing.assert_allclose(fields["sigma"], ref.sigma, rtol=1e-9, atol=1e-9 * ref.sigma[0])  # type: ignore[arg-type]
        assert fields["k_star"] == ref.k_star
        for name in ("edge_ratio", "gap", "g23", "drift_speed"):
            assert fields[name] == pytest.approx(getattr(ref, name), rel=1e-9)
        if ref.direction_stability is not None:
            assert fields["direction_stability"] == pytest.approx(ref.direction_stability, rel=1e-7)


def test_stride_one_is_unchanged_by_other_strides() -> None:
    snaps = _snapshots()
    alone = _feed(list(range(N)), snaps, (1,))
    beside = [(d, f) for d, f in _feed(list(range(N)), snaps, STRIDES) if d.stride == 1]
    assert _key(beside) == _key(alone)


def test_any_order_and_restarts_give_the_same_windows() -> None:
    snaps = _snapshots()
    in_order = _key(_feed(list(range(N)), snaps, STRIDES))
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(N).tolist()
        assert _key(_feed(order, snaps, STRIDES)) == in_order
    assert _key(_feed(list(range(N)), snaps, STRIDES, restore=True)) == in_order


def test_only_a_skipped_multiple_flags_the_strided_windows_gap() -> None:
    snaps = _snapshots(40)
    series = Series((3,), STRIDES)
    pending = {i: s for i, s in snaps.items() if i not in (7, 21)}  # 7 is no multiple of 3
    dues = []
    while True:
        consumed, due = series.advance(pending, skip=True)
        dues += due
        if not consumed:
            break
        for i in consumed:
            del pending[i]
    flagged = sorted(d.end for d in dues if d.stride == 3 and GAP in d.flags)
    assert flagged == [24, 27, 30]  # the update x_24 - x_18 spans the skipped 21
    window = next(d for d in dues if (d.stride, d.end) == (3, 24))
    xs = np.stack([snaps[i].x for i in (12, 15, 18, 24)])
    np.testing.assert_array_equal(window.updates(), np.diff(xs, axis=0))
    assert sorted(d.end for d in dues if d.stride == 1 and GAP in d.flags) == [8, 9, 10, 22, 23, 24]


def test_an_incomplete_snapshot_flags_only_the_strides_that_use_it() -> None:
    snaps = _snapshots(20)
    snaps[4] = snaps[4]._replace(flags=frozenset({INCOMPLETE}))
    _, dues = Series((3,), (1, 2, 3)).advance(snaps)
    marked = {s: sorted(d.end for d in dues if d.stride == s and INCOMPLETE in d.flags)
              for s in (1, 2, 3)}  # fmt: skip
    assert marked == {1: [4, 5, 6, 7], 2: [6, 8, 10], 3: []}
