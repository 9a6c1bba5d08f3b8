"""Run lifecycle: the crash policy and the registry entry parsed from its HASH."""

from __future__ import annotations

from analyzer.records import RunInfo, RunState
from analyzer.service.runs import run_info, run_state


def test_run_state_policy() -> None:
    run = RunInfo(run_id="r", state=RunState.RUNNING, created_at=0.0, updated_at=100.0)
    assert run_state(run, now=150.0, timeout=60.0) is RunState.RUNNING
    assert run_state(run, now=160.5, timeout=60.0) is RunState.CRASHED
    finished = run.model_copy(update={"state": RunState.FINISHED})
    assert run_state(finished, now=1e9, timeout=60.0) is RunState.FINISHED


def test_run_info_from_a_meta_hash() -> None:
    raw = {
        b"run_id": b"r",
        b"created_at": b"1.5",
        b"updated_at": b"2",
        b"state": b"failed",
        b"world": b"2",
        b"config": b'{"d": 4}',
        b"dropped:0": b"3",
        b"dropped:1": b"1",
    }
    info = run_info(raw)
    assert info is not None
    assert (info.state, info.world, info.config, info.dropped) == (RunState.FAILED, 2, {"d": 4}, 4)
    assert run_info({}) is None
    assert run_info({b"low:0": b"3"}) is None
