"""The `spectral-edge` command: as a process SIGTERM stops the embedded Redis with it; bad
options are refused before anything starts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
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


def test_export_writes_the_series_or_the_scalars(
    api_url: str,
    read_token: str,
    run_id: str,
    seeded: list,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = ["--url", api_url, "--token", read_token]
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["export", run_id, *common])
    assert done.exit_code == 0, done.output
    written = tmp_path / f"{run_id}-all-W10-s1.csv"
    assert written.read_text().splitlines()[0].startswith("run_id,group,window,stride,index,step")
    assert len(written.read_text().splitlines()) == 1 + len(seeded)
    out = tmp_path / "scalars.parquet"
    args = ["export", run_id, "--scalars", "--format", "parquet", "--out", str(out), *common]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert pq.read_table(out).column("step").to_pylist() == [10, 20, 30]
    missing = CliRunner().invoke(app, ["export", "no-such-run", *common])
    assert missing.exit_code == 1 and "404 RESOURCE_DOES_NOT_EXIST" in missing.output


def test_bridge_once_into_tensorboard(
    api_url: str, read_token: str, run_id: str, seeded: list, tmp_path: Path
) -> None:
    common = ["--url", api_url, "--token", read_token, "--state", str(tmp_path / "state.json")]
    done = CliRunner().invoke(app, ["bridge", "--once", "--tensorboard", str(tmp_path), *common])
    assert done.exit_code == 0, done.output
    assert list((tmp_path / "api-test" / run_id).glob("events.out.tfevents.*"))
    assert run_id in (tmp_path / "state.json").read_text()
    nothing = CliRunner().invoke(app, ["bridge", "--once", *common])
    assert nothing.exit_code == 2 and "--tensorboard" in nothing.output
