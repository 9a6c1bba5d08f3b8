"""Snapshot blobs and the sum of partial sketches."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.errors import StateError
from analyzer.service import assembly
from analyzer.service.assembly import INCOMPLETE, Snapshot


def test_blob_round_trip_keeps_step_flags_and_bits() -> None:
    x = np.random.default_rng(0).normal(size=7)
    for flags in (frozenset(), frozenset({INCOMPLETE})):
        back = assembly.unpack(assembly.pack(Snapshot(42, x, flags)))
        assert (back.step, back.flags, back.x.tobytes()) == (42, flags, x.tobytes())
    raw = assembly.unpack(assembly.pack_payload(7, x.tobytes()))
    assert (raw.step, raw.flags, raw.x.tobytes()) == (7, frozenset(), x.tobytes())


def test_partials_sum_in_rank_order_and_flag_missing_owners() -> None:
    parts = np.random.default_rng(1).normal(size=(3, 5))
    blobs = {r: assembly.pack(Snapshot(9, parts[r])) for r in (2, 0, 1)}
    whole = assembly.assemble(blobs, owners=3)
    assert whole.flags == frozenset()
    assert whole.x.tobytes() == ((parts[0] + parts[1]) + parts[2]).tobytes()
    partial = assembly.assemble({0: blobs[0], 2: blobs[2]}, owners=3)
    assert partial.flags == {INCOMPLETE}
    np.testing.assert_array_equal(partial.x, parts[0] + parts[2])


@pytest.mark.parametrize("blob", [b"", b"short", b"\0" * 16, b"\0" * 20])
def test_bad_blobs_raise_state_error(blob: bytes) -> None:
    with pytest.raises(StateError):
        assembly.unpack(blob)


def test_partials_of_different_sizes_raise() -> None:
    blobs = {0: assembly.pack(Snapshot(1, np.ones(3))), 1: assembly.pack(Snapshot(1, np.ones(4)))}
    with pytest.raises(StateError):
        assembly.assemble(blobs, owners=2)
    with pytest.raises(StateError):
        assembly.assemble({}, owners=2)
