"""Live phase detector against the retrospective rule; causality, silence on noise, state."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import spectrum
from analyzer.core.gram import RollingGram
from analyzer.core.phases import PhaseDetector, PhaseEvent, reference_phases
from analyzer.errors import StateError

# Live announcements relative to the reference, in windows (confirm = 3): the rise is confirmed
# confirm - 1 windows after it starts, the plateau once the running peak has settled for
# `confirm` windows, the collapse on the very window.
RISE_LAG = (2, 2)
PLATEAU_LAG = (1, 8)
COLLAPSE_LAG = (0, 0)


def synthetic(seed: int, noise: float = 0.02) -> np.ndarray:
    """Baseline ~1.05, linear rise to a peak in 2..4, noisy plateau, collapse, baseline tail."""
    rng = np.random.default_rng(seed)
    base, rise, plateau, drop, tail = (int(rng.integers(*b)) for b in _LENGTHS)
    peak = rng.uniform(2.0, 4.0)
    r = np.concatenate(
        [
            np.full(base, 1.05),
            np.linspace(1.05, peak, rise + 1)[1:],
            np.full(plateau, peak),
            np.linspace(peak, 1.05, drop + 1)[1:],
            np.full(tail, 1.05),
        ]
    )
    return r * np.exp(rng.normal(0.0, noise, r.size))


_LENGTHS = ((10, 40), (2, 16), (15, 40), (1, 6), (10, 30))


def live(series: np.ndarray, detector: PhaseDetector | None = None) -> list[PhaseEvent]:
    detector = detector or PhaseDetector()
    return [e for i, r in enumerate(series) for e in detector.update(i, 100 * i, r)]


@pytest.mark.parametrize("seed", range(300))
def test_live_agrees_with_reference_within_stated_lags(seed: int) -> None:
    series = synthetic(seed)
    ref = reference_phases(series)
    assert ref.plateau is not None and ref.rise is not None and ref.collapse is not None
    events = live(series)
    assert [e.phase for e in events] == ["rise", "plateau", "collapse"]
    at = {e.phase: e.index for e in events}
    for phase, start, (low, high) in (
        ("rise", ref.rise, RISE_LAG),
        ("plateau", ref.plateau[0], PLATEAU_LAG),
        ("collapse", ref.collapse, COLLAPSE_LAG),
    ):
        assert low <= at[phase] - start <= high, (phase, at[phase], start)
    assert all(e.step == 100 * e.index for e in events)


def test_reference_rule_on_a_hand_made_series() -> None:
    r = [1.0, 1.1, 1.6, 2.5, 3.0, 2.9, 3.1, 2.7, 2.5, 1.3, 1.1, 1.0, 1.25]
    ref = reference_phases(r)
    assert ref.peak == 6
    assert ref.plateau == (4, 7)  # 0.85 * 3.1 = 2.635: windows 4..7
    assert ref.rise == 2  # R >= 1.5 from window 2 into the plateau
    assert ref.collapse == 10  # first window after the peak with R < 1.20
    assert reference_phases(r, tau=1.35).collapse == 9
    assert reference_phases([1.0, 1.2, 1.1]).peak is None


def test_causal_events_depend_on_the_past_only() -> None:
    series = synthetic(7)
    full = live(series)
    for cut in range(len(series)):
        assert live(series[:cut]) == [e for e in full if e.index < cut]


@pytest.mark.parametrize(
    ("w", "d"), [(10, 32), (10, 100), (20, 32), (20, 100), (30, 32), (30, 100)]
)
def test_silent_on_pure_noise_updates(w: int, d: int) -> None:
    rng = np.random.default_rng(w * d)
    rg = RollingGram(w, d)
    ratios = []
    for _ in range(600):
        rg.push(rng.normal(size=d))
        if rg.full:
            ratios.append(spectrum.metrics_from_gram(rg.gram()).edge_ratio)
    assert live(np.array(ratios)) == []


def test_silent_on_noisy_flat_series() -> None:
    rng = np.random.default_rng(11)
    for _ in range(50):
        assert live(1.1 * np.exp(rng.normal(0.0, 0.08, 500))) == []


def test_each_phase_once_and_replays_ignored() -> None:
    detector = PhaseDetector()
    series = np.concatenate([synthetic(3), synthetic(4)])
    events = live(series, detector)
    assert [e.phase for e in events] == ["rise", "plateau", "collapse"]
    assert detector.update(5, 500, 9.0) == []
    assert detector.update(len(series) + 5, 0, 9.0) == []


def test_state_round_trip_mid_series() -> None:
    series = synthetic(5)
    cut = len(series) // 2
    first = PhaseDetector()
    head = [e for i in range(cut) for e in first.update(i, 100 * i, series[i])]
    restored = PhaseDetector.from_bytes(first.to_bytes())
    assert restored == first
    tail = [e for i in range(cut, len(series)) for e in restored.update(i, 100 * i, series[i])]
    assert head + tail == live(series, PhaseDetector())
    for bad in (b"", b"{}", b'{"v": 2}', b'{"v": 1, "phase": "late"}', b'{"v": 1, "x": 1}'):
        with pytest.raises(StateError):
            PhaseDetector.from_bytes(bad)
