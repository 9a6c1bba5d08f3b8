"""`spectral-edge demo`: train modular addition on the CPU through the real pipeline, live."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import torch
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import producer
from analyzer.config import AnalyzerSettings
from analyzer.service import AnalyzerService
from api.app import create_app
from api.config import ApiSettings
from api.demo.model import Transformer
from api.demo.receiver import Receiver
from api.demo.task import modular_addition
from api.webhooks.signing import new_secret

console = Console()


def serve_api(redis_url: str, port: int = 0) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Run the api with uvicorn in a daemon thread until `server.should_exit`; also its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    app = create_app(ApiSettings(redis_url=redis_url, port=port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def on_alert(envelope: dict[str, Any], verified: bool) -> None:
    """Print one webhook delivery as it arrives."""
    data = envelope.get("data", {})
    mark = "signature verified" if verified else "SIGNATURE INVALID"
    console.print(
        f"[bold red]webhook[/] {envelope.get('type')} at step {data.get('step')} "
        f"(W={data.get('window')}): {data.get('message')} ({mark})"
    )


def accuracy(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(inputs).argmax(-1) == targets).float().mean())


def train(endpoint: str, http: httpx.Client, steps: int, batch: int, seed: int) -> str:
    """Train with AdamW (weight decay 1.0) on mini-batches, instrumented by `producer.watch`."""
    torch.manual_seed(seed)
    train_set, test_set = modular_addition(97, 0.5, seed)
    model = Transformer(99, 97)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stats]}")]
    with (
        producer.watch(model, optimizer, every=5, endpoint=endpoint, project="demo") as run,
        Progress(*columns, TimeElapsedColumn(), console=console) as progress,
    ):
        task = progress.add_task("training", total=steps, stats="")
        for step in range(1, steps + 1):
            rows = torch.randint(len(train_set.targets), (batch,))
            logits = model(train_set.inputs[rows])
            loss = torch.nn.functional.cross_entropy(logits, train_set.targets[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 50 == 0 or step == steps:
                train_acc = accuracy(model, train_set.inputs, train_set.targets)
                test_acc = accuracy(model, test_set.inputs, test_set.targets)
                run.log(step, train_accuracy=train_acc, test_accuracy=test_acc, loss=loss.item())
                stats = f"step {step} train {train_acc:.2f} test {test_acc:.2f} {edge(http, run)}"
                progress.update(task, stats=stats)
            progress.advance(task)
        return run.run_id


def edge(http: httpx.Client, run: producer.Watch) -> str:
    """The latest k* and edge ratio the api serves for the run (W=10)."""
    try:
        records = http.get(f"/api/v1/runs/{run.run_id}/metrics", params={"window": 10}).json()
        last = records["records"][-1]
    except (httpx.HTTPError, KeyError, IndexError):
        return "k* -  R -"
    return f"k* {last['k_star']['weighted']}  R {last['edge_ratio']:.2f}"


def demo(redis_url: str, port: int, steps: int, batch: int, seed: int, exit_after: bool) -> None:
    """Start analyzer, api and receiver, train, and keep the api up unless `exit_after`."""
    torch.set_num_threads(1)
    # This small model's edge ratio plateaus near 1.8 and sinks to ~1.4 before it generalizes.
    settings = AnalyzerSettings(
        redis_url=redis_url, bind="tcp://127.0.0.1:*", windows=[10, 20], collapse_threshold=1.45
    )
    secret = new_secret()
    receiver = Receiver(secret, on_alert).start()
    server, thread, base = serve_api(redis_url, port)
    started = time.monotonic()
    with AnalyzerService(settings) as service, httpx.Client(base_url=base, timeout=5) as http:
        body = {"url": receiver.url, "event_types": ["*"], "secret": secret}
        http.post("/api/v1/webhooks", json=body).raise_for_status()
        console.print(
            f"analyzer {service.endpoint}   api {base}/api/v1/runs   receiver {receiver.url}"
        )
        run_id = train(service.endpoint, http, steps, batch, seed)
        time.sleep(2)
        console.print(
            f"run {run_id} done in {time.monotonic() - started:.0f} s: {base}/api/v1/runs/{run_id}"
        )
        if not exit_after:
            console.print("api stays up for browsing; Ctrl-C stops it")
            try:
                while thread.is_alive():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
    server.should_exit = True
    thread.join(timeout=10)
    receiver.stop()
