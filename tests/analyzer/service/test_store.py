"""Store on three backends (shared Redis, private server, Redis Cluster): at-most-once apply,
watermarked seen sets, retention, exactly-once records, crash marking, the global indexes."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.records import KStar, RunState, WindowRecord
from analyzer.service import keys
from analyzer.service.scripts import Limits
from analyzer.service.store import Client, Store
from producer.wire import Kind, Message
from tests.support.seeding import apply_message, write_record

START_BODY = {"project": "p1", "every": 10, "d": 4, "seed": 0, "method": "countsketch"}


@pytest.fixture
def client(backend_client: Client) -> Client:
    """These tests run on every backend."""
    return backend_client


def _start(run_id: str, seq: int = 0, rank: int = 0, world: int = 1) -> Message:
    return Message(Kind.START, run_id, seq, rank=rank, world=world, body=dict(START_BODY))


def _sketch(run_id: str, seq: int, index: int, values: list[float], **kw: int) -> Message:
    payload = np.asarray(values, dtype=np.float64)
    return Message(
        Kind.SKETCH,
        run_id,
        seq,
        step=10 * index,
        index=index,
        d=payload.size,
        payload=payload,
        **kw,
    )


def _record(run_id: str, index: int, edge_ratio: float = 2.0) -> WindowRecord:
    return WindowRecord(
        run_id=run_id,
        group="all",
        window=3,
        index=index,
        step=10 * index,
        sigma=[2.0, 1.0, 0.5],
        ratios=[2.0, 2.0],
        k_star=KStar(argmax=1, weighted=1, floor=1),
        edge_ratio=edge_ratio,
        gap=3.0,
        g23=0.75,
        energy=[0.76, 0.19, 0.05],
        k95=3,
        drift_speed=0.1,
    )


def test_start_registers_the_run(store: Store, run_id: str) -> None:
    assert store.get_run(run_id) is None
    assert apply_message(store, _start(run_id), now=100.5)[0] == 1
    run = store.get_run(run_id)
    assert run is not None
    assert (run.project, run.state, run.created_at, run.updated_at) == (
        "p1",
        "running",
        100.5,
        100.5,
    )
    assert run.config == {k: v for k, v in START_BODY.items() if k != "project"}
    assert run_id in [r.run_id for r in store.list_runs()]


def test_a_resent_start_repairs_a_lost_registry_entry(
    store: Store, client: Client, run_id: str
) -> None:
    apply_message(store, _start(run_id), now=5.0)
    client.zrem(keys.RUNS, run_id)  # as if the analyzer died between the apply and the ZADD
    assert apply_message(store, _start(run_id), now=9.0)[0] == 0
    assert client.zscore(keys.RUNS, run_id) == 5.0


def test_apply_is_at_most_once_per_rank_and_seq(store: Store, client: Client, run_id: str) -> None:
    apply_message(store, _start(run_id), now=1.0)
    assert apply_message(store, _sketch(run_id, 2, 1, [1, 2, 3, 4]), 2.0)[0] == 1
    assert apply_message(store, _sketch(run_id, 2, 1, [9, 9, 9, 9]), 3.0)[0] == 0
    assert client.scard(keys.seen(run_id, 0)) == 1  # seq 2 waits above the watermark 0
    assert apply_message(store, _sketch(run_id, 1, 0, [0, 0, 0, 0]), 3.0) == (1, 3)  # due + stored
    assert client.scard(keys.seen(run_id, 0)) == 0  # 0..2 applied: the watermark moved to 2
    assert client.hget(keys.meta(run_id), "low:0") == b"2"
    assert apply_message(store, _sketch(run_id, 2, 1, [9, 9, 9, 9]), 4.0)[0] == 0
    assert apply_message(store, _sketch(run_id, 1, 0, [9, 9, 9, 9], rank=0), 4.0)[0] == 0
    assert store.get_run(run_id).updated_at == 3.0  # type: ignore[union-attr]


def test_a_second_sketch_for_a_held_index_keeps_the_first(store: Store, run_id: str) -> None:
    apply_message(store, _start(run_id), now=1.0)
    held, again = _sketch(run_id, 1, 3, [1, 2, 3, 4]), _sketch(run_id, 2, 3, [9, 9, 9, 9])
    assert apply_message(store, held, 2.0) == (1, 2)  # stored, not due
    assert apply_message(store, again, 2.0) == (1, 0)  # seq applied, data not
    assert apply_message(store, _sketch(run_id, 2, 3, [9, 9, 9, 9]), 2.0) == (0, 0)


def test_unknown_run_and_wrong_dimension_are_refused(store: Store, run_id: str) -> None:
    assert apply_message(store, _sketch(run_id, 1, 0, [1, 2, 3, 4]), 1.0)[0] == -1
    apply_message(store, _start(run_id), now=1.0)
    assert apply_message(store, _sketch(run_id, 1, 0, [1, 2, 3]), 2.0)[0] == -2
    assert apply_message(store, _sketch(run_id, 1, 0, [1, 2, 3, 4]), 2.0)[0] == 1


def test_scalars_finish_dropped_and_scalar_retention(store: Store, run_id: str) -> None:
    limits = Limits(keep_scalars=2)
    apply_message(store, _start(run_id, world=2), now=1.0)
    apply_message(store, _start(run_id, rank=1, world=2), now=1.0)
    for seq, step in enumerate((20, 30, 40), start=1):
        body = {"values": {"val_loss": 1.0 / step}}
        apply_message(
            store, Message(Kind.SCALARS, run_id, seq, world=2, step=step, body=body), 2.0, limits
        )
    apply_message(store, Message(Kind.HEARTBEAT, run_id, 4, world=2, body={"dropped": 3}), 3.0)
    apply_message(
        store, Message(Kind.HEARTBEAT, run_id, 1, rank=1, world=2, body={"dropped": 2}), 3.0
    )
    apply_message(store, Message(Kind.FINISH, run_id, 5, world=2, body={"status": "failed"}), 4.0)
    assert [row["step"] for row in store.scalars(run_id)] == [30, 40]
    run = store.get_run(run_id)
    assert run is not None
    assert (run.state, run.finished_at, run.dropped, run.world) == (RunState.FAILED, 4.0, 5, 2)


def test_partials_wait_in_their_own_hash(store: Store, client: Client, run_id: str) -> None:
    apply_message(store, _start(run_id, world=2), now=1.0)
    first = _sketch(run_id, 1, 0, [1.0, 2.0, 3.0, 4.0], owners=2, world=2)
    assert apply_message(store, first, 2.0, Limits(assembly_at=32.0)) == (1, 1)
    second = _sketch(run_id, 1, 0, [0.5, 0.5, 0.5, 0.5], owners=2, rank=1, world=2)
    assert apply_message(store, second, 2.0) == (1, 2)
    assert store.partials(run_id, "all", 0).keys() == {0, 1}
    assert store.expired(run_id, 31.0) == []
    assert store.expired(run_id, 32.0) == ["part|all|0|2"]


def test_metric_records_read_in_step_order_and_by_step_range(store: Store, run_id: str) -> None:
    assert write_record(store.client, _record(run_id, 4))
    assert write_record(store.client, _record(run_id, 3))
    assert [r.edge_ratio for r in store.metrics(run_id, "all", 3)] == [2.0, 2.0]
    assert [r.index for r in store.metrics(run_id, "all", 3, start_step=35, end_step=40)] == [4]


def test_outbox_is_published_to_the_global_stream(
    store: Store, client: Client, run_id: str
) -> None:
    client.rpush(keys.outbox(run_id), b'{"run_id":"%s","n":1}' % run_id.encode())
    assert store.publish([run_id]) == 1
    assert client.llen(keys.outbox(run_id)) == 0
    assert store.publish([run_id]) == 0
    mine = [f for _, f in client.xrevrange(keys.ALERTS, count=50) if run_id.encode() in f[b"alert"]]
    assert len(mine) == 1


def test_mark_crashed_only_when_still_silent(store: Store, run_id: str) -> None:
    apply_message(store, _start(run_id), now=1.0)
    assert not store.mark_crashed(run_id, 0.5)
    assert store.mark_crashed(run_id, 1.0)
    assert store.get_run(run_id).state is RunState.CRASHED  # type: ignore[union-attr]
    apply_message(store, Message(Kind.HEARTBEAT, run_id, 1), 2.0)
    assert store.get_run(run_id).state is RunState.RUNNING  # type: ignore[union-attr]


def test_scripts_are_reloaded_after_a_script_flush(
    store: Store, client: Client, run_id: str
) -> None:
    client.script_flush()
    assert apply_message(store, _start(run_id), now=1.0)[0] == 1


def test_a_heartbeat_base_compacts_clock_numbered_seen_sets(
    store: Store, client: Client, run_id: str
) -> None:
    base = 1_764_000_000_000_000
    apply_message(store, _start(run_id, seq=base), now=1.0)
    for i in (2, 3, 1):
        assert apply_message(store, _sketch(run_id, base + i, i - 1, [1, 2, 3, 4]), 2.0)[0] == 1
    assert client.scard(keys.seen(run_id, 0)) == 4  # nothing is consecutive to the watermark -1
    heartbeat = Message(Kind.HEARTBEAT, run_id, base + 5, body={"base": base, "dropped": 0})
    assert apply_message(store, heartbeat, 3.0)[0] == 1
    assert client.scard(keys.seen(run_id, 0)) == 1  # base..base+3 folded into the watermark
    assert client.hget(keys.meta(run_id), "low:0") == str(base + 3).encode()
    assert apply_message(store, _sketch(run_id, base + 2, 1, [9, 9, 9, 9]), 4.0)[0] == 0
    assert apply_message(store, _sketch(run_id, base + 4, 3, [1, 2, 3, 4]), 4.0)[0] == 1
    assert client.scard(keys.seen(run_id, 0)) == 0
