"""A series consumes snapshots in index order: every window once, the same in any arrival order."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import spectrum
from analyzer.service.assembly import GAP, INCOMPLETE, Snapshot
from analyzer.service.series import Due, Series, evaluate_windows

LENGTHS = (3, 5)
D = 6


def _snapshots(n: int, seed: int = 0) -> dict[int, Snapshot]:
    xs = np.random.default_rng(seed).normal(size=(n, D)).cumsum(axis=0)
    return {i: Snapshot(10 * i, x) for i, x in enumerate(xs)}


def _feed(order: list[int], snaps: dict[int, Snapshot], restore: bool = False) -> list[Due]:
    series, pending, dues = Series(LENGTHS), {}, []
    for index in order:
        pending[index] = snaps[index]
        consumed, due = series.advance(pending)
        for i in consumed:
            del pending[i]
        dues += due
        if restore:
            series = Series.from_fields(
                LENGTHS, {k.encode(): v for k, v in series.to_fields().items()}
            )
    return dues


def _key(dues: list[Due]) -> list[tuple[int, int, int, tuple[str, ...], list[float]]]:
    """What identifies a due window's content."""
    return [(d.length, d.end, d.step, d.flags, d.gram.ravel().tolist()) for d in dues]


def test_each_window_once_whatever_the_order() -> None:
    snaps = _snapshots(12)
    in_order = _feed(list(range(12)), snaps)
    assert sorted((d.length, d.end) for d in in_order) == sorted(
        [(3, e) for e in range(3, 12)] + [(5, e) for e in range(5, 12)]
    )
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(12).tolist()
        assert _key(_feed(order, snaps)) == _key(in_order)
    assert _key(_feed(list(range(12)), snaps, restore=True)) == _key(in_order)


def test_a_hole_stalls_until_skipped_and_flags_the_spanning_windows() -> None:
    snaps = _snapshots(10)
    series = Series(LENGTHS)
    pending = {i: s for i, s in snaps.items() if i != 4}
    consumed, dues = series.advance(pending)
    assert consumed == [0, 1, 2, 3] and series.frontier == 3
    consumed, dues = series.advance(pending, skip=True)
    assert consumed == [5, 6, 7, 8, 9]
    flagged = {(d.length, d.end) for d in dues if GAP in d.flags}
    assert flagged == {(3, 5), (3, 6), (3, 7), (5, 6), (5, 7), (5, 8), (5, 9)}
    window = next(d for d in dues if (d.length, d.end) == (3, 6))
    xs = np.stack([snaps[i].x for i in (2, 3, 5, 6)])
    np.testing.assert_allclose(window.gram, np.diff(xs, axis=0) @ np.diff(xs, axis=0).T)


def test_incomplete_snapshots_flag_their_windows() -> None:
    snaps = _snapshots(8)
    snaps[4] = snaps[4]._replace(flags=frozenset({INCOMPLETE}))
    _, dues = Series(LENGTHS).advance(snaps)
    assert {(d.length, d.end) for d in dues if INCOMPLETE in d.flags} == {
        (3, 4),
        (3, 5),
        (3, 6),
        (3, 7),
        (5, 5),
        (5, 6),
        (5, 7),
    }


@pytest.mark.parametrize("rank", [None, 2])
@pytest.mark.parametrize("chunks", [[12], [1] * 12, [5, 4, 3]])
def test_evaluate_equals_the_batch_computation(chunks: list[int], rank: int | None) -> None:
    snaps = _snapshots(12, seed=3)
    if rank is not None:  # updates in a 2-dimensional subspace: the Gram alone is not exact
        basis = np.random.default_rng(9).normal(size=(rank, D))
        walk = np.random.default_rng(4).normal(size=(12, rank)).cumsum(axis=0) @ basis
        snaps = {i: Snapshot(10 * i, x) for i, x in enumerate(walk)}
    xs = np.stack([snaps[i].x for i in range(12)])
    series, got, start = Series(LENGTHS), [], 0
    for size in chunks:
        part = {i: snaps[i] for i in range(start, start + size)}
        _, dues = series.advance(part)
        evaluated = evaluate_windows([dues], "weighted")[0]
        series.remember(dues, [e.top for e in evaluated])
        got += [(due, e.fields) for due, e in zip(dues, evaluated, strict=True)]
        start += size
    previous: dict[int, np.ndarray] = {}
    batched = [d.gram.tolist() for d, _ in got]
    assert batched == [d.gram.tolist() for d in _feed(list(range(12)), snaps)]
    for due, metric in got:
        ref = spectrum.window_metrics(
            np.diff(xs[due.end - due.length : due.end + 1], axis=0),
            previous=previous.get(due.length),
        )
        previous[due.length] = ref.direction
        np.testing.assert_allclose(metric["sigma"], ref.sigma, rtol=1e-9, atol=1e-9 * ref.sigma[0])
        assert metric["k_star"] == ref.k_star
        for name in ("edge_ratio", "gap", "g23", "drift_speed"):
            assert metric[name] == pytest.approx(getattr(ref, name), rel=1e-9)
        if ref.direction_stability is None:
            assert metric["direction_stability"] is None
        else:
            assert metric["direction_stability"] == pytest.approx(ref.direction_stability, rel=1e-7)
