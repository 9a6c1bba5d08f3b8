"""Figures of the evaluation (matplotlib, small PNGs beside results.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.grokking.scoring import Candidate
from benchmarks.grokking.signals import Raw, grok_of, memorised_of


def tradeoff(results: dict[str, Any], path: Path) -> None:
    """Median lead and share warned against the worst false-alarm rate, per detector."""
    fig, (lead_ax, hit_ax) = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
    for label, points in results["curves"].items():
        points = sorted(points, key=lambda p: p["worst_false_alarm_rate"])
        x = [p["worst_false_alarm_rate"] for p in points]
        style = "-" if label == results["default"] else ("--" if "@W" in label else ":")
        lead_ax.plot(x, [p["median_lead"] for p in points], style, label=label, lw=1.2)
        hit_ax.plot(x, [p["hit_rate"] for p in points], style, lw=1.2)
    for ax in (lead_ax, hit_ax):
        ax.axvline(results["false_alarm_limit"], color="grey", lw=0.8)
        ax.set_xlabel("worst false-alarm rate over control types (report seeds)")
    lead_ax.set_ylabel("median lead (steps)")
    hit_ax.set_ylabel("grokking runs warned")
    lead_ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def example(results: dict[str, Any], runs: list[Raw], path: Path) -> None:
    """One report-seed grokking run beside its controls: edge ratio, validation loss, alarms."""
    seed = results["report_seeds"][0]
    family = next(iter(results["report"]))
    chosen = [r for r in runs if r["spec"]["seed"] == seed and r["spec"]["family"] == family]
    series = next((s for s in ("10/4", "10") if chosen and s in chosen[0]["records"]), "10")
    detector = _default(results)
    fig, axes = plt.subplots(len(chosen), 1, figsize=(8, 1.9 * len(chosen)), sharex=True)
    for ax, raw in zip(axes, chosen, strict=True):
        rows = raw["records"][series]
        ax.plot([r["step"] for r in rows], [r["edge_ratio"] for r in rows], lw=0.7, color="C0")
        ax.set_ylabel(f"edge ratio\nW{series}", fontsize=7)
        loss = ax.twinx()
        evals = raw["evaluations"]
        loss.plot([e["step"] for e in evals], [e["test_loss"] for e in evals], color="C3", lw=1)
        loss.set_ylabel("val loss", fontsize=7, color="C3")
        grok, _ = grok_of(raw)
        marks = [(memorised_of(raw), "memorised", "grey"), (grok, "grok", "green")]
        alarm = detector.alarm(raw)
        marks.append((alarm, "default warning", "C1"))
        for step, name, color in marks:
            if step is not None:
                ax.axvline(step, color=color, lw=1, ls="--", label=name)
        ax.set_title(f"{raw['spec']['task']} {raw['spec']['options']} {raw['spec']['condition']}",
                     fontsize=8)  # fmt: skip
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=6, loc="upper right")
    axes[-1].set_xlabel("optimizer step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _default(results: dict[str, Any]) -> Candidate:
    """The default detector, as `evaluate` stored it."""
    saved = results["default_detector"]
    params = tuple((str(k), float(v)) for k, v in saved["params"])
    return Candidate(saved["kind"], saved["series"], params, saved["threshold"], saved["persist"])


def draw(results: dict[str, Any], runs: list[Raw], out: Path) -> None:
    """Write tradeoff.png and example.png into `out`."""
    tradeoff(results, out / "tradeoff.png")
    example(results, runs, out / "example.png")
