"""Two real processes on gloo: DDP, FSDP2 (analyzer-side sums, in-job all-reduce) and FSDP1.

The partial sketches the ranks send, summed the way the analyzer sums them, must equal the
single-process sketch of the same full parameters to 1e-12 relative.
"""

from __future__ import annotations

import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from producer.sketch import CountSketch
from producer.wire import Kind, Message
from tests.support import distributed
from tests.support.zmq_router import Router

WORLD = 2


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The two-rank scenarios, run once: the messages and each rank's records by scenario."""
    names = ("ddp", "sharded", "allreduce", "fsdp1-flat", "fsdp1-orig")
    return spawn(names, WORLD, tmp_path_factory.mktemp("distributed"))


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """FSDP1 HYBRID_SHARD on four ranks: two replicas, each sharded over two ranks."""
    return spawn(("fsdp1-hybrid",), 4, tmp_path_factory.mktemp("hybrid"))


@pytest.fixture(scope="module")
def zero3(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """DeepSpeed ZeRO-3 on two ranks, with DeepSpeed's CPU accelerator."""
    return spawn(("zero3",), WORLD, tmp_path_factory.mktemp("zero3"))


def spawn(names: tuple[str, ...], world: int, out: Path) -> dict[str, Any]:
    router = Router()
    try:
        mp.spawn(distributed.worker, args=(world, free_port(), router.endpoint, str(out), names),
                 nprocs=world, join=True)  # fmt: skip
        messages = router.received()
    finally:
        router.close()
    ranks = [torch.load(out / f"rank{r}.pt") for r in range(world)]
    return {"messages": messages, "ranks": ranks}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def reference(recorded: list[tuple[str, torch.Tensor]]) -> np.ndarray:
    return CountSketch(distributed.DIM, seed=distributed.SEED).sketch_parameters(recorded)


def assembled(messages: list[Message], run: str) -> dict[int, tuple[np.ndarray, set[int]]]:
    """Per snapshot index: the sum of partial sketches (in rank order) and the senders' ranks."""
    parts: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
    for m in messages:
        if m.run == run and m.kind is Kind.SKETCH:
            parts[m.index][m.rank] = m.payload
    return {i: (np.sum([p[r] for r in sorted(p)], axis=0), set(p)) for i, p in parts.items()}


def check(outcome: dict[str, Any], scenario: str, senders: set[int], owners: int) -> None:
    rank0 = outcome["ranks"][0][scenario]
    messages = [m for m in outcome["messages"] if m.run == rank0["run"]]
    sums = assembled(messages, rank0["run"])
    assert sorted(sums) == [step // distributed.EVERY for step in rank0["recorded"]]
    for step, recorded in rank0["recorded"].items():
        total, ranks = sums[step // distributed.EVERY]
        expected = reference(recorded)
        assert ranks == senders
        assert np.linalg.norm(total - expected) <= 1e-12 * np.linalg.norm(expected)
    assert {m.owners for m in messages if m.kind is Kind.SKETCH} == {owners}
    announced = [(m.kind, m.rank) for m in messages if m.kind in (Kind.START, Kind.FINISH)]
    assert announced == [(Kind.START, 0), (Kind.FINISH, 0)]


def test_ddp_rank0_sketches_and_the_run_id_is_shared(outcome: dict[str, Any]) -> None:
    runs = {outcome["ranks"][r]["ddp"]["run"] for r in range(WORLD)}
    assert len(runs) == 1 and next(iter(runs)).startswith("run-")
    check(outcome, "ddp", senders={0}, owners=1)


def test_fsdp2_partial_sketches_sum_to_the_single_process_sketch(outcome: dict[str, Any]) -> None:
    check(outcome, "sharded", senders={0, 1}, owners=WORLD)


def test_fsdp2_in_job_all_reduce_sends_complete_sketches(outcome: dict[str, Any]) -> None:
    check(outcome, "allreduce", senders={0}, owners=1)


@pytest.mark.parametrize("kind", ["flat", "orig"])
def test_fsdp1_partial_sketches_sum_to_the_single_process_sketch(
    outcome: dict[str, Any], kind: str
) -> None:
    check(outcome, f"fsdp1-{kind}", senders={0, 1}, owners=WORLD)


def test_fsdp1_hybrid_shard_counts_each_element_once(hybrid: dict[str, Any]) -> None:
    check(hybrid, "fsdp1-hybrid", senders={0, 1, 2, 3}, owners=4)


def test_sharded_groups_see_unwrapped_names_and_modules(
    outcome: dict[str, Any], hybrid: dict[str, Any], zero3: dict[str, Any]
) -> None:
    """A module filter (the unwrapped first layer) and a regex find the original parameters."""
    ranks = [(outcome, r, k) for r in range(WORLD) for k in ("sharded", "fsdp1-flat", "fsdp1-orig")]
    ranks += [(hybrid, r, "fsdp1-hybrid") for r in range(4)]
    ranks += [(zero3, r, "zero3") for r in range(WORLD)]
    for result, rank, scenario in ranks:
        groups = result["ranks"][rank][scenario]["groups"]
        assert groups == {"first": ["0.weight", "0.bias"], "second": ["2.weight", "2.bias"]}


def test_deepspeed_zero3_partitions_sum_to_the_single_process_sketch(
    zero3: dict[str, Any],
) -> None:
    check(zero3, "zero3", senders={0, 1}, owners=WORLD)
