"""Cubic detrend, lagged Pearson r with its sign convention, peak lag and the lag flip."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.core import coupling
from analyzer.errors import NonFiniteError, SpectrumError


def _led(lead: int, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """R and a loss that falls `lead` snapshots after R rises (negative lead: loss moves first)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n + 20)
    r = signal[10 : 10 + n]
    loss = -signal[10 - lead : 10 - lead + n] + 0.3 * rng.normal(size=n)
    return r, loss


def test_pearson_per_lag_matches_corrcoef_and_sign_convention() -> None:
    r, loss = _led(2)
    got = coupling.lagged_correlation(r, loss, 4)
    assert got.lags.tolist() == [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    for lag, value in zip(got.lags, got.r, strict=True):
        x, y = (r[: r.size - lag], loss[lag:]) if lag >= 0 else (r[-lag:], loss[:lag])
        assert value == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)
    assert got.peak_lag == 2  # R(t) against loss(t + 2): the spectrum leads
    assert got.peak_r == pytest.approx(got.r.min())
    assert got.peak_r < -0.9
    assert coupling.lagged_correlation(*_led(-1), 3).peak_lag == -1


def test_cubic_detrend_removes_a_cubic_and_only_that() -> None:
    steps = np.linspace(100.0, 5000.0, 80)
    trend = 3.0 + 2e-3 * steps - 1e-6 * steps**2 + 1e-10 * steps**3
    assert np.max(np.abs(coupling.cubic_detrend(trend, steps))) < 1e-9
    noise = np.random.default_rng(1).normal(size=80)
    residual = coupling.cubic_detrend(trend + noise, steps)
    basis = np.vander((steps - steps.mean()) / steps.std(), 4)
    np.testing.assert_allclose(basis.T @ residual, 0.0, atol=1e-9)
    np.testing.assert_allclose(residual, coupling.cubic_detrend(noise, steps), atol=1e-9)


def test_coupling_sees_through_trends() -> None:
    r, loss = _led(-1, n=200, seed=2)
    t = np.arange(200.0)
    got = coupling.coupling(r + 1e-4 * t**2, loss + 5.0 - 0.02 * t, 3)
    assert got.peak_lag == -1


def test_lag_flip_between_small_and_large_windows() -> None:
    peaks = {}
    for w, lead in ((10, -1), (20, 1), (30, 1)):
        r, loss = _led(lead, seed=w)
        peaks[w] = coupling.coupling(r, loss, 3).peak_lag
    flip = coupling.lag_flip(peaks)
    assert flip == coupling.LagFlip(10, -1, 30, 1, flipped=True)
    assert coupling.lag_flip({10: -1, 20: -2}).flipped is False
    assert coupling.lag_flip({10: 0, 20: 1}).flipped is False
    assert coupling.lag_flip({10: 1}) is None


def test_align_interpolates_the_loss_at_r_steps() -> None:
    steps, r, loss = coupling.align(
        np.array([0, 50, 100, 150, 400]),
        np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        np.array([300, 100, 50]),
        np.array([0.5, 2.5, 3.0]),
    )
    assert steps.tolist() == [50, 100, 150]
    assert r.tolist() == [2.0, 3.0, 4.0]
    np.testing.assert_allclose(loss, [3.0, 2.5, 2.0])


def test_degenerate_and_bad_input() -> None:
    flat = coupling.lagged_correlation(np.ones(10), np.arange(10.0), 2)
    assert flat.peak_lag is None and np.isnan(flat.r).all()
    short = coupling.lagged_correlation(np.arange(4.0), -np.arange(4.0), 2)
    assert np.isnan(short.r[[0, 4]]).all() and short.peak_lag == -1
    with pytest.raises(NonFiniteError):
        coupling.lagged_correlation(np.array([1.0, np.nan, 2.0]), np.ones(3), 1)
    with pytest.raises(SpectrumError):
        coupling.lagged_correlation(np.ones(3), np.ones(4), 1)
    with pytest.raises(SpectrumError):
        coupling.align(np.ones(3), np.ones(2), np.ones(2), np.ones(2))


def test_min_lag_restricts_the_lags_and_the_peak() -> None:
    r, loss = _led(-2)
    full = coupling.lagged_correlation(r, loss, 5)
    clipped = coupling.lagged_correlation(r, loss, 5, min_lag=-1)
    assert full.peak_lag == -2
    assert clipped.lags.tolist() == [-1, 0, 1, 2, 3, 4, 5]
    assert clipped.peak_lag != -2
    assert clipped.r.tolist() == full.r[full.lags >= -1].tolist()
    with pytest.raises(SpectrumError):
        coupling.lagged_correlation(r, loss, 2, min_lag=3)


def test_bootstrap_peak_lags_concentrate_on_a_clear_lead_and_spread_on_noise() -> None:
    r, loss = _led(2, n=60)
    lags = coupling.bootstrap_peak_lags(r, loss, 5, -3, replicates=300, seed=1)
    assert lags.size == 300
    assert np.mean(lags == 2) > 0.95
    assert lags.min() >= -3 and lags.max() <= 5
    rng = np.random.default_rng(3)
    noise = coupling.bootstrap_peak_lags(
        rng.normal(size=60), rng.normal(size=60), 5, -3, replicates=300, seed=1
    )
    assert np.bincount(noise + 3).max() / noise.size < 0.6
    again = coupling.bootstrap_peak_lags(r, loss, 5, -3, replicates=300, seed=1)
    assert again.tolist() == lags.tolist()


def test_bootstrap_rejects_series_too_short_for_its_blocks() -> None:
    with pytest.raises(SpectrumError):
        coupling.bootstrap_peak_lags(np.ones(3), np.ones(3), 1, block=4)
