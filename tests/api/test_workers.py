"""`spectral-edge api --workers N`: N real uvicorn worker processes behind one port, each with its
own webhook consumer in the fleet's group (so each alert is delivered once), all answering."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import redis

from analyzer.service.embedded_redis import free_port
from tests.support.polling import eventually

WORKERS = 2


def test_workers_share_the_port_and_the_consumer_group(private_redis: str) -> None:
    port = free_port()
    command = [sys.executable, "-c", "from api.cli import app; app()", "api", "--open",
               "--port", str(port), "--redis-url", private_redis,
               "--workers", str(WORKERS)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(private_redis)
    try:

        def consumers() -> list[str]:
            try:
                found = client.xinfo_consumers("se:alerts", "webhooks")
            except redis.ResponseError:  # the group is created by the first worker up
                return []
            return sorted(c["name"].decode() for c in found)

        names = eventually(lambda: len(consumers()) == WORKERS and consumers(), timeout=60.0)
        pids = {name.rpartition("/")[2] for name in names}
        assert len(pids) == WORKERS  # one consumer per worker process, named by its pid
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
            for _ in range(20):
                assert http.get("/api/v1/runs").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        client.close()
