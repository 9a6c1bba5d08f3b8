"""Run specs of the evaluation, read from a TOML or JSON file (`configs/*.toml`).

A file lists `[[run]]` entries (task and its options, condition, weight decay, steps, optional
training settings) and the `tune_seeds` and `report_seeds` every entry runs with (an entry may
name its own `seeds`). The condition says what a run is for: `grok` runs are expected to
generalise late; `wd0` controls train without weight decay; `nogen` controls memorise under
weight decay but do not generalise within their budget (an operation that does not grok, or a
split too small). Whether a run grokked is read from its test accuracy, never from its condition.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).with_name("configs")
CONDITIONS = ("grok", "wd0", "nogen")
CONTROLS = ("wd0", "nogen")


@dataclass(frozen=True)
class RunSpec:
    """One training run and the settings it trains with."""

    family: str
    task: str
    condition: str
    weight_decay: float
    seed: int
    steps: int
    options: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 50
    every: int = 5
    d_model: int = 128
    layers: int = 2
    batch: int = 256
    lr: float = 1e-3
    probe_every: int = 100
    probe_pairs: int = 3

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ValueError(f"condition {self.condition!r} is not one of {CONDITIONS}")

    @property
    def grokking(self) -> bool:
        """Whether this is a grokking condition (else a control)."""
        return self.condition == "grok"

    @property
    def name(self) -> str:
        """A short label, also the run id stem: task, options, condition, seed."""
        opts = "".join(f"-{k[:5]}{v:g}" for k, v in sorted(self.options.items()))
        return f"{self.task}{opts}-{self.condition}-s{self.seed}"

    def to_dict(self) -> dict[str, object]:
        """Plain fields, for the worker's command line and the raw results."""
        return asdict(self)


@dataclass(frozen=True)
class Grid:
    """The runs of one configuration file and the seeds they are tuned and reported on."""

    runs: tuple[RunSpec, ...]
    tune_seeds: tuple[int, ...]
    report_seeds: tuple[int, ...]

    @property
    def families(self) -> tuple[str, ...]:
        """The task families, in file order."""
        return tuple(dict.fromkeys(r.family for r in self.runs))


_SPEC_FIELDS = {f.name for f in fields(RunSpec)} - {"seed"}


def load(
    path: Path,
    tune_seeds: tuple[int, ...] | None = None,
    report_seeds: tuple[int, ...] | None = None,
    families: tuple[str, ...] | None = None,
) -> Grid:
    """The grid of the file at `path`; seeds and families given here override the file's.

    Raises ValueError naming the entry and field for anything the file gets wrong.
    """
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    tune = tune_seeds or tuple(data.get("tune_seeds", ()))
    report = report_seeds or tuple(data.get("report_seeds", ()))
    if set(tune) & set(report):
        raise ValueError(f"tuning and report seeds overlap: {sorted(set(tune) & set(report))}")
    entries = data.get("run", data.get("runs", []))
    if not entries:
        raise ValueError(f"{path} lists no runs (expected [[run]] entries)")
    runs: list[RunSpec] = []
    for n, entry in enumerate(entries, 1):
        unknown = set(entry) - _SPEC_FIELDS - {"seeds"}
        if unknown:
            raise ValueError(f"run {n} of {path}: unknown fields {sorted(unknown)}")
        settings = {k: v for k, v in entry.items() if k != "seeds"}
        if families and settings.get("family") not in families:
            continue
        for seed in entry.get("seeds", (*tune, *report)):
            try:
                runs.append(RunSpec(**settings, seed=int(seed)))
            except TypeError as exc:
                raise ValueError(f"run {n} of {path}: {exc}") from None
    runs.sort(key=lambda r: (*tune, *report).index(r.seed) if r.seed in (*tune, *report) else 0)
    return Grid(tuple(runs), tuple(tune), tuple(report))
