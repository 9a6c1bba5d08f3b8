"""`spectral-edge sync DIR`: replay offline spool files to an analyzer, in order, exactly once.

Each file is sent in record order with its original sequence numbers over one DEALER (CURVE when
configured), at most `window` messages unacknowledged, resending the overdue. The analyzer applies
each (run, rank, seq) at most once, so an interrupted or repeated sync duplicates nothing. A file
whose every message was acknowledged is renamed `<name>.synced`; one that was not stays for the
next sync.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from producer.buffer import Buffer
from producer.config import ProducerConfig, resolve_config
from producer.connection import connect_dealer
from producer.errors import WireError
from producer.spool import SYNCED, read_frames, spool_files
from producer.transport import POLL_MS
from producer.wire import decode, decode_ack

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What a sync did: per file, messages read and acknowledged."""

    files: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every message of every file was acknowledged."""
        return all(read == acked for read, acked in self.files.values())


def sync(
    directory: str | Path,
    *,
    endpoint: str | None = None,
    timeout: float = 30.0,
    window: int = 256,
    env: Mapping[str, str] | None = None,
) -> SyncReport:
    """Replay every spool file of `directory` to the analyzer; returns what was acknowledged."""
    config = resolve_config(env, endpoint=endpoint, resend_after=min(timeout / 4, 5.0))
    report = SyncReport()
    context = zmq.Context()
    try:
        socket = connect_dealer(context, config, window)
        try:
            for path in spool_files(directory):
                acked, total = _replay(socket, config, path, timeout, window)
                report.files[path.name] = (total, acked)
                if acked == total:
                    path.rename(path.with_name(path.name + SYNCED))
        finally:
            socket.close(linger=0)
    finally:
        context.term()
    return report


def _replay(
    socket: zmq.Socket, config: ProducerConfig, path: Path, timeout: float, window: int
) -> tuple[int, int]:
    """Send one file's messages in order; returns (acknowledged, total)."""
    pending = Buffer(window + 1)
    records = _numbered(path)
    held = next(records, None)
    total = acked = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (held is not None or pending):
        now = time.monotonic()
        while held is not None and len(pending) < window and _send(socket, held[1]):
            pending.add(held[0], held[1], now)
            total += 1
            held = next(records, None)
        for _, frames in pending.due(now, config.resend_after):
            _send(socket, frames)
        if socket.poll(POLL_MS, zmq.POLLIN):
            acked += _read_acks(socket, pending)
    unsent = (held is not None) + sum(1 for _ in records)
    return acked, total + unsent


def _numbered(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    """(seq, frames) of each decodable record; undecodable ones are logged and skipped."""
    for frames in read_frames(path):
        try:
            yield decode(frames).seq, frames
        except WireError as exc:
            logger.warning("spectral-edge sync skipped a bad record of %s: %s", path, exc)


def _send(socket: zmq.Socket, frames: list[bytes]) -> bool:
    try:
        socket.send_multipart(frames, zmq.NOBLOCK)
    except zmq.Again:
        return False
    return True


def _read_acks(socket: zmq.Socket, pending: Buffer) -> int:
    released = 0
    while True:
        try:
            frames = socket.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return released
        with contextlib.suppress(WireError):
            released += pending.ack(decode_ack(frames))
