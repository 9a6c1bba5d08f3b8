"""Whether the process is ending in failure: an uncaught exception reached `sys.excepthook`.

`watch()` chains the hook once, so the atexit close of a watch that saw an uncaught exception
reports the run `failed` rather than `finished`.
"""

from __future__ import annotations

import sys
from typing import Any

_uncaught: list[BaseException] = []


def watch_uncaught() -> None:
    """Chain `sys.excepthook` (once) to remember uncaught exceptions."""
    previous = sys.excepthook
    if getattr(previous, "_spectral_edge", False):
        return

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        _uncaught.append(value)
        previous(kind, value, tb)

    hook._spectral_edge = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def ending_in_failure() -> bool:
    """True once an uncaught exception has been seen."""
    return bool(_uncaught)
