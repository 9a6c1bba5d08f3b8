"""The `spectral-edge` command: as a process SIGTERM stops the embedded Redis with it; bad
options are refused before anything starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from typer.testing import CliRunner

from analyzer.service.embedded_redis import free_port
from api.cli import app
from tests.support.polling import eventually


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_sigterm_stops_the_embedded_redis_of_up() -> None:
    command = [sys.executable, "-c", "from api.cli import app; app()", "up", "--open",
               "--port", str(free_port()), "--bind", f"tcp://127.0.0.1:{free_port()}"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        redis_port = int(lines[0].split(":")[-1].split("/")[0])
        assert lines[0].startswith("embedded redis") and lines[3].startswith("dashboard"), lines
        assert not _refused(redis_port)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert eventually(lambda: _refused(redis_port), timeout=10)
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_invalid_strides_are_refused_before_anything_starts() -> None:
    for bad in ("1,0", "1,x", "1001"):
        result = CliRunner().invoke(app, ["analyzer", "--strides", bad])
        assert result.exit_code == 2 and "error:" in result.output
