"""What the product saw on each LM run, beside the paper's conventions: phases, k*, coupling, JL.

Everything here takes a run's raw result (`collect.gather`) and, for the JL comparison, its exact
deltas, and returns plain dicts. Two edge ratios are read from each window record: the product's
(`edge_ratio`, at its weighted k*) and the paper's fixed sigma_2 / sigma_3.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyzer.core.coupling import (
    align,
    bootstrap_peak_lags,
    cubic_detrend,
    lagged_correlation,
)
from analyzer.core.edge import RULES, edge_indices, edge_ratios, pick
from analyzer.core.granger import granger
from analyzer.core.phases import PHASES, PhaseDetector, reference_phases
from analyzer.errors import SpectrumError
from producer.config import ProducerConfig
from producer.hooks import sketch_for

MIN_LAG, MAX_LAG = -3, 5  # the paper's TinyStories lag range, in snapshots
PHASE_TOLERANCE = 2  # windows: the goal's "within 2 windows of the retrospective rule"
PAPER_RISE_LEVEL = 1.0  # the paper's phase rule has no rise level: every ratio is >= 1


@dataclass(frozen=True)
class Series:
    """One W's window records as arrays, in index order."""

    index: np.ndarray
    step: np.ndarray
    sigma: np.ndarray
    edge_ratio: np.ndarray
    k_star: dict[str, np.ndarray]

    @property
    def paper_ratio(self) -> np.ndarray:
        """sigma_2 / sigma_3, the paper's TinyStories edge ratio (k* = 2)."""
        ratio: np.ndarray = edge_ratios(self.sigma)[:, 1]
        return ratio


def series(raw: dict[str, Any], window: int) -> Series:
    """The run's W-window records as a `Series`."""
    records = sorted(raw["records"][str(window)], key=lambda r: r["index"])
    return Series(
        index=np.array([r["index"] for r in records], dtype=np.int64),
        step=np.array([r["step"] for r in records], dtype=np.int64),
        sigma=np.array([r["sigma"] for r in records], dtype=np.float64).reshape(-1, window),
        edge_ratio=np.array([r["edge_ratio"] for r in records], dtype=np.float64),
        k_star={rule: np.array([r["k_star"][rule] for r in records]) for rule in RULES},
    )


def phases(raw: dict[str, Any], window: int) -> dict[str, Any]:
    """The product's live phase alerts against its retrospective rule, and both at the paper's
    settings on sigma_2/sigma_3.

    Product: the analyzer's `phase.*` alerts and `reference_phases` on the same edge-ratio series,
    both with the analyzer's settings (rise level `plateau_min`, tau `collapse_threshold`). Paper:
    its rule has no rise level (PAPER_RISE_LEVEL = 1, any ratio), applied to sigma_2/sigma_3, and
    the live `PhaseDetector` replayed over the same series with the same settings. Positions are
    window positions in the series (0-based); a live plateau is the window that announced it,
    compared with the rule's first plateau window.
    """
    s, settings = series(raw, window), raw["analyzer_settings"]
    tau, level = settings["collapse_threshold"], settings["plateau_min"]
    position = {int(i): p for p, i in enumerate(s.index)}
    live = {
        a["type"].removeprefix("phase."): position.get(a["index"])
        for a in raw["alerts"]
        if a["type"].startswith("phase.") and a["window"] == window
    }
    rule = reference_phases(s.edge_ratio, tau=tau, rise_level=level)
    product = _compare({p: live.get(p) for p in PHASES}, _positions(rule))
    detector = PhaseDetector(
        tau=tau, rise_level=PAPER_RISE_LEVEL, confirm=settings["plateau_windows"]
    )
    replayed: dict[str, int | None] = dict.fromkeys(PHASES)
    for p, (i, step, r) in enumerate(zip(s.index, s.step, s.paper_ratio, strict=True)):
        for event in detector.update(int(i), int(step), float(r)):
            replayed[event.phase] = p
    paper_rule = reference_phases(s.paper_ratio, tau=tau, rise_level=PAPER_RISE_LEVEL)
    return {
        "product": product,
        "paper": _compare(replayed, _positions(paper_rule)),
        "steps": s.step.tolist(),
        "peak_edge_ratio": float(s.edge_ratio.max()) if s.edge_ratio.size else None,
        "peak_paper_ratio": float(s.paper_ratio.max()) if s.paper_ratio.size else None,
        "paper_peak_position": paper_rule.peak,
        "rise_level": level,
    }


