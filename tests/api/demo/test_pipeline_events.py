"""A short real grokking run through the whole pipeline: its webhooks arrive signed and in order.

torch training (producer.watch + the commutator probe + logged accuracies) -> ZeroMQ -> analyzer
-> private Redis -> api dispatcher -> signed webhook -> the demo's verifying receiver.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import torch

import producer
from analyzer.core.detectors import CONFIDENCE, VAL_LOSS_DECLINE
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.server import AnalyzerService
from api.demo.receiver import Receiver
from api.demo.runner import serve_api
from api.demo.timeline import Timeline
from api.webhooks.signing import new_secret
from producer.probe import CommutatorProbe
from training import TrainConfig, Trainer, modular
from training.loop import grok_step, train_logged

# Modular addition mod 23 with a 1-layer d_model 32 transformer: memorised by ~200 steps,
# generalises around 1,600 (seed 0), about 15 s on one thread.
TASK, CONFIG = modular("add", 23, 0.6, 0), TrainConfig(d_model=32, layers=1, lr=3e-3, batch=512)


@pytest.fixture
def redis_url() -> Iterator[str]:
    with EmbeddedRedis() as server:
        yield server.url


def test_grokking_run_sends_the_default_warning_before_generalized(redis_url: str) -> None:
    torch.set_num_threads(1)
    secret = new_secret()
    timeline = Timeline(time.monotonic())
    receiver = Receiver(secret, timeline.record).start()
    server, thread, base = serve_api(redis_url)
    settings = AnalyzerSettings(redis_url=redis_url, bind="tcp://127.0.0.1:*", windows=[10],
                                sweep_interval=3600)  # fmt: skip
    try:
        with AnalyzerService(settings) as service, httpx.Client(base_url=base) as http:
            body = {"url": receiver.url, "event_types": ["*"], "secret": secret}
            http.post("/api/v1/webhooks", json=body).raise_for_status()
            trainer = Trainer(TASK, CONFIG)
            with producer.watch(trainer.model, trainer.optimizer, every=5,
                                endpoint=service.endpoint) as run:  # fmt: skip
                probe = CommutatorProbe(trainer.model, lambda m, b: trainer.loss(*b),
                                        trainer.batch, log=run.log)  # fmt: skip
                evaluations = train_logged(trainer, run.log, 4000, eval_every=25, probe=probe)
            generalized = timeline.wait_for("grokking.generalized", timeout=30)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        receiver.stop()
    jump = grok_step(evaluations)
    assert jump is not None, "the short run did not generalise"
    assert generalized is not None, "no grokking.generalized webhook arrived"
    assert generalized.step == jump
    assert all(a.verified for a in timeline.arrivals)
    warning = timeline.first(VAL_LOSS_DECLINE)
    assert warning is not None, "the default grokking warning did not arrive"
    assert warning.step < generalized.step
    assert warning.confidence == CONFIDENCE["val_loss_decline"]
    predictive = {"edge.decline", "commutator.rise", VAL_LOSS_DECLINE}
    assert all(a.step < generalized.step for a in timeline.arrivals if a.type in predictive)
