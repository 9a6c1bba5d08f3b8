"""The modules a Python source imports, read from its syntax tree (nothing is imported)."""

from __future__ import annotations

import ast


def imported_modules(source: str) -> list[str]:
    """Absolute names of every module `source` imports; `from pkg import x` counts as `pkg.x`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found
