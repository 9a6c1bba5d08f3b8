"""Offline mode: append every message to `<dir>/<run>.rank<r>.msgpack` for `spectral-edge sync`.

Each record is one msgpack array of the message's frames, exactly what the online sender would
have sent, sequence number included, so a replay is de-duplicated by the analyzer like a resend.
Sequence numbers continue past those already in the file, so a resumed job appends safely.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from producer.wire import Kind, Message, decode, encode

logger = logging.getLogger(__name__)
SUFFIX = ".msgpack"
SYNCED = ".synced"


class Spool:
    """Offline sink: same interface as `transport.Sender`, writing to a file instead."""

    def __init__(self, directory: str | Path, run: str, *, rank: int = 0, world: int = 1) -> None:
        self.path = Path(directory) / f"{run}.rank{rank}{SUFFIX}"
        self.run, self.rank, self.world = run, rank, world
        self.sent = self.acked = self.resent = self.dropped = 0
        self.failed = False
        self._seq = 0
        self._file: BinaryIO | None = None

    def start(self) -> None:
        """Nothing to start: the file opens with the first message."""

    def send(
        self, kind: Kind, *, step: int = 0, body: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """Append one message."""
        if self._file is None and not self.failed:
            self._open()
        if self._file is None:
            return
        message = Message(
            kind, self.run, self._seq, self.rank, self.world, step, body=body or {}, **fields
        )
        try:
            self._file.write(msgpack.packb(encode(message)))
        except Exception:
            self._fail()
            return
        self._seq += 1
        self.sent += 1

    def close(
        self,
        status: str = "finished",
        timeout: float = 5.0,
        step: int = 0,
        *,
        announce: bool = True,
    ) -> None:
        """Append FINISH (a heartbeat when not `announce`) and close the file."""
        if self._file is None:
            return
        kind = Kind.FINISH if announce else Kind.HEARTBEAT
        body = {"status": status, "dropped": 0} if announce else {"dropped": 0}
        self.send(kind, step=step, body=body)
        try:
            self._shut()
        except OSError:
            self._fail()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._seq = max((m.seq + 1 for m in read_messages(self.path)), default=0)
            self._file = self.path.open("ab")
        except Exception:
            self._fail()

    def _fail(self) -> None:
        logger.exception(
            "spectral-edge spool %s failed; monitoring continues without it", self.path
        )
        self.failed = True
        with contextlib.suppress(OSError):
            self._shut()

    def _shut(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()


def spool_files(directory: str | Path) -> list[Path]:
    """The spool files of a directory not yet synced, in name order."""
    return sorted(p for p in Path(directory).glob(f"*.rank*{SUFFIX}") if p.is_file())


def read_frames(path: Path) -> Iterator[list[bytes]]:
    """The frames of each record of a spool file, in order (a torn last record is skipped)."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        unpacker = msgpack.Unpacker(handle, use_list=True)
        with contextlib.suppress(msgpack.OutOfData, ValueError):
            for record in unpacker:
                if isinstance(record, list) and all(isinstance(f, bytes) for f in record):
                    yield record


def read_messages(path: Path) -> Iterator[Message]:
    """The decoded messages of a spool file, in order."""
    for frames in read_frames(path):
        yield decode(frames)
