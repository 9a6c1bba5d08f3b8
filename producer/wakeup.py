"""A thread-safe wake-up signal that a ZeroMQ poller can wait on (a non-blocking pipe).

The training thread calls `set()` after enqueueing a message; the sender thread polls the pipe's
read end beside its socket, so it sleeps until there is work instead of waking every few
milliseconds. The file descriptors close when the object is garbage-collected, never earlier, so
a late `set()` can never write into a reused descriptor.
"""

from __future__ import annotations

import contextlib
import os
import weakref


class Wakeup:
    """`set()` from any thread; the owner polls `fileno()` and calls `clear()`."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        weakref.finalize(self, _close, self._read, self._write)

    def fileno(self) -> int:
        """The descriptor that becomes readable after `set()`."""
        return self._read

    def set(self) -> None:
        """Signal the owner (a full pipe already signals, so that is fine too)."""
        with contextlib.suppress(OSError):
            os.write(self._write, b"\0")

    def clear(self) -> None:
        """Consume every pending signal."""
        with contextlib.suppress(OSError):
            while os.read(self._read, 4096):
                pass


def _close(*descriptors: int) -> None:
    for descriptor in descriptors:
        with contextlib.suppress(OSError):
            os.close(descriptor)
