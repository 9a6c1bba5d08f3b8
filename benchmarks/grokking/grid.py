"""The evaluation grid: tasks x seeds x {weight decay 1.0, weight decay 0, non-grokking op}.

Each task family has one grokking condition (weight decay 1.0) and its controls: weight decay 0,
and for modular arithmetic the operation a^2+ab+b^2, reported not to grok. Thresholds are tuned on
TUNE_SEEDS and reported on REPORT_SEEDS. Dyck and SCAN train on mini-batches of 64: their longer
inputs make a step of 256 cost 3-4x a modular step, and the whole grid has to fit 90 minutes
(hence also the step budgets: controls run past the grokking runs' usual grok step, ~1,150-1,650
for modular addition and ~850-1,000 for Dyck; SCAN did not reach 0.90 in 2,000 steps in trials).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TUNE_SEEDS = (0, 1, 2, 3, 4)
REPORT_SEEDS = tuple(range(100, 110))
FAMILIES = ("modular", "dyck-depth", "scan")


@dataclass(frozen=True)
class RunSpec:
    """One training run of the grid and the settings it trains with."""

    family: str
    task: str
    condition: str
    weight_decay: float
    seed: int
    steps: int
    eval_every: int = 50
    every: int = 5
    d_model: int = 128
    layers: int = 2
    batch: int = 256
    lr: float = 1e-3
    probe_every: int = 100
    probe_pairs: int = 3

    @property
    def grokking(self) -> bool:
        """Whether this is the grokking condition (else a control)."""
        return self.condition == "wd1"

    @property
    def name(self) -> str:
        """A short unique label, also the run id stem."""
        return f"{self.task}-{self.condition}-s{self.seed}"

    def to_dict(self) -> dict[str, object]:
        """Plain fields, for the worker's command line and the raw results."""
        return asdict(self)


def family_runs(family: str, seed: int) -> list[RunSpec]:
    """The grokking run and the controls of `family` for one seed."""
    if family == "modular":
        return [
            RunSpec(family, "modular-add", "wd1", 1.0, seed, 2500),
            RunSpec(family, "modular-add", "wd0", 0.0, seed, 1800),
            RunSpec(family, "modular-sq_cross", "op", 1.0, seed, 1800),
        ]
    if family in ("dyck-depth", "scan"):
        steps = 1400 if family == "dyck-depth" else 1200
        return [
            RunSpec(family, family, "wd1", 1.0, seed, steps, batch=64),
            RunSpec(family, family, "wd0", 0.0, seed, steps, batch=64),
        ]
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")


def grid(families: tuple[str, ...], seeds: tuple[int, ...]) -> list[RunSpec]:
    """Every run of `families` x `seeds`, seed-major so early results cover every condition."""
    return [spec for seed in seeds for family in families for spec in family_runs(family, seed)]
