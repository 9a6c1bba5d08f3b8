"""Small generated tasks that grok on a CPU in minutes, and the transformer that learns them.

`build(name, seed)` returns a `Task` (disjoint train and test `Split`s, vocabulary and class
counts); `Transformer` classifies from the last position; `Trainer` runs AdamW on mini-batches.
"""

from training.dyck import dyck_depth
from training.model import Transformer
from training.modular import OPERATIONS, modular, modular_addition
from training.registry import TASKS, build
from training.scan import scan_actions
from training.split import Split, Task
from training.trainer import TrainConfig, Trainer

__all__ = [
    "OPERATIONS",
    "TASKS",
    "Split",
    "Task",
    "TrainConfig",
    "Trainer",
    "Transformer",
    "build",
    "dyck_depth",
    "modular",
    "modular_addition",
    "scan_actions",
]
