"""`spectral-edge sync DIR`: replay offline spool files to an analyzer, in order, exactly once.

Each file is sent in record order with its original sequence numbers over a DEALER (CURVE when
configured) to its run's analyzer (the first in rendezvous order, `producer.rendezvous`), at most
`window` messages unacknowledged, through a `Channel` (`producer.channel`), which resends the
overdue on the sender thread's timer (`ResendTimer`). The analyzer applies each (run, rank, seq)
at most once, so an interrupted or repeated sync duplicates nothing. A file whose every message
was acknowledged is renamed `<name>.synced`; one that was not stays for the next sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from producer.buffer import Buffer
from producer.channel import Channel
from producer.config import ProducerConfig, resolve_config
from producer.connection import connect_dealer
from producer.errors import WireError
from producer.rendezvous import ranked
from producer.resend import ResendTimer
from producer.spool import SYNCED, read_frames, spool_files
from producer.transport import POLL_MS
from producer.wire import decode

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
        for path in spool_files(directory):
            acked, total = _replay(context, config, path, timeout, window)
            report.files[path.name] = (total, acked)
            if acked == total:
                path.rename(path.with_name(path.name + SYNCED))
    finally:
        context.term()
    return report


def _replay(
    context: zmq.Context[Any], config: ProducerConfig, path: Path, timeout: float, window: int
) -> tuple[int, int]:
    """Send one file's messages in order to its run's analyzer; returns (acknowledged, total)."""
    records = _numbered(path)
    first = next(records, None)
    if first is None:
        return 0, 0
    run, held = first[0], first[1:]
    socket = connect_dealer(context, config, window, ranked(run, config.endpoints)[0])
    try:
        return _send(socket, config, held, (r[1:] for r in records), timeout, window)
    finally:
        socket.close(linger=0)


def _send(
    socket: zmq.Socket[bytes],
    config: ProducerConfig,
    held: tuple[int, list[bytes]] | None,
    records: Iterator[tuple[int, list[bytes]]],
    timeout: float,
    window: int,
) -> tuple[int, int]:
    channel = Channel(Buffer(window + 1), ResendTimer(config.resend_after))
    offered = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (held is not None or len(channel)):
        now = time.monotonic()
        channel.flush(socket, now)
        while held is not None and len(channel) < window and not channel.backlog:
            channel.offer(socket, *held, now)
            offered += 1
            held = next(records, None)
        channel.resend_due(socket, now)
        if socket.poll(POLL_MS, zmq.POLLIN):
            channel.read_acks(socket, time.monotonic())
    unread = (held is not None) + sum(1 for _ in records)
    return channel.acked, offered + unread


def _numbered(path: Path) -> Iterator[tuple[str, int, list[bytes]]]:
    """(run, seq, frames) of each decodable record; undecodable ones are logged and skipped."""
    for frames in read_frames(path):
        try:
            message = decode(frames)
            yield message.run, message.seq, frames
        except WireError as exc:
            logger.warning("spectral-edge sync skipped a bad record of %s: %s", path, exc)
