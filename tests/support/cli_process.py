"""`spectral-edge` as a real process for tests: its first lines of output, SIGTERM at the end.

The child gets this environment without any `SPECTRAL_EDGE_*` variable, so only the arguments
configure it; it is stopped by its own pid (SIGTERM, then SIGKILL if it lingers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

COMMAND = [sys.executable, "-c", "from api.cli import app; app()"]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment less `SPECTRAL_EDGE_*`, unbuffered, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_EDGE_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@contextlib.contextmanager
def spectral_edge(*args: str, lines: int) -> Iterator[list[str]]:
    """Run `spectral-edge ARGS`; yield its first `lines` lines of stdout (stderr is inherited)."""
    process = subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, text=True, env=clean_environment()
    )
    assert process.stdout is not None
    try:
        yield [process.stdout.readline().rstrip("\n") for _ in range(lines)]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
