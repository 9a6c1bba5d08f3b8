"""A logistic score over the validation-loss trend and the edge ratio, fitted on tuning seeds.

At every evaluation step t the features are: the validation loss's fall from its running peak
(`val_loss_decline`, smooth 3), its z-score against the previous 10 evaluations (`val_loss_z`),
and, from the latest window of one (W, stride) series at or before t, the edge ratio's fall from
its peak (`edge_decline`, smooth 10) and its rise from its trough after a fall of half its peak
(`edge_rebound`). Points of a grokking run between its memorisation and its grok step are
labelled 1; points of a control that did not generalise, after its memorisation, 0. The score is
the fitted probability, undefined before the run memorised (a grokking warning is about runs
that memorised); it is tuned and reported like any other trace (`scoring.TRACES`).
"""

from __future__ import annotations

import numpy as np

from benchmarks.grokking.signals import (
    Raw,
    Trace,
    after_memorisation,
    drop_levels,
    grok_of,
    memorised_of,
    rebound,
    zscore_fall,
)

FEATURES = ("val_loss_decline", "val_loss_z", "edge_decline", "edge_rebound")
_RIDGE = 1.0


def features(raw: Raw, series: str) -> tuple[np.ndarray, np.ndarray]:
    """(evaluation steps, n x 4 features) of one run, NaN read as 0."""
    steps = np.array([e["step"] for e in raw["evaluations"]], dtype=int)
    loss = [float(e["test_loss"]) for e in raw["evaluations"]]
    rows = raw["records"].get(series, [])
    record_steps = np.array([r["step"] for r in rows], dtype=int)
    edge = [float(r["edge_ratio"]) for r in rows]
    at = np.searchsorted(record_steps, steps, side="right") - 1

    def sampled(values: np.ndarray) -> np.ndarray:
        out = np.full(steps.size, np.nan)
        out[at >= 0] = values[at[at >= 0]] if values.size else np.nan
        return out

    columns = [
        drop_levels(loss, 2, 3),
        zscore_fall(loss, 10),
        sampled(drop_levels(edge, 5, 10)),
        sampled(rebound(edge, 5, 10, 0.5)),
    ]
    return steps, np.nan_to_num(np.column_stack(columns), nan=0.0, posinf=0.0, neginf=0.0)


def _labelled(raw: Raw, series: str) -> tuple[np.ndarray, np.ndarray] | None:
    grok, _ = grok_of(raw)
    memorised = memorised_of(raw)
    if memorised is None:
        return None
    steps, x = features(raw, series)
    if raw["spec"]["condition"] == "grok":
        if grok is None:
            return None
        keep = (steps >= memorised) & (steps < grok)
        return x[keep], np.ones(int(keep.sum()))
    if grok is not None:
        return None
    keep = steps >= memorised
    return x[keep], np.zeros(int(keep.sum()))


def labelled(runs: list[Raw], series: str) -> bool:
    """Whether the runs hold labelled points of both classes to fit on."""
    parts = [p for raw in runs if (p := _labelled(raw, series)) is not None]
    labels = {float(v) for _, y in parts for v in y}
    return labels == {0.0, 1.0}


def fit(runs: list[Raw], series: str) -> tuple[tuple[str, float], ...]:
    """Ridge-regularised logistic regression (Newton steps) on the runs' labelled points; the
    coefficients as trace parameters: `bias`, then `w_<feature>` on standardised features with
    their `mean_<feature>` and `scale_<feature>`."""
    parts = [p for raw in runs if (p := _labelled(raw, series)) is not None]
    if not parts:
        raise ValueError("no labelled points to fit")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    design = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    weights = np.zeros(design.shape[1])
    penalty = np.diag([0.0] + [_RIDGE] * x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-design @ weights))
        gradient = design.T @ (p - y) + penalty @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    named = [("bias", float(weights[0]))]
    for i, name in enumerate(FEATURES):
        named += [(f"w_{name}", float(weights[i + 1])), (f"mean_{name}", float(mean[i])),
                  (f"scale_{name}", float(scale[i]))]  # fmt: skip
    return tuple(sorted(named))


def probability(raw: Raw, series: str, params: dict[str, float]) -> Trace:
    """The fitted score at every evaluation step of `raw`."""
    steps, x = features(raw, series)
    z = np.full(len(steps), params["bias"])
    for i, name in enumerate(FEATURES):
        z += params[f"w_{name}"] * (x[:, i] - params[f"mean_{name}"]) / params[f"scale_{name}"]
    return steps, after_memorisation(raw, steps, 1.0 / (1.0 + np.exp(-z)))
