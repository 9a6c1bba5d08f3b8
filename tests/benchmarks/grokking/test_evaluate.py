"""The evaluation harness: run-spec files, and a tiny grid through the real pipeline end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.grokking.evaluate import main
from benchmarks.grokking.grid import CONFIGS, load
from training import build

TINY_RUN = """
[[run]]
family = "modular"
task = "{task}"
options = {{ p = 11, train_fraction = 0.5 }}
condition = "{condition}"
weight_decay = 1.0
steps = 80
d_model = 16
eval_every = 20
probe_every = 20
"""
TINY = "tune_seeds = [0]\nreport_seeds = [100]\n" + "".join(
    TINY_RUN.format(task=task, condition=condition)
    for task, condition in (("modular-add", "grok"), ("modular-sq_cross", "nogen"))
)


@pytest.mark.parametrize("name", ["full", "quick"])
def test_the_committed_grids_load_and_every_task_builds(name: str) -> None:
    grid = load(CONFIGS / f"{name}.toml")
    assert grid.runs and not set(grid.tune_seeds) & set(grid.report_seeds)
    assert {r.seed for r in grid.runs} == {*grid.tune_seeds, *grid.report_seeds}
    assert {r.condition for r in grid.runs} == {"grok", "wd0", "nogen"}
    for spec in {(r.task, json.dumps(r.options)): r for r in grid.runs}.values():
        assert build(spec.task, spec.seed, **spec.options).train


def test_a_spec_file_is_checked_entry_by_entry(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(TINY.replace("report_seeds = [100]", "report_seeds = [0]"))
    with pytest.raises(ValueError, match="overlap"):
        load(path)
    path.write_text(TINY.replace("d_model = 16", "width = 16", 1))
    with pytest.raises(ValueError, match=r"run 1 .*width"):
        load(path)
    path.write_text(TINY.replace('"nogen"', '"control"'))
    with pytest.raises(ValueError, match="condition"):
        load(path)
    path.write_text(TINY)
    grid = load(path, report_seeds=(7, 8), families=("modular",))
    assert [r.seed for r in grid.runs] == [0, 0, 7, 7, 8, 8]
    assert load(path, families=("dyck",)).runs == ()
    json_path = tmp_path / "grid.json"
    json_path.write_text(json.dumps({"tune_seeds": [0], "report_seeds": [1], "run": [
        {"family": "m", "task": "modular-add", "condition": "wd0", "weight_decay": 0.0,
         "steps": 10}]}))  # fmt: skip
    assert [r.seed for r in load(json_path).runs] == [0, 1]


def test_a_tiny_grid_runs_through_the_pipeline_and_rescores(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "out"
    main(["--config", str(config), "--out", str(out)])
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 4 == len(list((out / "raw").glob("*.json")))
    assert results["pipeline_agrees"] == 4
    raw = json.loads(next((out / "raw").glob("*.json")).read_text())
    assert set(raw["records"]) == {"10", "10/4", "10/10", "20", "20/4", "20/10"}
    assert raw["records"]["10"] and {"test_loss", "param_norm"} <= set(raw["evaluations"][0])
    assert results["default"] in results["chosen"]
    for name in ("results.md", "tradeoff.png", "example.png"):
        assert (out / name).stat().st_size > 0
    main(["--config", str(config), "--out", str(out), "--rescore"])
    again = json.loads((out / "results.json").read_text())
    assert again["report"] == results["report"]
    assert again["collect_wall_seconds"] == results["collect_wall_seconds"]
