"""The whole pipeline with real parts only.

torch training -> producer -> ZeroMQ -> analyzer -> Redis -> uvicorn api -> signed webhook at a real
HTTP receiver on loopback.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest
import torch

import producer
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.server import AnalyzerService
from api.demo.runner import serve_api
from api.webhooks.signing import verify
from producer.sketch import CountSketch

WINDOW, EVERY, DIM, SEED, STEPS = 4, 2, 64, 7, 24


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while (value := check()) in (None, False, []) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


@pytest.fixture
def redis_url() -> Iterator[str]:
    with EmbeddedRedis() as embedded:
        yield embedded.url


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_url(redis_url: str) -> Iterator[str]:
    server, thread, url = serve_api(redis_url)
    yield url
    server.should_exit = True
    thread.join(timeout=15)


def numpy_metrics(snapshots: list[np.ndarray], end: int) -> tuple[np.ndarray, float, int]:
    """Singular values, edge ratio and weighted k* of the window ending at `end`, by numpy."""
    updates = np.diff(np.stack(snapshots[end - WINDOW : end + 1]), axis=0)
    sigma = np.linalg.svd(updates, compute_uv=False)
    ratios = sigma[:-1] / sigma[1:]
    k = int(np.argmax(sigma[:-1] / sigma.sum() * ratios))
    return sigma, float(ratios[k]), k + 1


def test_training_run_reaches_the_api_and_a_signed_alert_arrives(
    redis_url: str, api_url: str, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    torch.set_num_threads(1)
    url, got = receiver
    http = httpx.Client(base_url=api_url, timeout=10)
    hook = http.post("/api/v1/webhooks", json={"url": url, "event_types": ["edge.collapse"]}).json()
    settings = AnalyzerSettings(
        redis_url=redis_url, bind="tcp://127.0.0.1:*", windows=[WINDOW], sweep_interval=3600,
        plateau_min=0, plateau_windows=1, collapse_threshold=1e9,
    )  # fmt: skip
    run_id = f"e2e-{uuid.uuid4().hex[:8]}"
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    reference = CountSketch(DIM, SEED)
    with AnalyzerService(settings) as service:
        snapshots = [reference.sketch_parameters(model.named_parameters())]
        with producer.watch(
            model, optimizer, every=EVERY, run_id=run_id, endpoint=service.endpoint,
            dim=DIM, seed=SEED,
        ) as run:  # fmt: skip
            for step in range(1, STEPS + 1):
                x = torch.randn(32, 8)
                loss = ((model(x) - x.sum(1, keepdim=True).sin()) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.log(step, loss=loss.item())
                if step % EVERY == 0:
                    snapshots.append(reference.sketch_parameters(model.named_parameters()))
        expected_ends = list(range(WINDOW, len(snapshots)))

        def served() -> list[dict[str, Any]] | None:
            params = {"window": WINDOW}
            records = http.get(f"/api/v1/runs/{run_id}/metrics", params=params).json()
            found = records.get("records", [])
            return found if len(found) == len(expected_ends) else None

        records = eventually(served)
        assert records, "the api never served every window"
        assert [r["index"] for r in records] == expected_ends
        for record in records:
            sigma, edge_ratio, k_star = numpy_metrics(snapshots, record["index"])
            np.testing.assert_allclose(record["sigma"], sigma, rtol=1e-9)
            assert record["edge_ratio"] == pytest.approx(edge_ratio, rel=1e-9)
            assert record["k_star"]["weighted"] == k_star
            assert record["step"] == record["index"] * EVERY
        assert http.get(f"/api/v1/runs/{run_id}").json()["state"] == "finished"

        assert eventually(lambda: got), "no webhook reached the receiver"
        headers, body = got[0]
        verify(hook["secret"], headers, body, now=int(time.time()))
        envelope = json.loads(body)
        assert envelope["type"] == "edge.collapse"
        assert envelope["data"]["run_id"] == run_id
        assert envelope["data"]["window"] == WINDOW
