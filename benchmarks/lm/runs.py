"""The LM reproduction's runs: model sizes, seeds and schedules for `--full`, `--quick` and `tiny`.

`full` is the paper's TinyStories protocol at CPU sizes: 10,000 AdamW steps (1,500 warmup, cosine
to 10 %), a snapshot every 200 steps (so the analyzer's updates are 200-step checkpoint
differences, 50 of them), 4 seeds at the small size with their exact deltas saved, and one run at
the large size that shifts from prose to Python source at step 6,000 (the GPT-2 analogue).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

WINDOWS = (10, 15, 20, 25)
DIM = 400  # the producer's default sketch dimension
SIZES = {  # layers, d_model, heads, batch
    "small": (4, 128, 4, 16),
    "large": (6, 256, 8, 8),
    "tiny": (2, 32, 2, 8),
    "paper": (8, 512, 16, 32),  # the paper's 51M TinyStories shape (with a 50,257-token vocabulary)
}


@dataclass(frozen=True)
class LMRunSpec:
    """One run: model size, seed, schedule, snapshot interval, shift step and what to keep."""

    size: str
    seed: int
    steps: int = 10_000
    warmup: int = 1_500
    every: int = 200
    vocab: int = 2048
    context: int = 64
    shift_step: int | None = None
    save_deltas: bool = False
    eval_batches: int = 8
    file_limit: int | None = None
    cache: str = ""
    deltas_dir: str = ""
    device: str = "cpu"
    batch: int | None = None  # None: the size's batch

    @property
    def name(self) -> str:
        """Run-id prefix: size, seed and (when it shifts) the shift step."""
        shift = f"-shift{self.shift_step}" if self.shift_step else ""
        batch = f"-b{self.batch}" if self.batch else ""
        return f"lm-{self.size}-s{self.seed}{batch}{shift}"

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(layers, d_model, heads, batch) of the size, with this run's batch if it sets one."""
        layers, width, heads, batch = SIZES[self.size]
        return layers, width, heads, self.batch or batch

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (what the worker is started with)."""
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """The runs of one mode and the window lengths the analyzer computes for them."""

    runs: tuple[LMRunSpec, ...]
    windows: tuple[int, ...] = WINDOWS


def plan(mode: str, cache: str, deltas_dir: str) -> Plan:
    """The runs of `mode` ("full", "quick", "tiny" or "gpu": one run of the paper's 51M shape
    on CUDA), caching tokens in `cache`."""
    where = {"cache": cache, "deltas_dir": deltas_dir}
    if mode == "full":
        small = [LMRunSpec("small", seed, save_deltas=True, **where) for seed in (0, 1, 2, 3)]
        large = LMRunSpec("large", 0, shift_step=6_000, **where)
        return Plan((large, *small))
    if mode == "quick":
        quick = LMRunSpec("small", 0, steps=3_000, warmup=450, every=100, save_deltas=True, **where)
        return Plan((quick, replace(quick, seed=1)))
    if mode == "gpu":
        paper = LMRunSpec("paper", 0, vocab=50_257, context=256, device="cuda", **where)
        return Plan((paper,))
    if mode == "tiny":
        tiny = LMRunSpec(
            "tiny",
            0,
            steps=60,
            warmup=10,
            every=5,
            vocab=320,
            context=32,
            shift_step=40,
            save_deltas=True,
            eval_batches=2,
            file_limit=12,
            **where,
        )
        return Plan((tiny,), windows=(4, 6))
    raise ValueError(f"unknown mode {mode!r}: choose full, quick, tiny or gpu")
