"""Evaluate the grokking early-warning detectors on real runs through the whole pipeline.

    python -m benchmarks.grokking.evaluate --quick     # modular only, seeds 0 and 100 (~10 min)
    python -m benchmarks.grokking.evaluate --full      # every family, seeds 0-4 and 100-109
    python -m benchmarks.grokking.evaluate --rescore   # re-tune and re-report from saved runs

Thresholds are chosen on the tuning seeds alone, then reported on the report seeds; writes
`results.json` and `results.md` into `--out` (default benchmarks/grokking/results).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from analyzer.core.grokking import GrokkingConfig
from benchmarks.grokking.collect import WINDOWS, run_all
from benchmarks.grokking.grid import FAMILIES, REPORT_SEEDS, TUNE_SEEDS, grid
from benchmarks.grokking.report import markdown
from benchmarks.grokking.scoring import (
    Detector,
    Earliest,
    analyzer_candidates,
    grok_of,
    pipeline_agrees,
    tally,
)
from benchmarks.grokking.tuning import candidates, choose, choose_both

DEFAULT_OUT = Path(__file__).with_name("results")


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(",") if s)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="modular only, seeds 0 and 100")
    mode.add_argument("--full", action="store_true", help="all families, seeds 0-4 and 100-109")
    mode.add_argument("--rescore", action="store_true", help="reuse the runs saved in --out")
    parser.add_argument("--families", default=None, help=f"comma list of {FAMILIES}")
    parser.add_argument("--tune-seeds", type=_seeds, default=None)
    parser.add_argument("--report-seeds", type=_seeds, default=None)
    parser.add_argument("--jobs", type=int, default=2, help="training processes at once")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    quick = args.quick or not (args.full or args.rescore)
    families = args.families or ("modular" if quick else ",".join(FAMILIES))
    args.families = tuple(families.split(","))
    args.tune_seeds = args.tune_seeds or ((0,) if quick else TUNE_SEEDS)
    args.report_seeds = args.report_seeds or ((100,) if quick else REPORT_SEEDS)
    return args


def load_runs(out: Path) -> list[dict[str, Any]]:
    """Every run saved under `out/raw`."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "raw").glob("*.json"))]


def progress(raw: dict[str, Any]) -> None:
    """One line per finished run."""
    grok, confirmed = grok_of(raw)
    alerts = sorted({(a["type"], a["step"]) for a in raw["alerts"]}, key=lambda t: t[1])
    print(f"{raw['run_id']}: {raw['steps']} steps in {raw['train_seconds']:.0f} s, grok {grok}"
          f" (confirmed {confirmed}), pipeline alerts {alerts}", flush=True)  # fmt: skip


def evaluate(runs: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Tune on the tuning seeds, report per family on the report seeds."""
    tune = [r for r in runs if r["spec"]["seed"] in args.tune_seeds]
    grids = candidates(WINDOWS)
    chosen: dict[str, Detector] = {label: choose(cands, tune) for label, cands in grids.items()}
    for window in WINDOWS:
        chosen[f"edge_and_g23@W{window}"] = choose_both(window, grids, tune)
    default = analyzer_candidates(config := GrokkingConfig(), list(WINDOWS))
    names, on = "+".join(config.detectors), ",".join(map(str, config.windows)) or "all"
    chosen[f"analyzer default ({names}, W {on})"] = Earliest("default", tuple(default[:-1]))
    scores = {
        label: tally(c, tune).score() for label, c in chosen.items() if "default" not in label
    }
    spectral = [label for label in scores if label != "commutator"]
    tables: dict[str, dict[str, Any]] = {}
    for family in [f for f in args.families if any(r["spec"]["family"] == f for r in runs)]:
        report = [r for r in runs if r["spec"]["seed"] in args.report_seeds
                  and r["spec"]["family"] == family]  # fmt: skip
        tables[family] = {label: tally(c, report).row() for label, c in chosen.items()}
    tuned = {label: tally(c, tune).row() for label, c in chosen.items()}
    return {
        "pipeline_agrees": sum(pipeline_agrees(r) for r in runs),
        "chosen": {label: dict(c.params) for label, c in chosen.items()},
        "tuning": tuned,
        "report": tables,
        "recommended": max(scores, key=scores.__getitem__),
        "recommended_spectral": max(spectral, key=scores.__getitem__),
        "runs": [_run_line(r) for r in runs],
        "tune_seeds": sorted({r["spec"]["seed"] for r in tune}),
        "report_seeds": sorted({r["spec"]["seed"] for r in runs} & set(args.report_seeds)),
    }


def _run_line(raw: dict[str, Any]) -> dict[str, Any]:
    grok, confirmed = grok_of(raw)
    warnings = [a["step"] for a in raw["alerts"] if a["type"] == "grokking.early_warning"]
    return {"run": raw["run_id"], "family": raw["spec"]["family"], "condition":
            raw["spec"]["condition"], "seed": raw["spec"]["seed"], "steps": raw["steps"],
            "grok_step": grok, "confirmed_step": confirmed, "seconds": raw["train_seconds"],
            "pipeline_early_warnings": warnings}  # fmt: skip


def _collect_wall(args: argparse.Namespace, wall: float) -> float:
    """Wall seconds of the command that trained the runs (kept from results.json on --rescore)."""
    saved = args.out / "results.json"
    if not args.rescore or not saved.exists():
        return wall
    previous = json.loads(saved.read_text(encoding="utf-8"))
    return float(previous.get("collect_wall_seconds", previous.get("wall_seconds", 0.0)))


def main(argv: list[str] | None = None) -> None:
    """Train (unless --rescore), evaluate, write results.json and results.md."""
    args = parse(argv)
    started = time.monotonic()
    if args.rescore:
        runs = load_runs(args.out)
    else:
        specs = grid(args.families, args.tune_seeds + args.report_seeds)
        print(f"{len(specs)} runs, {args.jobs} at a time", flush=True)
        runs = run_all(specs, args.out, args.jobs, on_done=progress)
        if len(runs) < len(specs):
            print(f"{len(specs) - len(runs)} runs failed", flush=True)
    results = evaluate(runs, args)
    results["wall_seconds"] = time.monotonic() - started
    results["collect_wall_seconds"] = _collect_wall(args, results["wall_seconds"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (args.out / "results.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
