"""Granger test against statsmodels (ssr F-test, OLS AIC, nested F with a control regressor)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.tsa.stattools import grangercausalitytests

from analyzer.core import granger
from analyzer.errors import NonFiniteError, SpectrumError


def _series(seed: int, effect: float, n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss, R, lr): loss follows its own lags, the lr schedule and (with effect) R's lags."""
    rng = np.random.default_rng(seed)
    r, lr = rng.normal(size=n), np.linspace(1e-3, 1e-4, n) * (1 + 0.3 * rng.random(n))
    loss = np.zeros(n)
    for t in range(2, n):
        loss[t] = 0.6 * loss[t - 1] - 0.2 * loss[t - 2] + effect * r[t - 2] + 500 * lr[t - 1]
        loss[t] += rng.normal()
    return loss, r, lr


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("effect", [0.0, 0.5])
def test_f_and_p_equal_statsmodels_ssr_ftest(seed: int, effect: float) -> None:
    loss, r, _ = _series(seed, effect)
    reference = grangercausalitytests(np.column_stack([loss, r]), 2)
    for order in (1, 2):
        f_ref, p_ref, df_den, df_num = reference[order][0]["ssr_ftest"]
        f_stat, p_value, df = granger.f_test([loss, r], order)
        assert f_stat == pytest.approx(f_ref, rel=1e-9)
        assert p_value == pytest.approx(p_ref, rel=1e-9, abs=1e-300)
        assert (df, order) == (int(df_den), int(df_num))
    result = granger.granger(loss, r)
    f_ref, p_ref = reference[result.order][0]["ssr_ftest"][:2]
    assert (result.f_stat, result.p_value) == (pytest.approx(f_ref, rel=1e-9), pytest.approx(p_ref))


def _ols(y: np.ndarray, columns: list[np.ndarray]) -> sm.regression.linear_model.RegressionResults:
    return sm.OLS(y, np.column_stack([np.ones(y.size), *columns])).fit()


def _lags(x: np.ndarray, order: int, start: int) -> list[np.ndarray]:
    return [x[start - j : x.size - j] for j in range(1, order + 1)]


@pytest.mark.parametrize("seed", range(4))
def test_order_by_aic_and_control_equal_statsmodels_ols(seed: int) -> None:
    loss, r, lr = _series(seed, 0.4)
    result = granger.granger(loss, r, control=lr)
    for order in (1, 2):
        own = _lags(loss, order, 2) + _lags(lr, order, 2)
        full = _ols(loss[2:], own + _lags(r, order, 2))
        assert result.aic[order] == pytest.approx(full.aic, rel=1e-10)
    assert result.order == min((1, 2), key=lambda p: result.aic[p])
    p = result.order
    own = _lags(loss, p, p) + _lags(lr, p, p)
    f_ref, p_ref, df_diff = _ols(loss[p:], own + _lags(r, p, p)).compare_f_test(_ols(loss[p:], own))
    assert result.f_stat == pytest.approx(f_ref, rel=1e-9)
    assert result.p_value == pytest.approx(p_ref, rel=1e-9, abs=1e-300)
    assert result.df_num == int(df_diff) == p


def test_detects_a_real_effect_and_not_a_null_one() -> None:
    assert granger.granger(*_series(1, 0.6, n=300)[:2]).p_value < 1e-6
    nulls = [granger.granger(*_series(s, 0.0, n=300)[:2]).p_value for s in range(20)]
    assert sum(p < 0.01 for p in nulls) <= 2


def test_bad_input() -> None:
    with pytest.raises(SpectrumError):
        granger.granger(np.ones(5), np.ones(5))
    with pytest.raises(SpectrumError):
        granger.granger(np.ones(30), np.ones(29))
    with pytest.raises(NonFiniteError):
        granger.granger(np.full(30, np.inf), np.ones(30))
