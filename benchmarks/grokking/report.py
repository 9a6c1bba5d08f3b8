"""The results table as markdown: per family and detector, on the report seeds."""

from __future__ import annotations

from typing import Any

HEADER = (
    "| detector | thresholds (tuned on seeds {tune}) | hit rate | median lead | min lead | "
    "max lead | false alarms on controls |\n|---|---|---|---|---|---|---|"
)

RUNS_HEADER = (
    "| run | steps | grok step | confirmed (>= 0.98 x3) | seconds | pipeline early warnings |\n"
    "|---|---|---|---|---|---|"
)


def _lead(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _row(label: str, params: dict[str, float], row: dict[str, Any]) -> str:
    settings = ", ".join(f"{k}={v:g}" for k, v in params.items())
    hits = f"{row['hits']}/{row['grokking_runs']} ({row['hit_rate']:.0%})"
    alarms = f"{row['false_alarms']}/{row['control_runs']} ({row['false_alarm_rate']:.0%})"
    split = ", ".join(
        f"{k} {a}/{n}" for k, (a, n) in sorted(row["false_alarms_by_condition"].items())
    )
    alarms += f" [{split}]" if split else ""
    leads = " | ".join(_lead(row[k]) for k in ("median_lead", "min_lead", "max_lead"))
    return f"| {label} | {settings} | {hits} | {leads} | {alarms} |"


def markdown(results: dict[str, Any]) -> str:
    """Tables per family, the run list, and the recommendation."""
    tune = ",".join(map(str, results["tune_seeds"]))
    report = ",".join(map(str, results["report_seeds"]))
    lines = [f"Reported on seeds {report}; lead in optimizer steps (grok step - alarm step).", ""]
    for family, table in results["report"].items():
        first = next(iter(table.values()), {})
        lines += [
            f"### {family} (grokking runs: {first.get('grokking_runs', 0)}, did not grok: "
            f"{first.get('did_not_grok', 0)}, controls: {first.get('control_runs', 0)}, of which "
            f"reached test accuracy 0.90 anyway: {first.get('controls_generalized', 0)})",
            "",
            HEADER.format(tune=tune),
        ]
        lines += [_row(label, results["chosen"][label], row) for label, row in table.items()]
        lines.append("")
    best, spectral = results["recommended"], results["recommended_spectral"]
    lines.append(
        f"Best on the tuning seeds (hit rate - false-alarm rate, then median lead): **{best}**; "
        f"best spectral detector: **{spectral}**."
    )
    lines += ["", RUNS_HEADER]
    lines += [
        f"| {r['run']} | {r['steps']} | {r['grok_step']} | {r['confirmed_step']} | "
        f"{r['seconds']:.0f} | {r['pipeline_early_warnings']} |"
        for r in results["runs"]
    ]
    lines.append(
        f"\nReplaying the analyzer's default detectors over the stored records reproduces the "
        f"early warnings it emitted on {results['pipeline_agrees']}/{len(results['runs'])} runs. "
        f"Training time summed over the runs {sum(r['seconds'] for r in results['runs']):.0f} s; "
        f"wall time of the command that trained them "
        f"{results.get('collect_wall_seconds', results.get('wall_seconds', 0)):.0f} s."
    )
    return "\n".join(lines) + "\n"
