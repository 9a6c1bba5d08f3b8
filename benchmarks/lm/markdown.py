"""The LM report as Markdown: the product's measurements beside the paper's numbers."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from analyzer.core.phases import PHASES

PAPER = {
    "k_star": "2 (51M, 4 seeds); 3 (GPT-2 124M)",
    "peak": "1.747 (sigma_2/sigma_3)",
    "collapse": "7,500 +- 300 of 10,000",
    "flip": "-1 at W = 10, +1 at W = 20",
    "jl": "<= 5.7 % at d = 10W = 100 (abstract; README: <= 7.4 %)",
}


def markdown(results: dict[str, Any]) -> str:
    """The whole report."""
    runs = results["runs"]
    main = str(results["windows"][0])
    parts = [
        f"# LM reproduction ({results['mode']})\n",
        f"Regenerate: `{results['command']}` "
        f"(`--rescore` rewrites it from the saved runs). Report written in "
        f"{results['wall_seconds']:.0f} s.\n",
        _runs(runs),
        _summary(results, main),
        _phases(runs, main),
        _k_star(runs, main),
        _coupling(results),
        _granger(runs, results["windows"]),
        _jl(runs),
        _shift(runs, main),
    ]
    return "\n".join(parts)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _runs(runs: list[dict[str, Any]]) -> str:
    rows = [
        [
            r["run_id"],
            r["size"],
            f"{r['parameters']:,}",
            r["tokens_per_step"],
            r["steps"],
            r["every"],
            r["shift_step"],
            f"{r['train_seconds']:.0f}",
            r["evaluations"][-1]["val_loss"],
            r["evaluations"][-1]["val_loss_code"],
        ]
        for r in runs
    ]
    header = [
        "run",
        "size",
        "parameters",
        "tokens / step",
        "steps",
        "update (steps)",
        "shift at",
        "train s",
        "final val loss (docs)",
        "final val loss (code)",
    ]
    return "## Runs\n\n" + _table(header, rows)


def _summary(results: dict[str, Any], main: str) -> str:
    small = [r for r in results["runs"] if r["size"] == "small"]
    modes = Counter(r["k_star"][main]["weighted"]["mode"] for r in small)
    peaks = [r["phases"][main]["peak_paper_ratio"] for r in small]
    collapses = [_step(r, main, "paper", "rule", "collapse") for r in small]
    found = [c for c in collapses if c is not None]
    flips = results["flip"]["paper"]["seeds"]
    flip_text = ", ".join(f"{f['small_lag']} -> {f['large_lag']}" for f in flips)
    jl = [r["jl"][main] for r in small if "jl" in r]
    jl_small = [j[str(10 * int(main))]["sigma2_sigma3_mean"] for j in jl]
    rows = [
        ["k* (weighted rule, mode per seed)", PAPER["k_star"], _counts(modes)],
        ["peak sigma_2/sigma_3", PAPER["peak"], _spread(peaks)],
        [
            "collapse step (tau = 1.20)",
            PAPER["collapse"],
            f"{len(found)}/{len(small)} seeds" + (f": {_spread(found)}" if found else ""),
        ],
        ["peak lag W = 10 -> W = 20 (sigma_2/sigma_3)", PAPER["flip"], flip_text or "-"],
        [
            f"JL sigma_2/sigma_3 error, d = {10 * int(main)}",
            PAPER["jl"],
            _spread([100 * v for v in jl_small], "%"),
        ],
        [
            "phases: live found all three / all within 2 windows of the rule",
            "rise/plateau/collapse in every run",
            f"product: {results['phases_found']['product']} / {results['phases_agree']['product']}"
            f"; paper's settings: {results['phases_found']['paper']} / "
            f"{results['phases_agree']['paper']} (of {results['small_runs']} seeds, W = {main})",
        ],
    ]
    return "## Beside the paper\n\n" + _table(["claim", "paper", "here (small seeds)"], rows)


def _counts(counter: Counter[Any]) -> str:
    return ", ".join(f"{k} ({v} seeds)" for k, v in sorted(counter.items(), key=str))


def _spread(values: list[Any], unit: str = "") -> str:
    clean = [float(v) for v in values if v is not None]
    if not clean:
        return "-"
    return f"{np.mean(clean):.4g}{unit} (range {min(clean):.4g}-{max(clean):.4g}{unit})"


def _step(run: dict[str, Any], window: str, which: str, side: str, phase: str) -> int | None:
    """The step of `which` ("product" or "paper") `side` ("live" or "rule") phase, or None."""
    found = run["phases"][window]
    position = found[which][side][phase]
    return None if position is None else found["steps"][position]


def _phases(runs: list[dict[str, Any]], main: str) -> str:
    text = [f"## Phases at W = {main}\n",
            "Each cell: live step / rule step (offset in windows). **Product**: the analyzer's "
            "`phase.*` alerts against the retrospective rule (`reference_phases`) on the same "
            "edge-ratio series, both at the analyzer's settings (rise level "
            f"{runs[0]['phases'][main]['rise_level'] if runs else '-'}, tau 1.20). **Paper**: "
            "the paper's rule (no rise level, tau 1.20) on sigma_2/sigma_3, against the live "
            "detector replayed over the same series with the same settings.\n"]  # fmt: skip
    for which in ("product", "paper"):
        rows = []
        for r in runs:
            found = r["phases"][main][which]
            cells = [f"{_cell(_step(r, main, which, 'live', p))} / "
                     f"{_cell(_step(r, main, which, 'rule', p))} ({_cell(found['offset'][p])})"
                     for p in PHASES]  # fmt: skip
            peak = r["phases"][main][
                "peak_edge_ratio" if which == "product" else "peak_paper_ratio"
            ]
            rows.append([r["run_id"], *cells, "yes" if found["agrees"] else "no", peak])
        header = ["run", *PHASES, "all within 2", "peak ratio"]
        text.append(f"### {which.capitalize()}\n\n" + _table(header, rows))
    return "\n".join(text)


def _k_star(runs: list[dict[str, Any]], main: str) -> str:
    rows = []
    for r in runs:
        for w, rules in r["k_star"].items():
            rows.append(
                [r["run_id"], w]
                + [
                    f"{v['mode']} ({100 * v['share']:.0f} %, {v['changes']} changes)"
                    for v in rules.values()
                ]
            )
    rules = list(runs[0]["k_star"][main]) if runs else []
    return (
        "## k* per rule\n\nMode over the run's windows (share of windows at the mode, number "
        "of changes between consecutive windows).\n\n" + _table(["run", "W", *rules], rows)
    )


def _coupling(results: dict[str, Any]) -> str:
    text = [
        "## Lag coupling with validation loss\n",
        "Cubic-detrended Pearson r of R(t) with loss(t + lag), lags -3..+5 snapshots; "
        "positive lag: the spectrum leads; peak lag = most negative r. Bootstrap: 1,000 "
        "moving-block replicates (block 4) per run and W; the share of replicates whose peak "
        "lag is negative / zero / positive.\n",
    ]
    for ratio in ("paper", "product"):
        rows = []
        for r in results["runs"]:
            for w, c in r[f"coupling_{ratio}"].items():
                boot = np.asarray(c["bootstrap"])
                n = max(boot.size, 1)
                shares = " / ".join(
                    f"{100 * x:.0f} %"
                    for x in ((boot < 0).sum() / n, (boot == 0).sum() / n, (boot > 0).sum() / n)
                )
                rows.append([r["run_id"], w, c["n"], c["peak_lag"], c["peak_r"], shares])
        label = "sigma_2/sigma_3" if ratio == "paper" else "the product's edge ratio"
        text.append(
            f"### R = {label}\n\n"
            + _table(["run", "W", "windows", "peak lag", "r at peak", "bootstrap - / 0 / +"], rows)
        )
    flip = results["flip"]["paper"]
    rows = [
        [
            f["seed"],
            f["small_lag"],
            f["large_lag"],
            "yes" if f["flipped"] else "no",
            f["p_paper_direction"],
            f["p_any_flip"],
        ]
        for f in flip["seeds"]
    ]
    text.append(
        f"### Lag flip, W = {flip['small_window']} -> {flip['large_window']} "
        "(sigma_2/sigma_3)\n\nBootstrap probability of the paper's direction (negative "
        "then positive) and of any sign flip, the two W's replicates taken independently."
        "\n\n"
        + _table(
            [
                "seed",
                "peak lag small W",
                "peak lag large W",
                "flipped",
                "P(paper's direction)",
                "P(any flip)",
            ],
            rows,
        )
    )
    return "\n".join(text)


def _granger(runs: list[dict[str, Any]], windows: list[int]) -> str:
    rows = []
    for r in runs:
        for ratio in ("paper", "product"):
            cells = [
                f"F {_cell(g['f'])}, p {_cell(g['p'])}"
                for g in (r[f"granger_{ratio}"][str(w)] for w in windows)
            ]
            rows.append([r["run_id"], "sigma_2/sigma_3" if ratio == "paper" else "product", *cells])
    return (
        "## Granger: does R help predict validation loss beyond its own lags and the "
        "learning rate?\n\n" + _table(["run", "R", *(f"W = {w}" for w in windows)], rows)
    )


def _jl(runs: list[dict[str, Any]]) -> str:
    rows = []
    for r in runs:
        for w, per_dim in r.get("jl", {}).items():
            for d, e in per_dim.items():
                label = "400 (live)" if d == "live" else d
                rows.append(
                    [
                        r["run_id"],
                        w,
                        label,
                        100 * e["edge_ratio_mean"],
                        100 * e["edge_ratio_max"],
                        100 * e["sigma2_sigma3_mean"],
                        100 * e["gap_mean"],
                        e.get("offline_difference"),
                    ]
                )
    header = [
        "run",
        "W",
        "d",
        "edge ratio err mean %",
        "max %",
        "sigma_2/sigma_3 err mean %",
        "gap err mean %",
        "live vs offline sketch",
    ]
    return (
        "## JL: the product's sketch against exact spectra\n\nExact: the raw Gram of the "
        "saved full-parameter deltas. Sketched: the producer's own sketch (CountSketch + SRHT) "
        "of the same deltas, mean over projection seeds 0-2; `live`: the analyzer's records "
        "from the run itself (seed 0, d = 400), with their largest difference from the "
        "offline sketch relative to sigma_1.\n\n" + _table(header, rows)
    )


def _shift(runs: list[dict[str, Any]], main: str) -> str:
    rows = []
    for r in runs:
        if not r["shift_step"]:
            continue
        after = [a for a in r["alerts"] if a["step"] > r["shift_step"]]
        first = min(after, key=lambda a: a["step"]) if after else None
        before = [e for e in r["evaluations"] if e["step"] <= r["shift_step"]][-1]
        end = r["evaluations"][-1]
        rows.append(
            [
                r["run_id"],
                r["shift_step"],
                before["val_loss_code"],
                end["val_loss_code"],
                before["val_loss"],
                end["val_loss"],
                f"{first['type']} (W {first['window']}) at {first['step']}" if first else "-",
            ]
        )
    if not rows:
        return ""
    header = [
        "run",
        "shift step",
        "code loss before",
        "code loss end",
        "docs loss before",
        "docs loss end",
        "first alert after the shift",
    ]
    return "## Distribution shift (prose -> Python source)\n\n" + _table(header, rows)
