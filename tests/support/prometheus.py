"""A real Prometheus server (Debian's `prometheus`) on a free loopback port, for scrape tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.polling import eventually

BINARY = shutil.which("prometheus")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape_config(target: str, token: str, interval: str = "1s") -> str:
    """A Prometheus configuration scraping `target` (host:port) `/metrics` with a bearer token."""
    return (
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        "scrape_configs:\n  - job_name: spectral-edge-api\n    metrics_path: /metrics\n"
        f"    authorization:\n      type: Bearer\n      credentials: {token}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )


@contextmanager
def prometheus(config: str, workdir: Path) -> Iterator[str]:
    """Run Prometheus with `config` until the block ends; yields its base URL once it is ready."""
    assert BINARY is not None, "prometheus is not installed"
    (workdir / "prometheus.yml").write_text(config, encoding="utf-8")
    port = free_port()
    command = [
        BINARY, f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]  # fmt: skip
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ready(url, process), timeout=30, interval=0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"prometheus exited with {process.returncode}")
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
