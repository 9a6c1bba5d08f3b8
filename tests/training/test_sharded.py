"""The README's distributed example under torchrun: both ranks send every snapshot."""

from __future__ import annotations

import subprocess
import sys

import pytest

from producer.wire import Kind
from tests.support.zmq_router import Router


@pytest.mark.parametrize(("layout", "senders"), [("fsdp1", {0, 1}), ("zero3", {0, 1})])
def test_torchrun_example_sends_every_snapshot_from_every_rank(
    layout: str, senders: set[int]
) -> None:
    router = Router()
    try:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", "2", "-m", "training.sharded", "--layout", layout,
                   "--steps", "20", "--every", "10", "--endpoint", router.endpoint]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"{layout}: run " in done.stdout
        messages = router.received()
    finally:
        router.close()
    sketches = {(m.index, m.rank) for m in messages if m.kind is Kind.SKETCH}
    assert sketches == {(index, rank) for index in range(3) for rank in senders}
    assert [m.kind for m in messages if m.kind in (Kind.START, Kind.FINISH)] == [
        Kind.START,
        Kind.FINISH,
    ]
    (start,) = [m for m in messages if m.kind is Kind.START]
    assert start.body["layout"] == "sharded" and start.body["world"] == 2
