"""Store against the machine's Redis: at-most-once apply, exactly-once windows, CAS detectors."""

from __future__ import annotations

import numpy as np
import redis

from analyzer import keys
from analyzer.records import Alert, KStar, RunState, WindowRecord
from analyzer.store import Applied, Store
from producer.wire import Kind, Message

START_BODY = {"project": "p1", "every": 10, "d": 4, "seed": 0, "method": "countsketch"}


def _start(run_id: str, seq: int = 0, rank: int = 0, world: int = 1) -> Message:
    return Message(Kind.START, run_id, seq, rank=rank, world=world, body=dict(START_BODY))


def _sketch(run_id: str, seq: int, index: int, values: list[float], **kw: int) -> Message:
    payload = np.asarray(values, dtype=np.float64)
    return Message(Kind.SKETCH, run_id, seq, step=10 * index, index=index, d=payload.size,
                   payload=payload, **kw)  # fmt: skip


def _record(run_id: str, index: int, edge_ratio: float = 2.0) -> WindowRecord:
    return WindowRecord(
        run_id=run_id, group="all", window=3, index=index, step=10 * index, sigma=[2.0, 1.0, 0.5],
        ratios=[2.0, 2.0], k_star=KStar(argmax=1, weighted=1, floor=1), edge_ratio=edge_ratio,
        gap=3.0, g23=0.75, energy=[0.76, 0.19, 0.05], k95=3, drift_speed=0.1,
    )  # fmt: skip


def test_start_registers_the_run(store: Store, run_id: str) -> None:
    assert store.get_run(run_id) is None
    assert store.apply(_start(run_id), now=100.5).outcome is Applied.APPLIED
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


def test_apply_is_at_most_once_per_rank_and_seq(store: Store, run_id: str) -> None:
    store.apply(_start(run_id), now=1.0)
    assert store.apply(_sketch(run_id, 1, 0, [1, 2, 3, 4]), 2.0).outcome is Applied.APPLIED
    again = _sketch(run_id, 1, 0, [9, 9, 9, 9])
    assert store.apply(again, 3.0).outcome is Applied.DUPLICATE
    assert store.snapshot_block(run_id, "all", 0, 0).tolist() == [[1, 2, 3, 4]]
    assert store.get_run(run_id).updated_at == 2.0  # type: ignore[union-attr]
    assert store.step_of(run_id, "all", 0) == 0


def test_unknown_run_and_wrong_dimension_are_refused(store: Store, run_id: str) -> None:
    assert store.apply(_sketch(run_id, 1, 0, [1, 2, 3, 4]), 1.0).outcome is Applied.UNKNOWN_RUN
    store.apply(_start(run_id), now=1.0)
    assert store.apply(_sketch(run_id, 1, 0, [1, 2, 3]), 2.0).outcome is Applied.DIM_MISMATCH
    assert store.apply(_sketch(run_id, 1, 0, [1, 2, 3, 4]), 2.0).outcome is Applied.APPLIED


def test_scalars_finish_and_dropped(store: Store, run_id: str) -> None:
    store.apply(_start(run_id, world=2), now=1.0)
    store.apply(_start(run_id, rank=1, world=2), now=1.0)
    values = {"val_loss": 0.5, "lr": 1e-3}
    store.apply(Message(Kind.SCALARS, run_id, 1, world=2, step=20, body={"values": values}), 2.0)
    store.apply(Message(Kind.HEARTBEAT, run_id, 2, world=2, body={"dropped": 3}), 3.0)
    store.apply(Message(Kind.HEARTBEAT, run_id, 1, rank=1, world=2, body={"dropped": 2}), 3.0)
    store.apply(Message(Kind.FINISH, run_id, 3, world=2, body={"status": "failed"}), 4.0)
    assert store.scalars(run_id) == [{"step": 20, "values": values}]
    run = store.get_run(run_id)
    assert run is not None
    assert (run.state, run.finished_at, run.dropped, run.world) == (RunState.FAILED, 4.0, 5, 2)


def test_partials_are_summed_in_rank_order(store: Store, run_id: str) -> None:
    store.apply(_start(run_id, world=2), now=1.0)
    first = _sketch(run_id, 1, 0, [1.0, 2.0, 3.0, 4.0], owners=2, world=2)
    assert store.apply(first, 2.0).partials == 1
    assert not store.assemble(run_id, "all", 0, 2)
    second = _sketch(run_id, 1, 0, [0.5, 0.5, 0.5, 0.5], owners=2, rank=1, world=2)
    assert store.apply(second, 2.0).partials == 2
    assert store.present(run_id, "all", range(0, 2)) == set()
    assert store.assemble(run_id, "all", 0, 2)
    assert store.snapshot_block(run_id, "all", 0, 0).tolist() == [[1.5, 2.5, 3.5, 4.5]]
    assert store.present(run_id, "all", range(0, 2)) == {0}


def test_record_window_is_exactly_once(store: Store, run_id: str) -> None:
    assert store.record_window(_record(run_id, 3))
    assert not store.record_window(_record(run_id, 3, edge_ratio=9.0))
    assert store.record_window(_record(run_id, 4))
    assert store.recorded(run_id, "all", 3, [3, 4, 5]) == {3, 4}
    assert [r.edge_ratio for r in store.metrics(run_id, "all", 3)] == [2.0, 2.0]
    assert [r.index for r in store.metrics(run_id, "all", 3, start_step=35, end_step=40)] == [4]
    assert [r.index for r in store.window_records(run_id, "all", 3, 3)] == [3, 4]
    assert store.window_records(run_id, "all", 3, 5) == []


def test_detector_compare_and_set(store: Store, client: redis.Redis, run_id: str) -> None:
    alert = Alert(id="al_x", type="edge.collapse", run_id=run_id, group="all", window=3,
                  step=30, index=3, message="m", created_at=1.0)  # fmt: skip
    assert store.advance_detector(run_id, "all", 3, None, b"s1", [alert])
    assert not store.advance_detector(run_id, "all", 3, None, b"s2", [alert])
    assert not store.advance_detector(run_id, "all", 3, b"other", b"s2", [])
    assert store.advance_detector(run_id, "all", 3, b"s1", b"s2", [])
    assert store.detector_state(run_id, "all", 3) == b"s2"
    assert store.run_alerts(run_id) == [alert]
    mine = [f for _, f in client.xrevrange(keys.ALERTS, count=50) if run_id.encode() in f[b"alert"]]
    assert len(mine) == 1


def test_mark_crashed_only_when_still_silent(store: Store, run_id: str) -> None:
    store.apply(_start(run_id), now=1.0)
    assert not store.mark_crashed(run_id, 0.5)
    assert store.mark_crashed(run_id, 1.0)
    assert store.get_run(run_id).state is RunState.CRASHED  # type: ignore[union-attr]
    store.apply(Message(Kind.HEARTBEAT, run_id, 1), 2.0)
    assert store.get_run(run_id).state is RunState.RUNNING  # type: ignore[union-attr]
