"""A real Alertmanager (Debian's `prometheus-alertmanager`) on a free loopback port.

Started with a temporary configuration (one receiver that notifies nobody) and storage path,
clustering off; stopped and its directory removed on exit.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from analyzer.service.embedded_redis import stop_process
from tests.support.receiver import free_port

CONFIG = """\
route:
  receiver: nobody
  group_wait: 1h
receivers:
  - name: nobody
"""


def alertmanager_binary() -> str | None:
    """Path of the Alertmanager executable, if installed."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


class Alertmanager:
    """`with Alertmanager() as am:` serves `am.url` until the block ends."""

    def __init__(self, binary: str, start_timeout: float = 20.0) -> None:
        self.binary = binary
        self.start_timeout = start_timeout
        self.url = ""
        self._dir = Path(tempfile.mkdtemp(prefix="se-alertmanager-"))
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Alertmanager:
        port = free_port()
        config = self._dir / "alertmanager.yml"
        config.write_text(CONFIG)
        self.url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        assert self._process is not None
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("alertmanager did not become ready")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=10)
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)
