"""The results as markdown: per family and detector on the report seeds, the trade-off, the runs."""

from __future__ import annotations

from typing import Any

HEADER = (
    "| detector | settings (tuned on seeds {tune}) | warned | median lead | min lead | "
    "lead / gap | false alarms wd0 | false alarms nogen | AUROC |\n"
    "|---|---|---|---|---|---|---|---|---|"
)
RUNS_HEADER = (
    "| run | steps | memorised | grok step | confirmed (>= 0.98 x3) | seconds |\n"
    "|---|---|---|---|---|---|"
)
GOAL = "warned >= 90 %, median lead >= 600 steps and >= 25 % of the gap, <= 10 % false alarms"


def _number(value: float | None, form: str = ".0f") -> str:
    return "-" if value is None else format(value, form)


def _settings(params: dict[str, float]) -> str:
    shown = {k: v for k, v in params.items() if not k.startswith(("w_", "mean_", "scale_"))}
    return ", ".join(f"{k}={v:.3g}" for k, v in shown.items())


def _alarms(row: dict[str, Any], condition: str) -> str:
    fired, n = row["false_alarms_by_condition"].get(condition, (0, 0))
    return f"{fired}/{n}" if n else "-"


def _row(label: str, params: dict[str, float], row: dict[str, Any]) -> str:
    warned = f"{row['hits']}/{row['grokking_runs']} ({row['hit_rate']:.0%})"
    fraction = _number(row["median_lead_fraction"], ".0%")
    return (
        f"| {label} | {_settings(params)} | {warned} | {_number(row['median_lead'])} | "
        f"{_number(row['min_lead'])} | {fraction} | {_alarms(row, 'wd0')} | "
        f"{_alarms(row, 'nogen')} | {_number(row['auroc'], '.2f')} |"
    )


def meets_goal(row: dict[str, Any], limit: float = 0.10) -> bool:
    """Whether one family's row meets the issue's goal (the gap part where gaps were measured)."""
    rates = [a / n for a, n in row["false_alarms_by_condition"].values() if n]
    lead, fraction = row["median_lead"] or 0, row["median_lead_fraction"] or 0
    return (row["hit_rate"] >= 0.9 and lead >= 600 and fraction >= 0.25
            and all(r <= limit for r in rates))  # fmt: skip


def _live(rows: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "### Live rules: the analyzer's alerts, their default settings and confidence",
        "",
        "Each alert type the analyzer fires is one detector above. Its default setting must be "
        "the one tuned on the tuning seeds; its `confidence`, (hits + 1) / (alarms + 2) on the "
        "report seeds of all families, is how often its alert was followed by generalisation on "
        "runs it was not tuned on (`analyzer.core.detectors.CONFIDENCE`).",
        "",
        "| alert | detector | evaluated as | default = tuned | warned | false alarms | "
        "confidence |",
        "|---|---|---|---|---|---|---|",
    ]
    for alert, row in rows.items():
        same = "yes" if row["matches"] else f"no (live {_settings(row['live'])})"
        lines.append(
            f"| `{alert}` | {row['detector']} | {row['label']} ({_settings(row['tuned'])}) | "
            f"{same} | {row['hits']}/{row['grokking_runs']} | "
            f"{row['false_alarms']}/{row['control_runs']} | {row['confidence']:.3f} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> str:
    """Tables per family, the equal-false-alarm comparison, timescales, the run list."""
    tune = ",".join(map(str, results["tune_seeds"]))
    report = ",".join(map(str, results["report_seeds"]))
    default, baseline = results["default"], results["best_baseline"]
    lines = [
        f"Tuned on seeds {tune}, reported on seeds {report}. Lead in optimizer steps (grok step "
        f"- alarm step); gap = grok step - memorisation step; a false alarm is an alarm on a "
        f"control that did not generalise. Each detector's settings maximise, on the tuning "
        f"seeds, hits within {results['false_alarm_limit']:.0%} false alarms per control type, "
        f"then median lead. `memorised` (training accuracy >= 0.99) is the reference: the lead "
        f"any memorisation detector gets for free.",
        "",
        f"Default (best on the tuning seeds): **{default}**; best non-spectral baseline: "
        f"**{baseline}**. Goal per family: {GOAL}.",
        "",
    ]
    for family, table in results["report"].items():
        first = table[default]
        verdict = "met" if meets_goal(first) else "not met"
        lines += [
            f"### {family}: {first['grokking_runs']} grokking runs (median gap "
            f"{_number(first['median_gap'])} steps), {first['did_not_grok']} did not grok, "
            f"{first['control_runs']} controls, {first['controls_generalized']} controls "
            f"generalised anyway (left out). Goal for the default: {verdict}",
            "",
            HEADER.format(tune=tune),
        ]
        lines += [_row(label, results["chosen"][label], row) for label, row in table.items()]
        lines.append("")
    lines += [
        f"### At equal false alarms (report seeds, threshold swept, within "
        f"{results['false_alarm_limit']:.0%} per control type)",
        "",
        "This picks the threshold on the report seeds themselves, so it is the best each "
        "detector could do there, not a tuned result; it compares detectors at one false-alarm "
        "rate. `tradeoff.png` draws the whole curves.",
        "",
        "| detector | warned | median lead | worst false-alarm rate |",
        "|---|---|---|---|",
    ]
    for label, point in results["at_equal_false_alarms"].items():
        if point is None:
            lines.append(f"| {label} | no threshold within the limit | - | - |")
            continue
        lines.append(f"| {label} | {point['hit_rate']:.0%} | {point['median_lead']:.0f} | "
                     f"{point['worst_false_alarm_rate']:.0%} |")  # fmt: skip
    lines += _live(results.get("live", {}))
    lines += ["", "### Timescales (tuning seeds): each (W, stride) series, its best setting", "",
              "| detector | warned | median lead | false alarms wd0 | false alarms nogen | AUROC |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for label, row in results["tuning"].items():
        if "@W" not in label:
            continue
        lines.append(
            f"| {label} | {row['hits']}/{row['grokking_runs']} | {_number(row['median_lead'])} | "
            f"{_alarms(row, 'wd0')} | {_alarms(row, 'nogen')} | {_number(row['auroc'], '.2f')} |"
        )
    lines += ["", RUNS_HEADER]
    lines += [
        f"| {r['run']} | {r['steps']} | {r['memorised_step']} | {r['grok_step']} | "
        f"{r['confirmed_step']} | {r['seconds']:.0f} |"
        for r in results["runs"]
    ]
    lines.append(
        f"\nReplaying the analyzer's series detectors over the stored records reproduces the "
        f"alerts it emitted on {results['pipeline_agrees']}/{len(results['runs'])} runs. "
        f"Training time summed over the runs {sum(r['seconds'] for r in results['runs']):.0f} s; "
        f"wall time of the command that trained them {_number(results['collect_wall_seconds'])} s."
    )
    return "\n".join(lines) + "\n"
