"""Detector banks: edge.collapse, phases and spectral rules per series, scalar alarms per run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyzer.core.detectors import (
    CONFIDENCE,
    CollapseDetector,
    DetectorEvent,
    ScalarDetectors,
    SeriesDetectors,
)
from analyzer.core.grokking import Evidence, GrokkingConfig
from analyzer.errors import StateError
from analyzer.records import KStar, WindowRecord
from analyzer.service.config import AnalyzerSettings

RISE_PLATEAU_COLLAPSE = [1.0, 1.3, 2.0, 2.1, 2.0, 1.9, 1.5, 1.1, 1.0, 1.05, 2.2, 1.0, 0.9]


def _fired(detector: CollapseDetector, series: list[float]) -> list[tuple[int, Evidence]]:
    hits = [(i, detector.update(r)) for i, r in enumerate(series)]
    return [(i, hit) for i, hit in hits if hit is not None]


def test_collapse_fires_once_after_plateau_then_collapse() -> None:
    evidence = {"edge_ratio": 1.1, "peak": 2.1, "threshold": 1.2}
    assert _fired(CollapseDetector(), RISE_PLATEAU_COLLAPSE) == [(7, evidence)]


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
def test_collapse_silent_without_plateau_and_collapse(series: list[float]) -> None:
    assert _fired(CollapseDetector(), series) == []


def test_forced_collapse_thresholds_fire_on_the_first_window() -> None:
    detector = CollapseDetector(plateau_min=0.0, plateau_windows=1, collapse_threshold=1e9)
    assert [i for i, _ in _fired(detector, [1.5, 1.4, 1.3])] == [0]


def _record(
    index: int, edge_ratio: float, g23: float = 1.0, k: int = 1, window: int = 10
) -> WindowRecord:
    return WindowRecord(
        run_id="r", group="all", window=window, index=index, step=5 * index, sigma=[1.0, 0.5],
        ratios=[edge_ratio], k_star=KStar(argmax=k, weighted=k, floor=k), edge_ratio=edge_ratio,
        gap=0.5, g23=g23, energy=[0.8, 0.2], k95=1, drift_speed=0.1,
    )  # fmt: skip


# A plateau of R near 2, a fall to 0.3 at window 40; g23 falls 1000x at window 60; k* 1 -> 2 at 80.
SERIES = [
    _record(i, 2.0 if i < 40 else 0.3, 1.0 if i < 60 else 0.001, 1 if i < 80 else 2)
    for i in range(10, 110)
]
ALL = GrokkingConfig(detectors=("edge_ratio", "g23", "k_star"))


def _events(bank: SeriesDetectors, records: list[WindowRecord]) -> list[DetectorEvent]:
    return [event for record in records for event in bank.update(record)]


def test_series_bank_fires_each_rule_once_in_order() -> None:
    events = _events(SeriesDetectors(ALL), SERIES)
    assert [(e.type, e.detector) for e in events] == [
        ("phase.rise", "phases"),
        ("phase.plateau", "phases"),
        ("edge.collapse", "collapse"),
        ("phase.collapse", "phases"),
        ("edge.decline", "edge_ratio"),
        ("g23.decline", "g23"),
        ("k_star.shift", "k_star"),
    ]
    steps = [e.step for e in events]
    assert steps == sorted(steps)
    assert events[2].index == events[3].index == 40
    assert 40 <= events[4].index <= 48 and 60 <= events[5].index <= 75
    assert all(isinstance(v, float) for e in events for v in e.evidence.values())
    assert "edge ratio declined" in events[4].message
    assert [e.confidence for e in events] == [
        *[1.0] * 4,
        CONFIDENCE["edge_ratio"],
        CONFIDENCE["g23"],
        None,  # k_star: not measured
    ]


def test_spectral_confidence_only_on_the_series_it_was_measured_at() -> None:
    strided = [r.model_copy(update={"stride": 4}) for r in SERIES]
    events = _events(SeriesDetectors(ALL), strided)
    assert [e.confidence for e in events if e.type == "edge.decline"] == [None]
    assert "stride 4" in events[-1].message


@pytest.mark.parametrize(
    "records",
    [
        [_record(i, 2.0) for i in range(200)],
        [_record(i, r, g) for i, (r, g) in enumerate(zip(
            np.abs(1.5 + 0.05 * np.random.default_rng(5).standard_normal(200)),
            np.abs(1.0 + 0.1 * np.random.default_rng(6).standard_normal(200)), strict=True))],
    ],
)  # fmt: skip
def test_series_bank_silent_on_flat_and_noisy_series(records: list[WindowRecord]) -> None:
    events = _events(SeriesDetectors(ALL), records)
    assert [e for e in events if not e.type.startswith("phase.")] == []
    assert "phase.collapse" not in {e.type for e in events}


def test_series_bank_ignores_old_indices_and_round_trips() -> None:
    whole = _events(SeriesDetectors(ALL), SERIES)
    first = SeriesDetectors(ALL)
    early = _events(first, SERIES[:45])
    assert _events(first, SERIES[:45]) == []  # replayed
    resumed = SeriesDetectors.from_bytes(first.to_bytes())
    assert resumed == first and resumed.last_index == SERIES[44].index
    assert early + _events(resumed, SERIES[45:]) == whole


def test_series_bank_from_settings_runs_the_default_detector() -> None:
    settings = AnalyzerSettings(collapse_threshold=1.3)
    bank = SeriesDetectors.from_settings(settings)
    assert bank.collapse.collapse_threshold == bank.phases.tau == 1.3
    assert tuple(bank.rules) == GrokkingConfig().detectors


def test_scalar_bank_generalized_and_commutator_rise() -> None:
    bank = ScalarDetectors()
    events = []
    defects = [2.0, 3.0, 2.5, 4.0, 100.0, 130.0, 140.0]  # 130 >= 51.05 x 2.5 (and > 10) at 500
    for i, defect in enumerate(defects):
        events += bank.update(100 * i, {"commutator_defect": defect, "test_acc": 0.1 * i})
    events += bank.update(600, {"test_acc": 1.0})  # a replayed step is ignored
    events += bank.update(700, {"test_acc": 0.95})
    assert [(e.type, e.detector, e.step, e.confidence) for e in events] == [
        ("commutator.rise", "commutator", 500, CONFIDENCE["commutator"]),
        ("grokking.generalized", "test_acc", 700, 1.0),
    ]
    assert events[0].evidence["ratio"] == pytest.approx(52.0)


def test_scalar_bank_round_trips_and_ignores_other_names() -> None:
    bank = ScalarDetectors.from_settings(AnalyzerSettings())
    assert bank.update(1, {"train_loss": 1.0, "loss": 0.0}) == []
    bank.update(2, {"val_acc": 0.5, "commutator_defect": 1.0, "val_loss": 3.0})
    resumed = ScalarDetectors.from_bytes(bank.to_bytes())
    assert resumed == bank
    assert [e.detector for e in resumed.update(3, {"val_acc": 0.95})] == ["val_acc"]


def test_scalar_bank_memorisation_and_validation_loss_decline() -> None:
    bank = ScalarDetectors()
    losses = [5.0, 4.0, 4.5, 5.0, 4.0, 3.4, 3.2, 3.1, 3.0]  # peak 5.0 after the warmup of 2
    events = []
    for i, loss in enumerate(losses):
        events += bank.update(50 * (i + 1), {"test_loss": loss, "train_acc": 0.9 + 0.02 * i})
    assert [(e.type, e.step, e.confidence) for e in events] == [
        ("memorisation.detected", 300, 1.0),
        ("val_loss.decline", 400, CONFIDENCE["val_loss_decline"]),  # 2 in a row <= 0.659 x 5
    ]
    assert events[1].evidence == pytest.approx({"value": 3.1, "baseline": 5.0, "ratio": 0.62})


def test_scalar_bank_state_from_before_the_new_rules_restores() -> None:
    old = json.loads(ScalarDetectors().to_bytes())
    for name in ("memorised", "val_loss"):
        del old[name]
    bank = ScalarDetectors.from_bytes(json.dumps(old).encode())
    assert bank == ScalarDetectors()


@pytest.mark.parametrize("data", [b"", b"[]", b'{"v": 1}', b'{"v": 2, "config": 3}'])
def test_unreadable_bank_state_raises(data: bytes) -> None:
    with pytest.raises(StateError):
        SeriesDetectors.from_bytes(data)
    with pytest.raises(StateError):
        ScalarDetectors.from_bytes(data)


def test_series_bank_runs_grokking_rules_on_its_windows_only() -> None:
    default = GrokkingConfig()
    records = [_record(r.index, r.edge_ratio, r.g23, window=20) for r in SERIES]
    spectral = [e for e in _events(SeriesDetectors(default), records) if e.detector == "edge_ratio"]
    assert spectral == []
    events = _events(SeriesDetectors(default), SERIES)
    assert [e.type for e in events if e.detector == "edge_ratio"] == ["edge.decline"]
