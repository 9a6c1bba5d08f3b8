"""`spectral-edge demo`: modular addition mod 97 on the CPU through the real pipeline, live.

Training (watched by the producer, with the commutator-defect probe) -> analyzer (ZeroMQ, Redis)
-> api -> a local receiver that verifies each signed webhook and prints it as it arrives. Training
stops once the run has grokked (test accuracy >= 0.98 for 3 evaluations); the demo then prints the
early-warning step beside the test-accuracy jump (first test accuracy >= 0.90).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import torch
import uvicorn
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import producer
from analyzer.core.detectors import MEMORISED, VAL_LOSS_DECLINE
from analyzer.service.config import AnalyzerSettings
from analyzer.service.server import AnalyzerService
from api.app import create_app
from api.config import ApiSettings
from api.demo.receiver import Receiver
from api.demo.timeline import Timeline
from api.webhooks.signing import new_secret
from producer.probe import CommutatorProbe
from training import TrainConfig, Trainer, modular
from training.loop import Evaluation, grok_step, train_logged

console = Console()


@contextmanager
def logs_through(screen: Console) -> Iterator[None]:
    """Route the root logger's records through `screen` (above a live progress bar, not through it)
    while the block runs; the previous handlers come back after."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [RichHandler(console=screen, show_path=False, rich_tracebacks=False)]
    try:
        yield
    finally:
        root.handlers = saved


def serve_api(redis_url: str, port: int = 0) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Run the api (open, loopback only) with uvicorn in a daemon thread; also its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    settings = ApiSettings(redis_url=redis_url, port=port, open=True, webhook_allow=["127.0.0.1"])
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def train(endpoint: str, timeline: Timeline, steps: int, batch: int, seed: int) -> str:
    """Train with AdamW (weight decay 1.0) until grokked or `steps`, watched by the producer."""
    torch.set_num_threads(1)
    trainer = Trainer(modular("add", 97, 0.5, seed), TrainConfig(batch=batch, seed=seed))
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[stats]}")]
    with (
        producer.watch(trainer.model, trainer.optimizer, every=5, endpoint=endpoint,
                       project="demo") as run,
        Progress(*columns, TimeElapsedColumn(), console=console) as progress,
    ):  # fmt: skip
        bar = progress.add_task("training", total=steps, stats="")

        def on_eval(evaluation: Evaluation) -> None:
            timeline.evaluated(evaluation)
            stats = f"step {evaluation.step} train {evaluation.train_acc:.2f} "
            progress.update(bar, completed=evaluation.step,
                            stats=stats + f"test {evaluation.test_acc:.2f}")  # fmt: skip

        probe = CommutatorProbe(
            trainer.model, lambda model, b: trainer.loss(*b), trainer.batch, log=run.log
        )
        train_logged(trainer, run.log, steps, eval_every=50, probe=probe, on_eval=on_eval)
        if run.run_id is None:
            raise RuntimeError("the producer started no run")
        return run.run_id


def settings_for(redis_url: str) -> AnalyzerSettings:
    """The demo's analyzer: windows 10 and 20, the default (tuned) detectors.

    The small model's edge ratio plateaus near 2 and sinks to ~1.4 before it generalizes, so the
    absolute `edge.collapse` rule gets a threshold of 1.45 here.
    """
    return AnalyzerSettings(
        redis_url=redis_url, bind="tcp://127.0.0.1:*", windows=[10, 20], collapse_threshold=1.45
    )


def report(timeline: Timeline) -> None:
    """Print memorisation, the default grokking warning with its confidence, and the jump."""
    jump = grok_step(timeline.evaluations)
    seen = "" if timeline.jump_seen is None else f" (seen {timeline.jump_seen:.0f} s into the demo)"
    memorised = timeline.first(MEMORISED)
    if memorised is not None:
        console.print(f"memorised (train accuracy >= 0.99): step {memorised.step}")
    console.print(f"test-accuracy jump (first test accuracy >= 0.90): step {jump}{seen}")
    warning = timeline.first(VAL_LOSS_DECLINE)
    if warning is None:
        console.print(f"no {VAL_LOSS_DECLINE} webhook (the default grokking warning) arrived")
        return
    lead = "" if jump is None else f", {jump - warning.step} steps before the jump"
    console.print(
        f"default grokking warning {VAL_LOSS_DECLINE}: step {warning.step}, confidence "
        f"{warning.confidence} (arrived {warning.arrived:.0f} s into the demo){lead}"
    )


def demo(redis_url: str, port: int, steps: int, batch: int, seed: int, exit_after: bool) -> None:
    """Start analyzer, api and receiver, train until grokked, report; keep the api up unless
    `exit_after`."""
    secret = new_secret()
    timeline = Timeline(time.monotonic())
    receiver = Receiver(secret, timeline.on_webhook(console)).start()
    server, thread, base = serve_api(redis_url, port)
    with (
        logs_through(console),
        AnalyzerService(settings_for(redis_url)) as service,
        httpx.Client(base_url=base) as http,
    ):
        body = {"url": receiver.url, "event_types": ["*"], "secret": secret}
        http.post("/api/v1/webhooks", json=body).raise_for_status()
        console.print(f"analyzer {service.endpoint}   api {base}/api/v1/runs")
        console.print(f"receiver {receiver.url}")
        run_id = train(service.endpoint, timeline, steps, batch, seed)
        timeline.wait_for("grokking.generalized", timeout=15)
        console.print(f"run {run_id} done: {base}/api/v1/runs/{run_id}")
        report(timeline)
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
