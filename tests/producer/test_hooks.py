"""`watch()` on a tiny torch model, delivering to a real ZeroMQ ROUTER."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import torch

import producer
from producer.errors import ConfigError
from producer.sketch import CountSketch
from producer.wire import Kind, Message, decode
from tests.producer.conftest import tiny_model, train_step

TIMINGS = {"SPECTRAL_EDGE_LINGER_MS": "0", "SPECTRAL_EDGE_RESEND_AFTER": "0.2"}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def of_kind(messages: list[Message], kind: Kind) -> list[Message]:
    return [message for message in messages if message.kind is kind]


def test_watch_sends_start_then_snapshots_every_few_steps(router: Any) -> None:
    model, optimizer = tiny_model()
    reference = CountSketch(64, seed=3)
    expected = {0: reference.sketch_parameters(model.named_parameters())}
    env = {**TIMINGS, "SPECTRAL_EDGE_PROJECT": "tests"}
    watched = producer.watch(
        model, optimizer, every=3, dim=64, seed=3, endpoint=router.endpoint, run_id="run-w", env=env
    )
    for step in range(1, 8):
        train_step(model, optimizer)
        if step % 3 == 0:
            expected[step] = reference.sketch_parameters(model.named_parameters())
    watched.log(7, val_loss=0.5, lr=torch.tensor(0.1))
    watched.close()
    messages = router.received()
    assert [m.seq - messages[0].seq for m in messages] == list(range(len(messages)))
    start = messages[0]
    assert start.kind is Kind.START and start.run == "run-w"
    assert {k: start.body[k] for k in ("project", "every", "d", "seed", "method", "groups")} == {
        "project": "tests",
        "every": 3,
        "d": 64,
        "seed": 3,
        "method": "countsketch-srht",
        "groups": ["all"],
    }
    assert start.body["world"] == 1 and start.body["config"]["dim"] == 64
    sketches = of_kind(messages, Kind.SKETCH)
    assert [(m.step, m.index, m.group, m.d, m.seed) for m in sketches] == [
        (step, step // 3, "all", 64, 3) for step in (0, 3, 6)
    ]
    for message in sketches:
        np.testing.assert_allclose(message.payload, expected[message.step], rtol=1e-12)
    (scalars,) = of_kind(messages, Kind.SCALARS)
    assert scalars.step == 7
    assert scalars.body["values"] == pytest.approx({"val_loss": 0.5, "lr": 0.1})
    assert messages[-1].kind is Kind.FINISH and messages[-1].body["status"] == "finished"


def test_close_removes_the_hook(router: Any) -> None:
    model, optimizer = tiny_model()
    watched = producer.watch(model, optimizer, every=1, endpoint=router.endpoint, env=TIMINGS)
    train_step(model, optimizer)
    watched.close()
    count = len(router.received())
    train_step(model, optimizer)
    watched.log(2, loss=1.0)
    assert len(router.received()) == count
    assert watched.closed and not optimizer._optimizer_step_post_hooks


def test_context_manager_marks_failure(router: Any) -> None:
    model, optimizer = tiny_model()
    watched = producer.watch(model, optimizer, endpoint=router.endpoint, env=TIMINGS)
    with pytest.raises(RuntimeError, match="boom"), watched:
        raise RuntimeError("boom")
    finish = of_kind(router.received(), Kind.FINISH)
    assert [m.body["status"] for m in finish] == ["failed"]


def test_module_level_log_uses_the_active_watch(
    router: Any, caplog: pytest.LogCaptureFixture
) -> None:
    producer.log(0, loss=1.0)  # no active watch: a no-op
    model, optimizer = tiny_model()
    with producer.watch(model, optimizer, endpoint=router.endpoint, env=TIMINGS):
        producer.log(1, loss=2.0, bad=float("nan"), worse=float("inf"), text="x")
        producer.log(2, loss=float("nan"))
    producer.log(3, loss=1.0)
    values = [m.body["values"] for m in of_kind(router.received(), Kind.SCALARS)]
    assert [sorted(v) for v in values] == [["bad", "loss", "worse"], ["loss"]]
    assert values[0]["loss"] == 2.0 and math.isnan(values[0]["bad"]) and values[0]["worse"] > 1e308
    assert math.isnan(values[1]["loss"])  # a NaN loss is data: `nonfinite` rules alert on it
    assert sum("dropped scalar" in r.message for r in caplog.records) == 1


def test_disabled_mode_opens_no_socket_and_no_thread() -> None:
    model, optimizer = tiny_model()
    before = threading.active_count()
    watched = producer.watch(model, optimizer, env={"SPECTRAL_EDGE_MODE": "disabled"})
    train_step(model, optimizer)
    watched.log(1, loss=1.0)
    watched.close()
    assert not watched.enabled and watched._sink is None
    assert threading.active_count() == before
    assert not optimizer._optimizer_step_post_hooks


def test_non_zero_rank_is_a_no_op() -> None:
    model, optimizer = tiny_model()
    watched = producer.watch(model, optimizer, env={"RANK": "1", "WORLD_SIZE": "2", **TIMINGS})
    assert not watched.enabled and (watched.rank, watched.world) == (1, 2)
    watched.close()


def test_error_in_the_hook_never_reaches_the_training_loop(
    router: Any, caplog: pytest.LogCaptureFixture
) -> None:
    model, optimizer = tiny_model()
    watched = producer.watch(model, optimizer, every=1, endpoint=router.endpoint, env=TIMINGS)

    def broken() -> dict[str, np.ndarray]:
        raise RuntimeError("sketch exploded")

    watched._snapshotter.take = broken  # type: ignore[union-attr, method-assign]
    for _ in range(3):
        train_step(model, optimizer)
    watched.log(3, loss=1.0)
    watched.close()
    errors = [r for r in caplog.records if "stopped sketching" in r.message]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    kinds = [m.kind for m in router.received()]
    assert kinds == [Kind.START, Kind.SKETCH, Kind.SCALARS, Kind.FINISH]


def test_non_finite_parameters_skip_the_snapshot(
    router: Any, caplog: pytest.LogCaptureFixture
) -> None:
    model, optimizer = tiny_model()
    watched = producer.watch(model, optimizer, every=1, endpoint=router.endpoint, env=TIMINGS)
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    optimizer.step()
    watched.close()
    assert [m.step for m in of_kind(router.received(), Kind.SKETCH)] == [0]
    assert any("non-finite sketch" in r.message for r in caplog.records)


def test_offline_mode_spools_messages(tmp_path: Path) -> None:
    model, optimizer = tiny_model()
    env = {"SPECTRAL_EDGE_MODE": "offline", "SPECTRAL_EDGE_SPOOL_DIR": str(tmp_path)}
    with producer.watch(model, optimizer, every=1, run_id="run-off", env=env):
        train_step(model, optimizer)
    with (tmp_path / "run-off.rank0.msgpack").open("rb") as handle:
        messages = [decode(frames) for frames in msgpack.Unpacker(handle)]
    assert [m.kind for m in messages] == [Kind.START, Kind.SKETCH, Kind.SKETCH, Kind.FINISH]


def test_bad_configuration_degrades_to_a_no_op(caplog: pytest.LogCaptureFixture) -> None:
    model, optimizer = tiny_model()
    watched = producer.watch(model, optimizer, env={"SPECTRAL_EDGE_EVERY": "0"})
    bogus = producer.watch(model, optimizer, env={}, evry=3)
    train_step(model, optimizer)
    assert not watched.enabled and not bogus.enabled
    assert not optimizer._optimizer_step_post_hooks
    errors = [r for r in caplog.records if "bad configuration" in r.message]
    assert len(errors) == 2 and isinstance(errors[0].exc_info[1], ConfigError)


def test_importing_producer_does_not_import_torch() -> None:
    code = "import sys, producer; print('torch' in sys.modules, producer.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "0.1.0"], result.stderr
