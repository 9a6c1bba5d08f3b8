"""Grokking early-warning rules: fire once on a series built to trigger them, silent otherwise."""

from __future__ import annotations

from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from analyzer.core.grokking import (
    BothDrops,
    DefectAlarm,
    GrokkingConfig,
    KStarShift,
    RelativeDrop,
    Threshold,
)

RNG = np.random.default_rng(0)
Rule = RelativeDrop | KStarShift | DefectAlarm | Threshold | BothDrops


def _fired(rule: Rule, series: list[Any]) -> list[int]:
    return [i for i, value in enumerate(series) if rule.update(value) is not None]


def _noise(level: float, spread: float, n: int = 300, seed: int = 1) -> list[float]:
    return list(level + spread * np.random.default_rng(seed).standard_normal(n))


# A plateau near 1.8, then a fall to 1.2 (two thirds of it) from window 60 on.
EDGE_COLLAPSE = _noise(1.8, 0.05, 60) + _noise(1.2, 0.05, 40, seed=2)
# g23 steady near 1.0, then a decline to 1/100 of it from window 50 on.
G23_DECLINE = list(np.abs(_noise(1.0, 0.1, 50))) + [0.01] * 30


def test_relative_drop_fires_once_after_the_fall() -> None:
    rule = RelativeDrop(fraction=0.75, warmup=5, smooth=5, persist=3)
    fired = _fired(rule, EDGE_COLLAPSE)
    assert len(fired) == 1
    assert 60 <= fired[0] <= 60 + 5 + 3
    assert rule.fired


def test_relative_drop_on_a_gram_gap_decline() -> None:
    assert _fired(RelativeDrop(fraction=0.1), G23_DECLINE) == [50 + 2 + 3 - 1]


@pytest.mark.parametrize(
    "series",
    [
        [1.5] * 200,
        _noise(1.5, 0.1),
        _noise(1.5, 0.1, seed=3)[:40] + [1.0] * 2 + _noise(1.5, 0.1, seed=4),  # a short dip
        list(np.linspace(1.0, 3.0, 200)),  # rising
    ],
)
def test_relative_drop_silent_on_flat_noise_blips_and_rises(series: list[float]) -> None:
    assert _fired(RelativeDrop(fraction=0.75, smooth=5, persist=3), series) == []


def test_relative_drop_ignores_the_warmup_windows() -> None:
    series = [100.0] * 5 + [1.0] * 100
    assert _fired(RelativeDrop(fraction=0.5, warmup=5), series) == []


def test_k_star_shift_fires_on_a_lasting_change() -> None:
    series = [1] * 30 + [2] * 10
    assert _fired(KStarShift(warmup=5, baseline=10, persist=5), series) == [34]


@pytest.mark.parametrize(
    "series",
    [
        [1] * 100,
        [1, 1, 1, 1, 2] * 40,  # a flicker every fifth window
        [int(k) for k in RNG.choice([1, 2], size=200, p=[0.8, 0.2])],  # random flicker
        [3] * 12 + [1] * 100,  # changes during the warmup only
    ],
)
def test_k_star_shift_silent_on_flat_and_flicker(series: list[int]) -> None:
    assert _fired(KStarShift(warmup=15, baseline=10, persist=5), series) == []


def test_defect_alarm_needs_ten_times_baseline_and_the_floor() -> None:
    assert _fired(DefectAlarm(), [2.0, 3.0, 4.0, 25.0, 29.0, 31.0, 40.0]) == [5]
    assert _fired(DefectAlarm(), [0.1, 0.2, 0.3, 5.0, 10.0, 19.9]) == []  # 10x but below 20
    assert _fired(DefectAlarm(), [10.0, 10.0, 10.0, 50.0, 99.0]) == []  # above 20, not 10x


def test_defect_alarm_persist_needs_consecutive_measurements() -> None:
    alarm = DefectAlarm(persist=2)
    assert _fired(alarm, [2.0, 3.0, 2.0, 40.0, 5.0, 40.0, 50.0, 60.0]) == [6]


@pytest.mark.parametrize("series", [[3.0] * 50, list(np.abs(_noise(3.0, 1.0, 100)))])
def test_defect_alarm_silent_on_flat_and_noise(series: list[float]) -> None:
    assert _fired(DefectAlarm(), series) == []


def test_threshold_fires_at_the_first_crossing_only() -> None:
    assert _fired(Threshold(0.9), [0.1, 0.5, 0.89, 0.9, 0.95, 0.2, 0.99]) == [3]
    assert _fired(Threshold(0.9), [0.5] * 20) == []


def test_rules_resume_from_their_fields() -> None:
    whole = _fired(RelativeDrop(), EDGE_COLLAPSE)
    first = RelativeDrop()
    early = _fired(first, EDGE_COLLAPSE[:55])
    resumed = RelativeDrop(**asdict(first))
    late = [55 + i for i in _fired(resumed, EDGE_COLLAPSE[55:])]
    assert early + late == whole


def test_config_reads_prefixed_settings_and_rejects_unknown_detectors() -> None:
    settings = SimpleNamespace(
        grokking_detectors=["g23", "k_star"], grokking_g23_fraction=0.05, grokking_g23_persist=None
    )
    config = GrokkingConfig.from_settings(settings)
    assert config.detectors == ("g23", "k_star")
    assert config.g23_fraction == 0.05
    assert config.g23_persist == GrokkingConfig().g23_persist
    assert set(config.rules()) == {"g23", "k_star"}
    with pytest.raises(ValueError):
        GrokkingConfig(detectors=("nope",))


def test_both_drops_fires_once_both_have_fired_and_resumes() -> None:
    edge = EDGE_COLLAPSE + [1.2] * 20  # falls at window 60
    g23 = [1.0] * 70 + [0.01] * 50  # falls at window 70
    pairs = list(zip(edge, g23, strict=False))
    rule = BothDrops(RelativeDrop(0.75), RelativeDrop(0.1))
    fired = _fired(rule, pairs)
    assert len(fired) == 1 and fired[0] >= 70
    assert _fired(BothDrops(RelativeDrop(0.75), RelativeDrop(0.1)), [(r, 1.0) for r in edge]) == []
    first = BothDrops(RelativeDrop(0.75), RelativeDrop(0.1))
    early = _fired(first, pairs[:65])
    resumed = BothDrops.from_dict(asdict(first))
    assert resumed == first
    assert early + [65 + i for i in _fired(resumed, pairs[65:])] == fired
