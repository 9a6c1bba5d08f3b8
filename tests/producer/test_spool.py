"""Offline spool files and `sync`: replayed to a real ZeroMQ receiver in order, exactly once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from producer.spool import Spool, read_messages
from producer.sync import sync
from producer.wire import Kind, Message


def write_run(directory: Path, run: str, snapshots: int, rank: int = 0) -> Spool:
    spool = Spool(directory, run, rank=rank, world=rank + 1)
    spool.send(Kind.START, body={"every": 1})
    for index in range(snapshots):
        spool.send(Kind.SKETCH, step=index, index=index, d=3, payload=np.full(3, float(index)))
    spool.close("finished", step=snapshots)
    return spool


def test_spool_appends_decodable_messages(tmp_path: Path) -> None:
    spool = write_run(tmp_path / "spool", "run-offline", snapshots=1)
    messages = list(read_messages(spool.path))
    assert [(m.kind, m.seq) for m in messages] == [
        (Kind.START, 0),
        (Kind.SKETCH, 1),
        (Kind.FINISH, 2),
    ]
    assert np.array_equal(messages[1].payload, np.zeros(3))
    assert messages[2].body == {"status": "finished", "dropped": 0}


def test_a_resumed_job_continues_the_sequence(tmp_path: Path) -> None:
    write_run(tmp_path, "run-resume", snapshots=2)
    spool = write_run(tmp_path, "run-resume", snapshots=1)
    assert [m.seq for m in read_messages(spool.path)] == list(range(7))


def test_a_torn_last_record_is_skipped(tmp_path: Path) -> None:
    spool = write_run(tmp_path, "run-torn", snapshots=2)
    with spool.path.open("ab") as handle:
        handle.write(b"\x92\xc4\x10abc")  # a record cut short by a crash
    assert len(list(read_messages(spool.path))) == 4


def test_sync_replays_in_order_and_marks_files_done(
    tmp_path: Path, make_router: Callable[..., Any]
) -> None:
    store: dict[tuple[str, int, int], Message] = {}
    router = make_router(store=store)
    write_run(tmp_path, "run-a", snapshots=40)
    write_run(tmp_path, "run-b", snapshots=3, rank=1)
    report = sync(tmp_path, endpoint=router.endpoint, window=8, timeout=10.0, env={})
    assert report.complete and report.files == {
        "run-a.rank0.msgpack": (42, 42),
        "run-b.rank1.msgpack": (5, 5),
    }
    arrived = [(m.run, m.seq) for m in router.received()]
    assert arrived == [("run-a", s) for s in range(42)] + [("run-b", s) for s in range(5)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run-a.rank0.msgpack.synced",
        "run-b.rank1.msgpack.synced",
    ]
    assert sync(tmp_path, endpoint=router.endpoint, env={}).files == {}


def test_repeated_sync_duplicates_nothing(tmp_path: Path, make_router: Callable[..., Any]) -> None:
    store: dict[tuple[str, int, int], Message] = {}
    router = make_router(store=store)
    spool = write_run(tmp_path / "a", "run-twice", snapshots=5)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert sync(tmp_path / "a", endpoint=router.endpoint, env={}).complete
    assert sync(tmp_path / "b", endpoint=router.endpoint, env={}).complete
    assert len(router.received()) == 14 and len(store) == 7
    payloads = [store[("run-twice", 0, seq)].payload for seq in range(1, 6)]
    assert [p[0] for p in payloads] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert spool.path.with_name(spool.path.name + ".synced").exists()


def test_sync_without_an_analyzer_keeps_the_file(tmp_path: Path, dead_endpoint: str) -> None:
    spool = write_run(tmp_path, "run-later", snapshots=2)
    report = sync(tmp_path, endpoint=dead_endpoint, timeout=0.5, env={})
    assert not report.complete and report.files == {"run-later.rank0.msgpack": (4, 0)}
    assert spool.path.exists()


def test_sync_resends_what_is_not_acknowledged(
    tmp_path: Path, make_router: Callable[..., Any]
) -> None:
    """A receiver that acknowledges only repeats: every message must be resent to complete."""
    router = make_router(ignore_first=True)
    spool = write_run(tmp_path, "run-resend", snapshots=3)
    report = sync(tmp_path, endpoint=router.endpoint, window=8, timeout=2.0, env={})
    assert report.complete and report.files == {"run-resend.rank0.msgpack": (5, 5)}
    arrived = [m.seq for m in router.received()]
    assert list(dict.fromkeys(arrived)) == [0, 1, 2, 3, 4]
    assert all(arrived.count(seq) >= 2 for seq in range(5))
    assert spool.path.with_name(spool.path.name + ".synced").exists()


def test_sync_keeps_at_most_window_messages_unacknowledged(
    tmp_path: Path, make_router: Callable[..., Any]
) -> None:
    router = make_router(ack=False)
    spool = write_run(tmp_path, "run-window", snapshots=10)
    report = sync(tmp_path, endpoint=router.endpoint, window=3, timeout=1.0, env={})
    assert report.files == {"run-window.rank0.msgpack": (12, 0)}
    arrived = [m.seq for m in router.received()]
    assert arrived[:3] == [0, 1, 2] and set(arrived) == {0, 1, 2}
    assert len(arrived) > 3  # the window was resent, never widened
    assert spool.path.exists()


def test_spectral_edge_sync_command(tmp_path: Path, make_router: Callable[..., Any]) -> None:
    """The `spectral-edge sync DIR` command replays a spool written by an offline watch."""
    router = make_router()
    write_run(tmp_path, "run-cli", snapshots=2)
    command = [sys.executable, "-c", "from api.cli import app; app()", "sync", str(tmp_path)]
    done = subprocess.run([*command, "--endpoint", router.endpoint], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "run-cli.rank0.msgpack  4/4 acknowledged" in done.stdout
    kinds = [m.kind for m in router.received()]
    assert kinds == [Kind.START, Kind.SKETCH, Kind.SKETCH, Kind.FINISH]
