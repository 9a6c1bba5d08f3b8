"""Small generated tasks that grok on a CPU in minutes, and the transformer that learns them.

`build(name, seed)` returns a `Task` (disjoint train and test `Split`s, vocabulary and class
counts); `Transformer` classifies from the last position; `Trainer` runs AdamW on mini-batches.
"""

from api.tasks.dyck import dyck_depth
from api.tasks.model import Transformer
from api.tasks.modular import OPERATIONS, modular, modular_addition
from api.tasks.registry import TASKS, build
from api.tasks.scan import scan_actions
from api.tasks.split import Split, Task
from api.tasks.training import TrainConfig, Trainer

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
