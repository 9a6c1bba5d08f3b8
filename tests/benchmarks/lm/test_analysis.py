"""The report's measurements on arrays: exact window spectra, the producer's sketch of saved
deltas, relative errors, and live phases against the rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.lm import analysis
from producer.config import ProducerConfig
from producer.hooks import sketch_for


def test_window_spectra_are_the_singular_values_of_each_window_of_updates() -> None:
    updates = np.random.default_rng(0).normal(size=(9, 300))
    ends, sigma = analysis.window_spectra(updates, 4)
    assert ends.tolist() == [4, 5, 6, 7, 8, 9]
    for end, values in zip(ends, sigma, strict=True):
        expected = np.linalg.svd(updates[end - 4 : end], compute_uv=False)
        assert values == pytest.approx(expected, rel=1e-9)


def test_sketching_saved_deltas_by_name_is_the_producers_sketch_of_those_tensors() -> None:
    rng = np.random.default_rng(1)
    names = [("a.weight", 12), ("b.bias", 5)]
    updates = rng.normal(size=(3, 17))
    got = analysis.sketch_updates(updates, names, 64, seed=7)
    sketch = sketch_for(ProducerConfig(dim=64, seed=7, threads=1))
    for row, vector in zip(updates, got, strict=True):
        expected = sketch.sketch_parameters([("a.weight", row[:12]), ("b.bias", row[12:])])
        assert vector == pytest.approx(expected, abs=1e-12)


def test_spectral_errors_are_zero_for_identical_spectra_and_relative_otherwise() -> None:
    exact = np.array([[4.0, 2.0, 1.0, 0.5]])
    assert all(v == 0.0 for v in analysis.spectral_errors(exact, exact).values())
    off = analysis.spectral_errors(np.array([[4.0, 2.0, 1.1, 0.5]]), exact)
    # weighted k* = 1 (4/2 weighted by 4/7.5); sigma_2/sigma_3: 2/1.1 against 2
    assert off["edge_ratio_mean"] == 0.0
    assert off["sigma2_sigma3_mean"] == pytest.approx(abs(2 / 1.1 - 2) / 2)


def _raw(ratios: list[float], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """Records whose product edge ratio and sigma_2/sigma_3 both follow `ratios`."""
    records = [{"index": 10 + i, "step": 200 * (10 + i), "sigma": [r * r, r, 1.0],
                "edge_ratio": r, "k_star": {"argmax": 1, "weighted": 1, "floor": 1}}
               for i, r in enumerate(ratios)]  # fmt: skip
    settings = {"collapse_threshold": 1.2, "plateau_min": 1.5, "plateau_windows": 3}
    return {"records": {"3": records}, "alerts": alerts, "analyzer_settings": settings}


RATIOS = [1.0, 1.6, 1.65, 1.9, 2.0, 2.0, 1.95, 1.4, 1.1, 1.0]


def test_live_phase_alerts_are_matched_to_the_rule_by_window_position() -> None:
    alerts = [{"type": f"phase.{p}", "window": 3, "index": 10 + i}
              for p, i in (("rise", 3), ("plateau", 5), ("collapse", 8))]  # fmt: skip
    found = analysis.phases(_raw(RATIOS, alerts), 3)["product"]
    assert found["rule"] == {"rise": 1, "plateau": 3, "collapse": 8}
    assert found["live"] == {"rise": 3, "plateau": 5, "collapse": 8}
    assert found["offset"] == {"rise": 2, "plateau": 2, "collapse": 0}
    assert found["agrees"] and found["found"]
    late = [{**a, "index": a["index"] + 1} if a["type"] == "phase.plateau" else a for a in alerts]
    assert not analysis.phases(_raw(RATIOS, late), 3)["product"]["agrees"]
    missing = analysis.phases(_raw(RATIOS, alerts[:2]), 3)["product"]
    assert not missing["agrees"] and not missing["found"]


def test_the_papers_settings_replay_the_live_detector_on_sigma2_over_sigma3() -> None:
    found = analysis.phases(_raw(RATIOS, []), 3)
    # no rise level: the rise starts at the first window; the live detector confirms it after 3
    assert found["paper"]["rule"] == {"rise": 0, "plateau": 3, "collapse": 8}
    assert found["paper"]["live"]["rise"] == 2
    # the running peak kept growing by more than 5 % until the ratio had fallen below 0.85 x peak
    assert found["paper"]["live"]["plateau"] is None and not found["paper"]["agrees"]
    assert found["peak_paper_ratio"] == 2.0 and found["paper_peak_position"] == 4


def test_k_star_reports_mode_share_and_changes() -> None:
    raw = _raw([2.0] * 4, [])
    for record, k in zip(raw["records"]["3"], (1, 2, 2, 1), strict=True):
        record["k_star"] = {"argmax": k, "weighted": 2, "floor": k}
    found = analysis.k_star(raw, 3)
    assert found["argmax"]["changes"] == 2 and found["argmax"]["share"] == 0.5
    assert found["weighted"] == {"mode": 2, "share": 1.0, "changes": 0, "values": [2, 2, 2, 2]}
