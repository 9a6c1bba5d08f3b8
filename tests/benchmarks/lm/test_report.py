"""The LM reproduction end to end on a seconds-long run: real text, the real producer, ZeroMQ,
analyzer and Redis, then the report, its figures and a rescore of the saved run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.lm import report


def test_a_tiny_run_goes_through_the_pipeline_into_the_report(tmp_path: Path) -> None:
    report.main(["--tiny", "--out", str(tmp_path), "--jobs", "1"])
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    (run,) = results["runs"]
    assert run["steps"] == 60 and run["shift_step"] == 40
    # 12 snapshots: W = 4 has 9 windows, W = 6 has 7, each with W singular values
    assert [len(run["sigma"][w]) for w in ("4", "6")] == [9, 7]
    assert {len(s) for s in run["sigma"]["6"]} == {6}
    logged = {k for e in run["evaluations"] for k in e}
    assert {"val_loss", "val_loss_code", "lr", "train_loss"} <= logged
    assert any(a["type"].startswith("phase.") for a in run["alerts"])
    for w in ("4", "6"):
        jl = run["jl"][w]
        assert set(jl) == {str(10 * int(w)), "400", "live"}
        # the analyzer's live spectra are the offline sketch of the saved deltas, to rounding
        assert jl["live"]["offline_difference"] < 1e-8
        assert all(np.isfinite(v) for e in jl.values() for v in e.values())
        assert jl["400"]["edge_ratio_mean"] < jl[str(10 * int(w))]["edge_ratio_mean"]
        assert run["coupling_paper"][w]["peak_lag"] in range(-3, 6)
    text = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "## Beside the paper" in text and "## JL" in text and "## Distribution shift" in text
    for name in ("sigma", "edge_phases", "k_star", "coupling", "granger", "jl"):
        assert (tmp_path / f"{name}.png").stat().st_size > 2000

    report.main(["--tiny", "--out", str(tmp_path), "--rescore"])
    again = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert again["runs"] == results["runs"]
