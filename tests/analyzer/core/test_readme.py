"""The README's spectral-core snippet runs as printed."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_spectral_core_snippet_runs() -> None:
    section = README.read_text(encoding="utf-8").split("## Spectral core", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet is not None
    namespace: dict[str, object] = {}
    exec(compile(snippet.group(1), str(README), "exec"), namespace)
    assert namespace["rg"].full and isinstance(namespace["state"], bytes)  # type: ignore[attr-defined]
