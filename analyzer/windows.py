"""Which windows a newly arrived snapshot completes, whatever the arrival order.

The window of length W ending at snapshot index `end` holds the updates u_{end-W+1} .. u_end, so it
needs the W + 1 snapshots end - W .. end. Snapshot i belongs to the windows ending at i .. i + W.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import NamedTuple


class Window(NamedTuple):
    """A window: its length W and the index of its last snapshot."""

    length: int
    end: int

    @property
    def first(self) -> int:
        """Index of the first snapshot the window needs (the base of its first update)."""
        return self.end - self.length


def span(index: int, lengths: Iterable[int]) -> range:
    """The snapshot indices whose presence decides which windows snapshot `index` completes."""
    longest = max(lengths)
    return range(max(0, index - longest), index + longest + 1)


def completed(index: int, present: Container[int], lengths: Iterable[int]) -> list[Window]:
    """Windows containing snapshot `index` whose snapshots are all `present`, by length then end."""
    found = []
    for length in sorted(set(lengths)):
        for end in range(max(index, length), index + length + 1):
            if all(i in present for i in range(end - length, end + 1)):
                found.append(Window(length, end))
    return found
