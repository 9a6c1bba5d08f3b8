"""The analyzer's live rules against the committed evaluation: settings tuned there, confidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analyzer.core.detectors import CONFIDENCE, SPECTRAL_TYPES
from analyzer.core.grokking import DefectAlarm, GrokkingConfig
from benchmarks.grokking import live
from benchmarks.grokking.scoring import Candidate
from tests.support.recorded_runs import recorded_run

RESULTS = Path(live.__file__).with_name("results") / "results.json"


def test_confidence_is_smoothed_precision() -> None:
    assert live.confidence(3, 0) == 0.8
    assert live.confidence(0, 0) == 0.5
    assert live.confidence(12, 2) == 0.8125


def test_committed_evaluation_rates_every_live_rule() -> None:
    rows = json.loads(RESULTS.read_text(encoding="utf-8"))["live"]
    assert set(rows) == set(live.LIVE)
    for alert, row in rows.items():
        assert row["matches"], f"{alert}: default {row['live']} is not the tuned {row['tuned']}"
        assert CONFIDENCE[row["detector"]] == row["confidence"], alert
    assert live.LIVE["edge.decline"][0] in SPECTRAL_TYPES


def test_live_settings_are_the_analyzer_defaults() -> None:
    config, settings = GrokkingConfig(), live.live_settings()
    assert settings["edge.decline"]["threshold"] == pytest.approx(1 - config.edge_fraction)
    assert settings["commutator.rise"]["persist"] == config.defect_persist


@pytest.mark.parametrize("seed", range(3))
def test_commutator_trace_fires_where_the_live_alarm_fires(seed: int) -> None:
    ramp = np.linspace(1, 2000, 60)
    defects = np.abs(np.random.default_rng(seed).normal(2.0, 1.0, 60)) * ramp
    raw = recorded_run("r", "grok", [1.0] * 10, [0.0])
    raw["defects"] = [[10 * (i + 1), float(d)] for i, d in enumerate(defects)]
    live_default = live.live_settings()["commutator.rise"]
    for factor, persist in ((live_default["threshold"], int(live_default["persist"])), (20.0, 3)):
        params = (("baseline", live_default["baseline"]), ("floor", live_default["floor"]))
        candidate = Candidate("commutator", "", params, factor, persist)
        alarm = DefectAlarm(factor, live_default["floor"], persist=persist)
        fired = (10 * (i + 1) for i, d in enumerate(defects) if alarm.update(float(d)))
        expected = next(fired, None)
        assert expected is not None
        assert candidate.alarm(raw) == expected
