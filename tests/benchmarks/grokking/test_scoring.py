"""Detector traces, alarms, tallies and AUROC on synthetic recorded runs."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core.detectors import (
    VAL_LOSS_DECLINE,
    VAL_LOSS_FRACTION,
    VAL_LOSS_PERSIST,
    ScalarDetectors,
)
from analyzer.core.grokking import RelativeDrop
from benchmarks.grokking.scoring import Candidate, auroc, tally
from benchmarks.grokking.signals import drop_levels, rebound, zscore_fall
from tests.support.recorded_runs import recorded_run


def _decline(smooth: int, threshold: float, persist: int) -> Candidate:
    return Candidate("edge_decline", "10", (("smooth", smooth), ("warmup", 2)), threshold, persist)


@pytest.mark.parametrize("seed", range(5))
def test_a_decline_trace_fires_where_the_analyzers_rule_fires(seed: int) -> None:
    values = (np.random.default_rng(seed).random(80) * 3 + np.linspace(4, 0, 80)).tolist()
    raw = recorded_run("r", "grok", values, [0.0])
    for fraction, persist in ((0.5, 1), (0.6, 3), (0.8, 5)):
        rule = RelativeDrop(fraction=fraction, warmup=2, smooth=4, persist=persist)
        expected = next((10 * (i + 1) for i, v in enumerate(values) if rule.update(v)), None)
        assert _decline(4, 1 - fraction, persist).alarm(raw) == expected


def test_statistics_on_known_series() -> None:
    assert np.isnan(drop_levels([1.0, 2.0], warmup=0, smooth=3)).all()
    np.testing.assert_allclose(drop_levels([4.0, 2.0, 1.0], warmup=0, smooth=1), [0, 0.5, 0.75])
    bounce = rebound([4.0, 1.0, 1.0, 2.0], warmup=0, smooth=1, depth=0.5)
    np.testing.assert_allclose(bounce, [np.nan, 0.0, 0.0, 1.0])
    z = zscore_fall([1.0, 3.0, 1.0, 3.0, -1.0], trailing=4)
    assert np.isnan(z[:4]).all() and z[4] == pytest.approx(3.0)


def test_tally_counts_hits_leads_gaps_and_false_alarms_by_control_type() -> None:
    falling = [5.0] * 20 + [1.0] * 40  # falls at step 210
    flat = [5.0] * 60
    acc = [0.0] * 9 + [0.95, 1.0, 1.0]  # groks at step 500
    train = [0.5, 1.0] + [1.0] * 10  # memorised at step 100
    runs = [
        recorded_run("hit", "grok", falling, acc, train_acc=train),
        recorded_run("late", "grok", [5.0] * 55 + [1.0] * 5, acc, train_acc=train),
        recorded_run("no-grok", "grok", falling, [0.0] * 12),
        recorded_run("wd0", "wd0", falling, [0.0] * 12),
        recorded_run("nogen", "nogen", flat, [0.0] * 12),
        recorded_run("generalised", "nogen", falling, acc),
    ]
    row = tally(_decline(1, 0.5, 1), runs).row()
    assert (row["grokking_runs"], row["hits"], row["did_not_grok"]) == (2, 1, 1)
    assert row["median_lead"] == 500 - 210
    assert row["median_lead_fraction"] == pytest.approx(290 / 400)
    assert row["false_alarms_by_condition"] == {"wd0": (1, 1), "nogen": (0, 1)}
    assert row["controls_generalized"] == 1
    assert row["auroc"] == pytest.approx(0.5)  # scores: hit 0.8, late 0; wd0 0.8, nogen 0


def test_auroc() -> None:
    assert auroc([3.0, 2.0], [1.0, 0.0]) == 1.0
    assert auroc([0.0], [1.0]) == 0.0
    assert auroc([1.0], [1.0]) == 0.5
    assert auroc([], [1.0]) is None


@pytest.mark.parametrize("seed", range(3))
def test_the_analyzers_val_loss_rule_is_the_evaluated_baseline(seed: int) -> None:
    losses = (np.random.default_rng(seed).random(40) + np.linspace(5, 1, 40)).tolist()
    raw = recorded_run("r", "grok", [2.0], [0.0] * 40, test_loss=losses)
    bank = ScalarDetectors()
    fired = [e.step for i, v in enumerate(losses) for e in bank.update(50 * (i + 1),
             {"test_loss": v}) if e.type == VAL_LOSS_DECLINE]  # fmt: skip
    baseline = Candidate("val_loss_decline", "", (("smooth", 1), ("warmup", 2)),
                         1 - VAL_LOSS_FRACTION, VAL_LOSS_PERSIST)  # fmt: skip
    assert fired == [baseline.alarm(raw)]
