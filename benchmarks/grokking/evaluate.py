"""Evaluate grokking warnings on real runs through the whole pipeline, against baselines.

    python -m benchmarks.grokking.evaluate --quick            # configs/quick.toml (~4 min)
    python -m benchmarks.grokking.evaluate --full             # configs/full.toml (~35 min)
    python -m benchmarks.grokking.evaluate --config my.toml   # run specs of your own
    python -m benchmarks.grokking.evaluate --full --rescore   # re-tune and re-report saved runs

Every detector's settings (and the combined score's coefficients) are chosen on the tuning seeds
alone, then reported per family on the report seeds; writes `results.json`, `results.md` and the
figures into `--out` (default benchmarks/grokking/results).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.grokking import combined, live
from benchmarks.grokking.collect import run_all
from benchmarks.grokking.figures import draw
from benchmarks.grokking.grid import CONFIGS, Grid, load
from benchmarks.grokking.replay import pipeline_agrees
from benchmarks.grokking.report import markdown
from benchmarks.grokking.scoring import BASELINES, SPECTRAL, Candidate, Raw, Tally, tally
from benchmarks.grokking.signals import grok_of, memorised_of
from benchmarks.grokking.tuning import (
    FALSE_ALARM_LIMIT,
    at_false_alarms,
    choose,
    curve,
    series_of,
    settings,
    traces,
)

DEFAULT_OUT = Path(__file__).with_name("results")
KINDS = (*SPECTRAL, "commutator", "combined", *BASELINES, "memorised")
REFERENCE = "memorised"
"""Fires at memorisation: the lead any memorisation detector gets for free."""


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="configs/quick.toml (~4 min)")
    mode.add_argument("--full", action="store_true", help="configs/full.toml (~35 min)")
    mode.add_argument("--config", type=Path, help="a TOML or JSON file of run specs")
    parser.add_argument("--rescore", action="store_true", help="reuse the runs saved in --out")
    parser.add_argument("--families", default=None, help="comma list of the file's families")
    parser.add_argument("--tune-seeds", type=_seeds, default=None)
    parser.add_argument("--report-seeds", type=_seeds, default=None)
    parser.add_argument("--jobs", type=int, default=2, help="training processes at once")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    name = "quick" if args.quick else "full"
    args.config = args.config or CONFIGS / f"{name}.toml"
    families = tuple(args.families.split(",")) if args.families else None
    try:
        args.grid = load(args.config, args.tune_seeds, args.report_seeds, families)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    return args


def load_runs(out: Path) -> list[Raw]:
    """Every run saved under `out/raw`."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "raw").glob("*.json"))]


def progress(raw: Raw) -> None:
    """One line per finished run."""
    grok, confirmed = grok_of(raw)
    print(f"{raw['run_id']}: {raw['steps']} steps in {raw['train_seconds']:.0f} s, memorised "
          f"{memorised_of(raw)}, grok {grok} (confirmed {confirmed})", flush=True)  # fmt: skip


def _options(kind: str, tune: list[Raw]) -> dict[str, list[Candidate]]:
    """Every setting of `kind` on the tuning runs, by detector label (one per series)."""
    if kind == "combined":
        fitted = {s: combined.fit(tune, s) for s in series_of(tune) if combined.labelled(tune, s)}
        bases = [Candidate(kind, s, params, float("inf"), 1) for s, params in fitted.items()]
    else:
        bases = traces(kind, tune)
    by_label: dict[str, list[Candidate]] = {}
    for base in bases:
        by_label.setdefault(base.label, []).extend(settings(base, tune))
    return by_label


def evaluate(runs: list[Raw], grid: Grid) -> dict[str, Any]:
    """Tune on the tuning seeds, report per family and pooled on the report seeds."""
    tune = [r for r in runs if r["spec"]["seed"] in grid.tune_seeds]
    report = [r for r in runs if r["spec"]["seed"] in grid.report_seeds]
    chosen: dict[str, tuple[Candidate, Tally]] = {}
    best: dict[str, str] = {}
    for kind in KINDS:
        labels = {label: choose(opts, tune) for label, opts in _options(kind, tune).items() if opts}
        if not labels:
            continue
        chosen.update(labels)
        best[kind] = max(labels, key=lambda label: labels[label][1].score(FALSE_ALARM_LIMIT))
    scores = {kind: chosen[label][1].score(FALSE_ALARM_LIMIT) for kind, label in best.items()}
    warnings = [k for k in best if k != REFERENCE]
    default = best[max(warnings, key=scores.__getitem__)]
    baseline = best[max([k for k in BASELINES if k in best], key=scores.__getitem__)]
    families = [f for f in grid.families if any(r["spec"]["family"] == f for r in report)]
    groups = {f: [r for r in report if r["spec"]["family"] == f] for f in families}
    if len(families) > 1:
        groups["all"] = report
    tables = {
        name: {label: tally(chosen[label][0], members).row() for label in best.values()}
        for name, members in groups.items()
    }
    curves = {best[k]: curve(chosen[best[k]][0], report) for k in warnings}
    return {
        "families": families,
        "false_alarm_limit": FALSE_ALARM_LIMIT,
        "chosen": {label: c.settings for label, (c, _) in chosen.items()},
        "tuning": {label: t.row() for label, (_, t) in chosen.items()},
        "best": best,
        "default": default,
        "default_detector": asdict(chosen[default][0]),
        "best_baseline": baseline,
        "report": tables,
        "curves": curves,
        "at_equal_false_alarms": {
            label: at_false_alarms(points, FALSE_ALARM_LIMIT) for label, points in curves.items()
        },
        "live": live.table(chosen, report),
        "pipeline_agrees": sum(pipeline_agrees(r) for r in runs),
        "runs": [_run_line(r) for r in runs],
        "tune_seeds": list(grid.tune_seeds),
        "report_seeds": list(grid.report_seeds),
    }


def _run_line(raw: Raw) -> dict[str, Any]:
    grok, confirmed = grok_of(raw)
    spec = raw["spec"]
    return {"run": raw["run_id"], "family": spec["family"], "condition": spec["condition"],
            "seed": spec["seed"], "steps": raw["steps"], "memorised_step": memorised_of(raw),
            "grok_step": grok, "confirmed_step": confirmed,
            "seconds": raw["train_seconds"]}  # fmt: skip


def _collect_wall(args: argparse.Namespace, wall: float) -> float | None:
    """Wall seconds of the command that trained the runs (kept from results.json on --rescore;
    None when that command did not write one)."""
    saved = args.out / "results.json"
    if not args.rescore:
        return wall
    if not saved.exists():
        return None
    return json.loads(saved.read_text(encoding="utf-8")).get("collect_wall_seconds")


def main(argv: list[str] | None = None) -> None:
    """Train (unless --rescore), evaluate, write results.json and results.md."""
    args = parse(argv)
    started = time.monotonic()
    if args.rescore:
        runs = load_runs(args.out)
    else:
        specs = list(args.grid.runs)
        print(f"{len(specs)} runs, {args.jobs} at a time", flush=True)
        runs = run_all(specs, args.out, args.jobs, on_done=progress)
        if len(runs) < len(specs):
            print(f"{len(specs) - len(runs)} runs failed", flush=True)
    results = evaluate(runs, args.grid)
    results["wall_seconds"] = time.monotonic() - started
    results["collect_wall_seconds"] = _collect_wall(args, results["wall_seconds"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (args.out / "results.md").write_text(markdown(results), encoding="utf-8")
    draw(results, runs, args.out)
    print(markdown(results))


if __name__ == "__main__":
    main()