def _compare(live: dict[str, int | None], rule: dict[str, int | None]) -> dict[str, Any]:
    offsets = {p: _offset(live[p], rule[p]) for p in PHASES}
    agrees = all(v is not None and abs(v) <= PHASE_TOLERANCE for v in offsets.values())
    found = all(live[p] is not None for p in PHASES)
    return {"live": live, "rule": rule, "offset": offsets, "agrees": agrees, "found": found}


def _positions(found: Any) -> dict[str, int | None]:
    return {
        "rise": found.rise,
        "plateau": found.plateau[0] if found.plateau else None,
        "collapse": found.collapse,
    }


def _offset(live: int | None, retro: int | None) -> int | None:
    return None if live is None or retro is None else live - retro


def k_star(raw: dict[str, Any], window: int) -> dict[str, dict[str, Any]]:
    """Per rule: its mode over the run's windows, the share at the mode and how often it changes."""
    s = series(raw, window)
    out = {}
    for rule, values in s.k_star.items():
        counts = Counter(values.tolist())
        mode, at_mode = counts.most_common(1)[0] if counts else (None, 0)
        out[rule] = {
            "mode": mode,
            "share": at_mode / max(values.size, 1),
            "changes": int(np.count_nonzero(np.diff(values))),
            "values": values.tolist(),
        }
    return out


def aligned(
    raw: dict[str, Any], window: int, ratio: str = "product", scalar: str = "val_loss"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, R, loss, learning rate) at the windows' steps, from the logged evaluations."""
    s = series(raw, window)
    r = s.edge_ratio if ratio == "product" else s.paper_ratio
    evaluations = raw["evaluations"]
    steps = np.array([e["step"] for e in evaluations], dtype=np.float64)
    loss = np.array([e[scalar] for e in evaluations], dtype=np.float64)
    lr = np.array([e["lr"] for e in evaluations], dtype=np.float64)
    at, r_at, loss_at = align(s.step.astype(np.float64), r, steps, loss)
    return at, r_at, loss_at, np.interp(at, steps, lr)


def lag_coupling(
    raw: dict[str, Any], window: int, ratio: str = "product", replicates: int = 1000
) -> dict[str, Any]:
    """r(lag) for lags MIN_LAG..MAX_LAG, the peak lag, and its block-bootstrap sign shares."""
    steps, r, loss, _ = aligned(raw, window, ratio)
    try:
        x, y = cubic_detrend(r, steps), cubic_detrend(loss, steps)
        found = lagged_correlation(x, y, MAX_LAG, MIN_LAG)
        boot = bootstrap_peak_lags(x, y, MAX_LAG, MIN_LAG, replicates=replicates)
    except SpectrumError:
        return {
            "lags": [],
            "r": [],
            "peak_lag": None,
            "peak_r": None,
            "n": int(r.size),
            "bootstrap": [],
        }
    return {
        "lags": found.lags.tolist(),
        "r": [None if np.isnan(v) else float(v) for v in found.r],
        "peak_lag": found.peak_lag,
        "peak_r": found.peak_r,
        "n": int(r.size),
        "bootstrap": boot.tolist(),
    }


def granger_test(raw: dict[str, Any], window: int, ratio: str = "product") -> dict[str, Any]:
    """Does R Granger-cause the validation loss beyond its own lags and the learning rate?"""
    _, r, loss, lr = aligned(raw, window, ratio)
    try:
        result = granger(loss, r, control=lr, max_order=2)
    except (SpectrumError, np.linalg.LinAlgError):
        return {"order": None, "f": None, "p": None, "n": int(r.size)}
    return {"order": result.order, "f": result.f_stat, "p": result.p_value, "n": int(r.size)}


