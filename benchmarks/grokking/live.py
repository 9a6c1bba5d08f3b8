"""The analyzer's live rules beside the detectors the evaluation scores: settings and confidence.

Each live alert type is one evaluated detector. `table` gives its setting tuned on the tuning
seeds, the setting the analyzer runs by default (they must match), and its held-out confidence,
(hits + 1) / (alarms + 2) on the report seeds of all families, which the analyzer's alerts carry
(`analyzer.core.detectors.CONFIDENCE`).
"""

from __future__ import annotations

from typing import Any

from analyzer.core.detectors import ScalarDetectors
from analyzer.core.grokking import GrokkingConfig
from benchmarks.grokking.scoring import Candidate, Raw, Tally, tally

LIVE = {
    "edge.decline": ("edge_ratio", "edge_decline@W10/s1"),
    "g23.decline": ("g23", "g23_decline@W10/s1"),
    "commutator.rise": ("commutator", "commutator"),
    "val_loss.decline": ("val_loss_decline", "val_loss_decline"),
}
"""Alert type -> (the analyzer's detector name, the evaluation's detector label)."""


def _drop(fraction: float, warmup: int, smooth: int, persist: int) -> dict[str, float]:
    return {"smooth": smooth, "warmup": warmup, "threshold": round(1 - fraction, 6),
            "persist": persist}  # fmt: skip


def live_settings() -> dict[str, dict[str, float]]:
    """The analyzer's default setting of each live rule, in the evaluation's parameter names."""
    config, val_loss = GrokkingConfig(), ScalarDetectors().val_loss
    return {
        "edge.decline": _drop(config.edge_fraction, config.warmup, config.edge_smooth,
                              config.edge_persist),
        "g23.decline": _drop(config.g23_fraction, config.warmup, config.g23_smooth,
                             config.g23_persist),
        "commutator.rise": {"baseline": ScalarDetectors().defect.baseline,
                            "floor": config.defect_floor, "threshold": config.defect_factor,
                            "persist": config.defect_persist},
        "val_loss.decline": _drop(val_loss.fraction, val_loss.warmup, val_loss.smooth,
                                  val_loss.persist),
    }  # fmt: skip


def confidence(hits: int, false_alarms: int) -> float:
    """Smoothed precision: the share of alerts followed by generalisation, (h + 1) / (a + 2)."""
    return round((hits + 1) / (hits + false_alarms + 2), 4)


def _same(tuned: dict[str, float], live: dict[str, float]) -> bool:
    return tuned.keys() == live.keys() and all(abs(tuned[k] - live[k]) < 1e-6 for k in tuned)


def table(chosen: dict[str, tuple[Candidate, Tally]], report: list[Raw]) -> dict[str, Any]:
    """Per live alert type: tuned and live settings, whether they match, held-out counts."""
    live, rows = live_settings(), {}
    for alert, (detector, label) in LIVE.items():
        if label not in chosen:
            continue
        candidate = chosen[label][0]
        held_out = tally(candidate, report).row()
        rows[alert] = {
            "detector": detector,
            "label": label,
            "tuned": candidate.settings,
            "live": live[alert],
            "matches": _same(candidate.settings, live[alert]),
            "hits": held_out["hits"],
            "grokking_runs": held_out["grokking_runs"],
            "false_alarms": held_out["false_alarms"],
            "control_runs": held_out["control_runs"],
            "confidence": confidence(held_out["hits"], held_out["false_alarms"]),
        }
    return rows
