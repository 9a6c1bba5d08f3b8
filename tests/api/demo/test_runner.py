"""The demo's console: log records print above its live progress bar, through rich."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console
from rich.progress import Progress

from api.demo.runner import logs_through


def test_logs_go_through_the_console_while_the_bar_is_live(
    capsys: pytest.CaptureFixture[str],
) -> None:
    screen = Console(file=io.StringIO(), force_terminal=True, width=120)
    root = logging.getLogger()
    before = root.handlers[:]
    with logs_through(screen), Progress(console=screen) as progress:
        progress.add_task("training", total=10)
        logging.getLogger("api.webhooks.dispatcher").warning("suppressed by the cooldown")
    assert "suppressed by the cooldown" in screen.file.getvalue()
    assert "suppressed" not in capsys.readouterr().err
    assert root.handlers == before
