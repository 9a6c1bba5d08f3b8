"""The LM reproduction, end to end: train the plan through the product, then write the report.

    python -m benchmarks.lm.report            # --full: 5 runs, about an hour on 2 cores
    python -m benchmarks.lm.report --quick    # 2 short runs, under 10 minutes
    python -m benchmarks.lm.report --rescore  # rewrite the report from the saved raw runs

Writes `results.json`, `results.md` and the PNG figures into the output folder (`results/` for
--full, `results/quick/` for --quick); raw runs and exact deltas go under it too (not committed).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lm import analysis
from benchmarks.lm.collect import run_all
from benchmarks.lm.figures import draw
from benchmarks.lm.markdown import markdown
from benchmarks.lm.runs import DIM, LMRunSpec, plan

RESULTS = Path(__file__).parent / "results"
PAPER_PAIR = (10, 20)  # the paper's lag flip (else the smallest W against the largest)


def evaluate(runs: list[dict[str, Any]], windows: tuple[int, ...], out: Path) -> dict[str, Any]:
    """Every measurement of the report, per run and pooled over the small seeds."""
    per_run = [_run(raw, windows, out) for raw in sorted(runs, key=lambda r: r["run_id"])]
    small = [r for r in per_run if r["size"] == "small"] or per_run
    main = windows[0]
    pair = PAPER_PAIR if set(PAPER_PAIR) <= set(windows) else (min(windows), max(windows))
    return {
        "windows": list(windows),
        "runs": per_run,
        "phases_found": {
            k: sum(r["phases"][str(main)][k]["found"] for r in small) for k in ("product", "paper")
        },
        "phases_agree": {
            k: sum(r["phases"][str(main)][k]["agrees"] for r in small) for k in ("product", "paper")
        },
        "small_runs": len(small),
        "flip": {label: _flip(small, *pair, ratio=label) for label in ("product", "paper")},
        "wall_seconds": None,
    }


def _run(raw: dict[str, Any], windows: tuple[int, ...], out: Path) -> dict[str, Any]:
    spec = raw["spec"]
    by_window = {w: analysis.series(raw, w) for w in windows}
    result: dict[str, Any] = {
        "run_id": raw["run_id"],
        "size": spec["size"],
        "seed": spec["seed"],
        "parameters": raw["parameters"],
        "tokens_per_step": LMRunSpec(**spec).shape[3] * spec["context"],
        "steps": raw["steps"],
        "every": spec["every"],
        "shift_step": spec["shift_step"],
        "train_seconds": raw["train_seconds"],
        "evaluations": raw["evaluations"],
        "alerts": [{k: a[k] for k in ("type", "window", "step", "index")} for a in raw["alerts"]],
        "phases": {str(w): analysis.phases(raw, w) for w in windows},
        "k_star": {str(w): analysis.k_star(raw, w) for w in windows},
        "edge_ratio": {str(w): s.edge_ratio.tolist() for w, s in by_window.items()},
        "sigma": {str(w): s.sigma.tolist() for w, s in by_window.items()},
    }
    for ratio in ("product", "paper"):
        result[f"coupling_{ratio}"] = {
            str(w): analysis.lag_coupling(raw, w, ratio) for w in windows
        }
        result[f"granger_{ratio}"] = {str(w): analysis.granger_test(raw, w, ratio) for w in windows}
    deltas = out / "deltas" / f"{raw['run_id']}.npy"
    if spec["save_deltas"] and deltas.exists():
        result["jl"] = analysis.jl(raw, np.load(deltas, mmap_mode="r"), windows, DIM)
    return result


def _flip(runs: list[dict[str, Any]], small: int, large: int, ratio: str) -> dict[str, Any]:
    """Per seed: peak lags at the two W and the bootstrap probability of each sign pattern."""
    seeds = []
    for run in runs:
        couplings = run[f"coupling_{ratio}"]
        if str(small) not in couplings or str(large) not in couplings:
            continue
        a, b = couplings[str(small)], couplings[str(large)]
        pa, pb = _signs(a["bootstrap"]), _signs(b["bootstrap"])
        seeds.append(
            {
                "seed": run["seed"],
                "small_lag": a["peak_lag"],
                "large_lag": b["peak_lag"],
                "flipped": a["peak_lag"] is not None
                and b["peak_lag"] is not None
                and a["peak_lag"] * b["peak_lag"] < 0,
                "p_paper_direction": pa["negative"] * pb["positive"],
                "p_any_flip": pa["negative"] * pb["positive"] + pa["positive"] * pb["negative"],
            }
        )
    return {"small_window": small, "large_window": large, "seeds": seeds}


def _signs(lags: list[int]) -> dict[str, float]:
    values = np.asarray(lags)
    n = max(values.size, 1)
    return {
        "negative": float((values < 0).sum() / n),
        "zero": float((values == 0).sum() / n),
        "positive": float((values > 0).sum() / n),
    }


def command(args: argparse.Namespace) -> str:
    """The command line that collects these results again (without `--rescore`)."""
    given = [f"--{args.mode}"] if args.mode else []
    given += [
        f"--{name} {getattr(args, name)}"
        for name in ("steps", "batch", "out")
        if getattr(args, name)
    ]
    return " ".join(["python -m benchmarks.lm.report", *given])


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick")
    mode.add_argument(
        "--tiny",
        dest="mode",
        action="store_const",
        const="tiny",
        help="a seconds-long run (what CI runs)",
    )
    mode.add_argument(
        "--gpu",
        dest="mode",
        action="store_const",
        const="gpu",
        help="the paper's 51M shape on CUDA (see benchmarks.lm.gpu)",
    )
    parser.add_argument("--steps", type=int, help="train each run this many steps instead")
    parser.add_argument("--batch", type=int, help="train each run at this batch instead")
    parser.add_argument("--rescore", action="store_true", help="reuse the saved raw runs")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    chosen = args.mode or "full"
    out = args.out or (RESULTS if chosen == "full" else RESULTS / chosen)
    cache = RESULTS / "cache" if chosen == "gpu" else out / "cache"
    the_plan = plan(chosen, str(cache), str(out / "deltas"))
    if args.batch:
        the_plan = replace(
            the_plan, runs=tuple(replace(r, batch=args.batch) for r in the_plan.runs)
        )
    if args.steps:
        runs = tuple(
            replace(r, steps=args.steps, warmup=min(r.warmup, args.steps * 3 // 20))
            for r in the_plan.runs
        )
        the_plan = replace(the_plan, runs=runs)
    started = time.monotonic()
    if args.rescore:
        runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("raw/*.json"))]
    else:
        print(f"{len(the_plan.runs)} runs, {args.jobs} at a time", flush=True)
        runs = run_all(
            the_plan,
            out,
            args.jobs,
            on_done=lambda r: print(
                f"{r['run_id']}: {r['steps']} steps in {r['train_seconds']:.0f} s", flush=True
            ),
        )
    results = evaluate(runs, the_plan.windows, out)
    results["wall_seconds"] = time.monotonic() - started
    results["mode"] = chosen
    results["command"] = command(args)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    (out / "results.md").write_text(markdown(results), encoding="utf-8")
    draw(results, out)
    print(markdown(results))


if __name__ == "__main__":
    main()
