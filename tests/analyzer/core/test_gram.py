"""RollingGram: O(W d) updates equal the batch Gram, exact recompute, binary state round trip."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from analyzer.core import spectrum
from analyzer.core.gram import RollingGram
from analyzer.errors import NonFiniteError, SpectrumError, StateError


def _pushed(rg: RollingGram, updates: np.ndarray) -> RollingGram:
    for u in updates:
        rg.push(u)
    return rg


def test_incremental_equals_batch_after_100k_updates() -> None:
    rng = np.random.default_rng(0)
    w, d, n = 10, 12, 100_000
    updates = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=(n, 1))
    rg = _pushed(RollingGram(w, d, recompute_every=10**9), updates)
    assert rg.count == n and rg.full
    np.testing.assert_array_equal(rg.updates(), updates[-w:])
    batch = updates[-w:] @ updates[-w:].T
    scale = np.max(np.diag(batch))
    assert np.max(np.abs(rg.gram() - batch)) <= 1e-14 * scale
    np.testing.assert_array_equal(rg.gram(), rg.gram().T)
    incremental = spectrum.batch_metrics(rg.gram()[None], updates=rg.updates()[None]).row(0)
    direct = spectrum.window_metrics(updates[-w:])
    np.testing.assert_allclose(incremental.sigma, direct.sigma, rtol=1e-12)
    np.testing.assert_allclose(incremental.ratios, direct.ratios, rtol=1e-12)
    assert incremental.k_star == direct.k_star


def test_periodic_recompute_is_the_exact_product() -> None:
    rng = np.random.default_rng(1)
    w, d = 4, 5
    updates = rng.normal(size=(23, d))
    rg = _pushed(RollingGram(w, d, recompute_every=5), updates[:20])
    retained = np.ascontiguousarray(updates[20 - w - 1 : 20])
    np.testing.assert_array_equal(rg.gram(), (retained @ retained.T)[1:, 1:])
    rg.push(updates[20])
    assert np.max(np.abs(rg.gram() - updates[17:21] @ updates[17:21].T)) <= 1e-14 * 10


def test_filling_cross_and_sub_windows() -> None:
    rng = np.random.default_rng(2)
    w, d = 5, 7
    updates = rng.normal(size=(9, d))
    rg = RollingGram(w, d)
    assert rg.gram().shape == (0, 0) and rg.cross() is None and not rg.full
    _pushed(rg, updates[:3])
    np.testing.assert_allclose(rg.gram(), updates[:3] @ updates[:3].T, rtol=1e-14)
    assert not rg.full and rg.cross() is None
    _pushed(rg, updates[3:])
    prev, now = updates[-w - 1 : -1], updates[-w:]
    np.testing.assert_allclose(rg.cross(), prev @ now.T, rtol=1e-13)
    np.testing.assert_array_equal(rg.gram(3), rg.gram()[-3:, -3:])
    np.testing.assert_array_equal(rg.cross(3), rg.cross()[-3:, -3:])
    np.testing.assert_array_equal(rg.updates(2), updates[-2:])
    with pytest.raises(SpectrumError):
        rg.gram(w + 1)


@pytest.mark.parametrize("w", [5, 70])  # with and without the shared index table
def test_ring_order_after_wrapping(w: int) -> None:
    updates = np.random.default_rng(6).normal(size=(3 * w + 2, 3))
    rg = RollingGram(w, 3)
    for n, u in enumerate(updates, start=1):
        rg.push(u)
        held = updates[max(0, n - w) : n]
        np.testing.assert_array_equal(rg.updates(), held)
        np.testing.assert_allclose(rg.gram(), held @ held.T, rtol=1e-12, atol=1e-12)
        if n > w:
            before = updates[n - w - 1 : n - 1]
            np.testing.assert_allclose(rg.cross(), before @ held.T, rtol=1e-12, atol=1e-12)


def test_bad_updates_change_nothing() -> None:
    rg = _pushed(RollingGram(3, 4), np.random.default_rng(3).normal(size=(5, 4)))
    before = rg.to_bytes()
    for bad in (np.array([1.0, np.nan, 0.0, 0.0]), np.full(4, np.inf), np.full(4, 1e200)):
        with pytest.raises(NonFiniteError):
            rg.push(bad)
    with pytest.raises(SpectrumError):
        rg.push(np.ones(5))
    assert rg.to_bytes() == before


def test_remembered_top_lasts_exactly_one_push() -> None:
    rng = np.random.default_rng(4)
    rg = _pushed(RollingGram(4, 3), rng.normal(size=(6, 3)))
    rg.remember(np.arange(4.0))
    rg.remember(np.arange(2.0))
    assert rg.previous_top() is None
    rg.push(rng.normal(size=3))
    np.testing.assert_array_equal(rg.previous_top(), np.arange(4.0))
    np.testing.assert_array_equal(rg.previous_top(2), np.arange(2.0))
    assert rg.previous_top(3) is None
    rg.push(rng.normal(size=3))
    assert rg.previous_top() is None


def test_bytes_round_trip_and_continue_identically() -> None:
    rng = np.random.default_rng(5)
    w, d = 6, 9
    updates = rng.normal(size=(40, d))
    rg = _pushed(RollingGram(w, d, recompute_every=7), updates[:17])
    rg.remember(rng.normal(size=w))
    data = rg.to_bytes()
    assert (
        len(data)
        == struct.calcsize("<4sBIIIQI") + (w + 1) * d * 8 + (w + 1) ** 2 * 8 + 2 + 12 + w * 8
    )
    copy = RollingGram.from_bytes(data)
    assert (copy.window, copy.dim, copy.recompute_every, copy.count) == (w, d, 7, 17)
    copy.push(updates[17])
    rg.push(updates[17])
    np.testing.assert_array_equal(copy.previous_top(), rg.previous_top())
    _pushed(rg, updates[18:])
    _pushed(copy, updates[18:])
    assert copy.to_bytes() == rg.to_bytes()
    np.testing.assert_array_equal(copy.gram(), rg.gram())
    empty = RollingGram.from_bytes(RollingGram(3, 2).to_bytes())
    assert empty.count == 0 and empty.gram().shape == (0, 0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b"XXXX" + b[4:],
        lambda b: b[:4] + bytes([9]) + b[5:],
        lambda b: b[:-3],
        lambda b: b + b"\0",
        lambda b: b[:10],
        lambda b: b"",
    ],
)
def test_unreadable_bytes_raise_state_error(mangle: object) -> None:
    data = _pushed(RollingGram(3, 2), np.ones((4, 2))).to_bytes()
    with pytest.raises(StateError):
        RollingGram.from_bytes(mangle(data))  # type: ignore[operator]


def test_header_layout_is_versioned_little_endian() -> None:
    data = _pushed(RollingGram(3, 2, recompute_every=11), np.ones((5, 2))).to_bytes()
    assert struct.unpack_from("<4sBIIIQI", data) == (b"SEGR", 1, 3, 2, 11, 5, 5)


def test_constructor_checks() -> None:
    for args in ((1, 3), (3, 0), (3, 3, 0)):
        with pytest.raises(SpectrumError):
            RollingGram(*args)
