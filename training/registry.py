"""Tasks by name: `modular-<op>` for each operation, `dyck-depth` and `scan`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from training.dyck import dyck_depth
from training.modular import OPERATIONS, modular
from training.scan import scan_actions
from training.split import Task

TASKS: dict[str, Callable[..., Task]] = {
    **{f"modular-{op}": partial(modular, op) for op in OPERATIONS},
    "dyck-depth": dyck_depth,
    "scan": scan_actions,
}


def build(name: str, seed: int = 0, **options: Any) -> Task:
    """The task `name` with split seed `seed`; `options` go to its generator."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name](seed=seed, **options)
