"""The LM report's figures (small PNGs beside `results.md`), drawn from `results.json` alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from analyzer.core.phases import PHASES

SHADES = {"rise": "#dbe9f6", "plateau": "#a6cbe8", "collapse": "#eeeeee"}
DPI = 80


def draw(results: dict[str, Any], out: Path) -> list[Path]:
    """Write every figure into `out`; returns their paths."""
    runs = results["runs"]
    small = [r for r in runs if r["size"] == "small"] or runs
    windows = [str(w) for w in results["windows"]]
    drawn = [
        _sigma(small[0], windows, out / "sigma.png"),
        _edge(runs, windows[0], out / "edge_phases.png"),
        _k_star(runs, windows[0], out / "k_star.png"),
        _coupling(small, windows, out / "coupling.png"),
        _granger(small, windows, out / "granger.png"),
    ]
    if any("jl" in r for r in runs):
        drawn.append(_jl([r for r in runs if "jl" in r], windows, out / "jl.png"))
    return drawn


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _shade(ax: Axes, run: dict[str, Any], window: str) -> None:
    """The paper's rule's phases (on sigma_2/sigma_3) as background bands."""
    found = run["phases"][window]
    steps, rule = found["steps"], found["paper"]["rule"]
    if not steps or rule["rise"] is None:
        return
    edges = [rule["rise"], rule["plateau"], rule["collapse"], len(steps) - 1]
    for phase, start, end in zip(PHASES, edges, edges[1:], strict=False):
        if start is not None and end is not None and end >= start:
            ax.axvspan(steps[start], steps[end], color=SHADES[phase], zorder=0, lw=0)


def _sigma(run: dict[str, Any], windows: list[str], path: Path) -> Path:
    fig, axes = plt.subplots(1, len(windows), figsize=(3.2 * len(windows), 2.8), squeeze=False)
    for ax, w in zip(axes[0], windows, strict=True):
        sigma, steps = np.asarray(run["sigma"][w]), run["phases"][w]["steps"]
        _shade(ax, run, w)
        for k in range(min(5, sigma.shape[1] if sigma.size else 0)):
            ax.plot(steps, sigma[:, k], lw=1.2, label=f"sigma_{k + 1}")
        ax.set_yscale("log")
        ax.set_title(f"W = {w}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(
        f"{run['run_id']}: sigma_k, the paper's phases (sigma_2/sigma_3) shaded", fontsize=9
    )
    return _save(fig, path)


def _edge(runs: list[dict[str, Any]], w: str, path: Path) -> Path:
    fig, axes = plt.subplots(len(runs), 1, figsize=(7, 1.9 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        found = run["phases"][w]
        steps = found["steps"]
        _shade(ax, run, w)
        ax.plot(steps, run["edge_ratio"][w], color="C0", lw=1.2, label="product R")
        paper = [row[1] / row[2] if row[2] > 0 else np.nan for row in run["sigma"][w]]
        ax.plot(steps, paper, color="C2", lw=1.0, ls="--", label="sigma_2/sigma_3")
        low, top = ax.get_ylim()
        markers = [
            (which, phase, found[which]["live"][phase])
            for which in ("product", "paper")
            for phase in PHASES
            if found[which]["live"][phase] is not None
        ]
        for level, (which, phase, at) in enumerate(markers):
            color = "C3" if which == "product" else "C2"
            ax.axvline(steps[at], color=color, lw=1.0)
            y = top - (top - low) * 0.1 * (level + 0.5)
            ax.text(steps[at], y, f" {which} live {phase}", fontsize=6, color=color, va="center")
        if run["shift_step"]:
            ax.axvline(run["shift_step"], color="k", ls=":", lw=1.0, label="shift")
        ax.set_title(f"{run['run_id']} (W = {w})", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6, loc="upper right")
    axes[-1][0].set_xlabel("step", fontsize=8)
    return _save(fig, path)


def _k_star(runs: list[dict[str, Any]], w: str, path: Path) -> Path:
    fig, axes = plt.subplots(len(runs), 1, figsize=(7, 1.5 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        steps = run["phases"][w]["steps"]
        for i, (rule, found) in enumerate(run["k_star"][w].items()):
            ax.step(
                steps,
                np.asarray(found["values"]) + 0.08 * (i - 1),
                where="post",
                lw=1.1,
                label=f"{rule} (mode {found['mode']})",
            )
        ax.set_title(f"{run['run_id']}: k* (W = {w})", fontsize=8)
        ax.legend(fontsize=6, loc="upper right")
        ax.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("step", fontsize=8)
    return _save(fig, path)


def _coupling(runs: list[dict[str, Any]], windows: list[str], path: Path) -> Path:
    fig, axes = plt.subplots(
        1, len(windows), figsize=(3 * len(windows), 2.6), squeeze=False, sharey=True
    )
    for ax, w in zip(axes[0], windows, strict=True):
        curves = []
        for run in runs:
            c = run["coupling_paper"][w]
            if not c["lags"]:
                continue
            r = np.array([np.nan if v is None else v for v in c["r"]], dtype=float)
            curves.append(r)
            ax.plot(c["lags"], r, color="0.6", lw=0.8)
            if c["peak_lag"] is not None:
                ax.plot([c["peak_lag"]], [c["peak_r"]], "v", color="C3", ms=5)
        if curves:
            stacked = np.stack(curves)
            counts = np.isfinite(stacked).sum(axis=0)
            mean = np.where(counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan)
            lags = runs[0]["coupling_paper"][w]["lags"]
            ax.plot(lags, mean, color="C0", lw=2, label="mean over seeds")
            if np.isfinite(mean).any():
                ax.axvline(lags[int(np.nanargmin(mean))], color="C0", ls="--", lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"W = {w}", fontsize=9)
        ax.set_xlabel("lag (snapshots; + = spectrum leads)", fontsize=7)
    axes[0][0].set_ylabel("r(sigma_2/sigma_3, val loss)", fontsize=8)
    axes[0][0].legend(fontsize=6)
    return _save(fig, path)


def _granger(runs: list[dict[str, Any]], windows: list[str], path: Path) -> Path:
    fig, (f_ax, p_ax) = plt.subplots(1, 2, figsize=(7, 2.6))
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        found = [run["granger_paper"][w] for w in windows]
        x = np.arange(len(windows)) + i * width
        f_ax.bar(x, [g["f"] or 0 for g in found], width, label=f"seed {run['seed']}")
        p_ax.bar(x, [g["p"] if g["p"] is not None else 1 for g in found], width)
    for ax, label in ((f_ax, "F"), (p_ax, "p")):
        ax.set_xticks(np.arange(len(windows)) + 0.4 - width / 2, [f"W={w}" for w in windows])
        ax.set_ylabel(label, fontsize=8)
    p_ax.set_yscale("log")
    p_ax.axhline(0.05, color="C3", ls="--", lw=1)
    f_ax.legend(fontsize=6)
    fig.suptitle("Granger: sigma_2/sigma_3 -> val loss (with learning-rate control)", fontsize=9)
    return _save(fig, path)


def _jl(runs: list[dict[str, Any]], windows: list[str], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 2.8))
    x = np.arange(len(windows))
    for i, run in enumerate(runs):
        tenfold = [100 * run["jl"][w][str(10 * int(w))]["edge_ratio_mean"] for w in windows]
        default = [100 * run["jl"][w]["400"]["edge_ratio_mean"] for w in windows]
        ax.plot(x, tenfold, "o-", color=f"C{i}", lw=1, label=f"seed {run['seed']}, d = 10W")
        ax.plot(x, default, "s--", color=f"C{i}", lw=1, label=f"seed {run['seed']}, d = 400")
    ax.axhline(5.7, color="k", ls=":", lw=1)
    ax.axhline(3.0, color="0.5", ls=":", lw=1)
    ax.set_xticks(x, [f"W={w}" for w in windows])
    ax.set_ylabel("edge-ratio error, mean %", fontsize=8)
    ax.legend(fontsize=5, ncol=2)
    return _save(fig, path)
