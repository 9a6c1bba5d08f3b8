"""Window completion is exactly once per window, in any arrival order."""

from __future__ import annotations

from collections import Counter

import numpy as np

from analyzer.windows import Window, completed, span


def _arrive(order: list[int], lengths: list[int]) -> Counter[Window]:
    present: set[int] = set()
    done: Counter[Window] = Counter()
    for index in order:
        present.add(index)
        done.update(completed(index, present, lengths))
    return done


def test_in_order_arrival_completes_the_window_ending_there() -> None:
    present: set[int] = set()
    for index in range(8):
        present.add(index)
        expected = [Window(w, index) for w in (3, 5) if index >= w]
        assert completed(index, present, [5, 3]) == expected


def test_any_order_completes_each_window_exactly_once() -> None:
    rng = np.random.default_rng(0)
    lengths = [2, 3, 5]
    everything = Counter(Window(w, e) for w in lengths for e in range(w, 12))
    for _ in range(20):
        order = [int(i) for i in rng.permutation(12)]
        assert _arrive(order, lengths) == everything


def test_gap_blocks_the_windows_spanning_it() -> None:
    done = _arrive([0, 1, 2, 4, 5, 6, 7], [2])
    assert set(done) == {Window(2, 2), Window(2, 6), Window(2, 7)}


def test_window_first_and_span() -> None:
    assert Window(3, 7).first == 4
    assert span(1, [3, 5]) == range(0, 7)
    assert span(10, [3]) == range(7, 14)
