"""The edge.collapse rule: once after plateau and collapse, silent otherwise, resumable."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.detectors import CollapseDetector, CollapseEvent
from analyzer.errors import StateError

RISE_PLATEAU_COLLAPSE = [1.0, 1.3, 2.0, 2.1, 2.0, 1.9, 1.5, 1.1, 1.0, 1.05, 2.2, 1.0, 0.9]


def _feed(detector: CollapseDetector, series: list[float], start: int = 0) -> list[CollapseEvent]:
    events = [detector.update(start + i, 10 * (start + i), r) for i, r in enumerate(series)]
    return [e for e in events if e is not None]


def test_fires_once_after_plateau_then_collapse() -> None:
    events = _feed(CollapseDetector(), RISE_PLATEAU_COLLAPSE)
    assert events == [CollapseEvent(index=7, step=70, edge_ratio=1.1, peak=2.1, threshold=1.2)]


@pytest.mark.parametrize(
    "series",
    [
        [1.0] * 50,
        list(1.0 + 0.1 * np.random.default_rng(0).standard_normal(200)),  # noise, no plateau
        list(1.8 + 0.1 * np.random.default_rng(1).standard_normal(200)),  # plateau, no collapse
        [1.0, 2.0, 2.0, 1.0, 1.0],  # plateau of 2 windows is too short for plateau_windows=3
        [1.0, 1.4, 1.45, 1.4, 1.0, 1.0],  # peak below plateau_min
    ],
)
def test_silent_without_plateau_and_collapse(series: list[float]) -> None:
    assert _feed(CollapseDetector(), series) == []


def test_replayed_and_older_indices_are_ignored() -> None:
    detector = CollapseDetector()
    _feed(detector, RISE_PLATEAU_COLLAPSE[:7])
    assert detector.update(3, 30, 0.5) is None
    assert detector.update(6, 60, 0.5) is None
    assert detector.update(7, 70, 1.1) is not None


def test_state_round_trips_mid_series() -> None:
    whole = _feed(CollapseDetector(), RISE_PLATEAU_COLLAPSE)
    first = CollapseDetector()
    early = _feed(first, RISE_PLATEAU_COLLAPSE[:5])
    resumed = CollapseDetector.from_bytes(first.to_bytes())
    assert resumed == first
    late = _feed(resumed, RISE_PLATEAU_COLLAPSE[5:], start=5)
    assert early + late == whole
    assert _feed(CollapseDetector.from_bytes(resumed.to_bytes()), [0.1], start=99) == []


def test_forced_thresholds_fire_on_the_first_window() -> None:
    detector = CollapseDetector(plateau_min=0.0, plateau_windows=1, collapse_threshold=1e9)
    assert _feed(detector, [1.5, 1.4, 1.3]) == [CollapseEvent(0, 0, 1.5, 1.5, 1e9)]


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b'{"v": 2}', b'{"v": 1, "nope": 3}'])
def test_unreadable_state_raises(data: bytes) -> None:
    with pytest.raises(StateError):
        CollapseDetector.from_bytes(data)
