"""Training tasks sit beside the services: they use the producer and never the api or analyzer."""

from __future__ import annotations

from pathlib import Path

import pytest

import training
from tests.support.imports import imported_modules

MODULES = sorted(Path(training.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_training_imports_neither_api_nor_analyzer(path: Path) -> None:
    roots = {name.split(".")[0] for name in imported_modules(path.read_text(encoding="utf-8"))}
    assert not roots & {"api", "analyzer", "benchmarks", "tests"}