def window_spectra(updates: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(snapshot index, descending sigma) of every full W-window of consecutive update rows.

    Row j holds the update into snapshot j + 1, so the window ending at snapshot i covers rows
    i - W .. i - 1. sigma = sqrt of the clipped eigenvalues of the raw (uncentred) float64 Gram.
    """
    gram = _gram(updates)
    ends = np.arange(window, updates.shape[0] + 1)
    blocks = np.stack([gram[e - window : e, e - window : e] for e in ends])
    lam = np.clip(np.linalg.eigvalsh(blocks)[:, ::-1], 0.0, None)
    return ends, np.sqrt(lam)


def _gram(updates: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    gram = np.zeros((updates.shape[0], updates.shape[0]))
    for start in range(0, updates.shape[1], chunk):
        block = np.asarray(updates[:, start : start + chunk], dtype=np.float64)
        gram += block @ block.T
    return gram


def sketch_updates(
    updates: np.ndarray, names: Sequence[tuple[str, int]], dim: int, seed: int
) -> np.ndarray:
    """The producer's own sketch (default method) of each update row, split back by parameter."""
    sketch = sketch_for(ProducerConfig(dim=dim, seed=seed, threads=1))
    bounds = np.cumsum([0, *(size for _, size in names)])
    rows = []
    for row in updates:
        named = [
            (name, np.asarray(row[a:b], dtype=np.float64))
            for (name, _), a, b in zip(names, bounds[:-1], bounds[1:], strict=True)
        ]
        rows.append(sketch.sketch_parameters(named))
    return np.stack(rows)


def spectral_errors(sketched: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Mean and max relative errors over windows: edge ratio at the exact weighted k*,
    sigma_2/sigma_3, and the gap sigma_k* - sigma_(k*+1)."""
    rs, re = edge_ratios(sketched), edge_ratios(exact)
    k = edge_indices(exact, re)["weighted"]
    edge = np.abs(pick(rs, k) - pick(re, k)) / pick(re, k)
    paper = np.abs(rs[:, 1] - re[:, 1]) / re[:, 1]
    gap_s = pick(sketched, k) - pick(sketched, k + 1)
    gap_e = pick(exact, k) - pick(exact, k + 1)
    gap = np.abs(gap_s - gap_e) / np.maximum(gap_e, 1e-300)
    out = {}
    for name, values in (("edge_ratio", edge), ("sigma2_sigma3", paper), ("gap", gap)):
        out[f"{name}_mean"], out[f"{name}_max"] = float(values.mean()), float(values.max())
    return out


def jl(
    raw: dict[str, Any],
    updates: np.ndarray,
    windows: Sequence[int],
    default_dim: int,
    projection_seeds: Sequence[int] = (0, 1, 2),
) -> dict[str, Any]:
    """Sketched against exact spectra per W at d = 10W and at the default d (offline sketches of
    the saved deltas, `projection_seeds` each), plus the analyzer's own live records at the
    default d against exact, with their largest difference from the offline sketch of the same
    seed (relative to sigma_1; the sketch is linear, so only rounding separates them)."""
    names = [(n, int(size)) for n, size in raw["names"]]
    dims = sorted({*(10 * w for w in windows), default_dim})
    sketches = {
        (d, s): sketch_updates(updates, names, d, s) for d in dims for s in projection_seeds
    }
    out: dict[str, Any] = {}
    for w in windows:
        ends, exact = window_spectra(updates, w)
        per_dim = {}
        for d in sorted({10 * w, default_dim}):
            errors = [
                spectral_errors(window_spectra(sketches[d, s], w)[1], exact)
                for s in projection_seeds
            ]
            per_dim[str(d)] = {key: float(np.mean([e[key] for e in errors])) for key in errors[0]}
        live = series(raw, w)
        rows = {int(i): p for p, i in enumerate(ends)}
        keep = [rows[int(i)] for i in live.index if int(i) in rows]
        matched = [p for p, i in enumerate(live.index) if int(i) in rows]
        per_dim["live"] = spectral_errors(live.sigma[matched], exact[keep])
        offline = window_spectra(sketches[default_dim, projection_seeds[0]], w)[1][keep]
        difference = np.abs(live.sigma[matched] - offline) / np.maximum(offline[:, :1], 1e-300)
        per_dim["live"]["offline_difference"] = float(difference.max(initial=0.0))
        out[str(w)] = per_dim
    return out
