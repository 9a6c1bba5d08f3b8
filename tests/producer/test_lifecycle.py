"""Watch lifecycle: groups, callback-driven steps, failure at exit, and never hurting training."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

import producer
from producer.sketch import CountSketch
from producer.spool import read_messages
from producer.wire import Kind
from tests.producer.conftest import tiny_model, train_step

TIMINGS = {"SPECTRAL_EDGE_LINGER_MS": "0", "SPECTRAL_EDGE_RESEND_AFTER": "0.2"}


def test_each_group_gets_its_own_sketch(router: Any) -> None:
    model, optimizer = tiny_model(hidden=6)
    groups = {"layer": r"^(\d+)\.", "weights": lambda name, p: name.endswith("weight")}
    with producer.watch(model, optimizer, groups=groups, every=1, dim=16, endpoint=router.endpoint,
                        run_id="run-groups", env=TIMINGS):  # fmt: skip
        train_step(model, optimizer)
    messages = router.received()
    assert messages[0].body["groups"] == ["layer.0", "layer.2", "weights"]
    last = {m.group: m.payload for m in messages if m.kind is Kind.SKETCH and m.step == 1}
    sketch = CountSketch(16)
    named = dict(model.named_parameters())
    expected = {
        "layer.0": sketch.sketch_parameters([(n, named[n]) for n in ("0.weight", "0.bias")]),
        "layer.2": sketch.sketch_parameters([(n, named[n]) for n in ("2.weight", "2.bias")]),
        "weights": sketch.sketch_parameters([(n, named[n]) for n in ("0.weight", "2.weight")]),
    }
    assert last.keys() == expected.keys()
    for group, vector in expected.items():
        np.testing.assert_allclose(last[group], vector, rtol=1e-12)


def test_advance_drives_snapshots_without_a_hook(router: Any) -> None:
    model, _ = tiny_model(hidden=6)
    watched = producer.watch(model, every=5, endpoint=router.endpoint, step=10, env=TIMINGS)
    for global_step in (11, 15, 15, 14, 20, 21):
        watched.advance(global_step)
    watched.close()
    sketches = [(m.step, m.index) for m in router.received() if m.kind is Kind.SKETCH]
    assert sketches == [(10, 2), (15, 3), (20, 4)]


def test_secrets_stay_out_of_the_start_message(tmp_path: Path) -> None:
    public, secret = zmq.curve_keypair()
    model, optimizer = tiny_model(hidden=6)
    options = {"public_key": public.decode(), "secret_key": secret.decode()}
    with producer.watch(model, optimizer, run_id="run-keys", mode="offline",
                        spool_dir=str(tmp_path), **options):  # fmt: skip
        pass
    start = next(read_messages(tmp_path / "run-keys.rank0.msgpack"))
    assert start.kind is Kind.START and "secret_key" not in start.body["config"]
    assert start.body["config"]["public_key"] == public.decode()


def test_uncaught_exception_closes_the_run_as_failed(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import torch, producer
        model = torch.nn.Linear(2, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        producer.watch(model, optimizer, run_id="run-crash", mode="offline",
                       spool_dir={str(tmp_path)!r})
        raise RuntimeError("training blew up")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "training blew up" in done.stderr
    messages = list(read_messages(tmp_path / "run-crash.rank0.msgpack"))
    assert [m.kind for m in messages] == [Kind.START, Kind.SKETCH, Kind.FINISH]
    assert messages[-1].body["status"] == "failed"


def test_unwritable_spool_never_reaches_training(tmp_path: Path, caplog: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    model, optimizer = tiny_model(hidden=6)
    watched = producer.watch(model, optimizer, every=1, mode="offline", spool_dir=str(blocker))
    for _ in range(3):
        train_step(model, optimizer)
    watched.log(3, val_loss=1.0)
    watched.close()
    assert sum("spool" in r.message and "failed" in r.message for r in caplog.records) == 1


def test_absent_analyzer_costs_a_bounded_exit(dead_endpoint: str) -> None:
    model, optimizer = tiny_model(hidden=6)
    env = {**TIMINGS, "SPECTRAL_EDGE_CLOSE_TIMEOUT": "0.5"}
    watched = producer.watch(model, optimizer, every=1, endpoint=dead_endpoint, env=env)
    for _ in range(20):
        train_step(model, optimizer)
    began = time.monotonic()
    watched.close()
    assert time.monotonic() - began < 2.0
