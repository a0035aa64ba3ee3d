"""``jaxreg.quantile_process``: many quantiles in one compiled call.

References are independent of jaxreg: scikit-learn's
``QuantileRegressor(alpha=0, solver="highs")`` and the linear program written
out here and solved by HiGHS (``scipy.optimize.linprog``). float64 throughout.

Tolerances: the process runs to ``tol = 1e-11`` (gap <= 1e-11 P_null, and
P_null is at most ~10 times the optimum here), so objectives agree with
HiGHS's to 1e-9 relative; coefficients are compared to 1e-6 x max(1, max|w|)
(continuous data: the minimiser is a single vertex, almost surely).
Each distinct (shape, strategy, order of the scan) compiles once: the tests
share a few problems.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize
from sklearn.linear_model import QuantileRegressor

import jaxreg
from jaxreg import penalties
from jaxreg.quantiles import quantile_process_core
from jaxreg.solvers.interior_point import interior_point

TOL = 1e-11
# Unsorted, so that the scan's order (0.5 first, then 0.75, 0.9, then 0.25,
# 0.1) differs from the order given and from the sorted one.
QUANTILES = [0.9, 0.1, 0.5, 0.25, 0.75]


def problem(rng, n=80, p=4):
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 0.5 + rng.standard_t(3, n)
    y[:4] += 15.0           # gross outliers
    return X, y


def pinball_objective(X, y, w, b, tau, l1=0.0, sample_weight=None):
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    r = y - X @ np.asarray(w) - float(b)
    return float(s @ np.maximum(tau * r, (tau - 1) * r)) / s.sum() + l1 * np.abs(w).sum()


def lp_reference(X, y, tau, l1, sample_weight):
    """min (1/S) sum_i s_i rho_tau(r_i) + l1 ||w||_1 as a linear program (HiGHS).

    Variables (w+, w-, b+, b-, u, v) >= 0 with X (w+ - w-) + (b+ - b-) + u - v = y.
    """
    n, p = X.shape
    s = np.asarray(sample_weight, float) / np.sum(sample_weight)
    c = np.concatenate([np.full(2 * p, l1), [0.0, 0.0], tau * s, (1 - tau) * s])
    A = np.hstack([X, -X, np.ones((n, 1)), -np.ones((n, 1)), np.eye(n), -np.eye(n)])
    result = optimize.linprog(c, A_eq=A, b_eq=y, bounds=(0, None), method="highs")
    assert result.status == 0, result.message
    x = result.x
    return x[:p] - x[p:2 * p], x[2 * p] - x[2 * p + 1], result.fun


def assert_certified_optimum(result, k, X, y, tau, w_ref, f_ref, l1=0.0, sample_weight=None):
    f = pinball_objective(X, y, result.coefs[k], result.intercepts[k], tau, l1, sample_weight)
    assert bool(result.converged[k])
    np.testing.assert_allclose(f, f_ref, rtol=1e-9)
    # The certificate: non-negative up to round-off and bounding the suboptimality.
    gap = float(result.dual_gaps[k])
    assert gap >= -1e-12 * abs(f_ref)
    assert f - f_ref <= gap + 1e-12 * abs(f_ref)
    scale = max(1.0, np.abs(w_ref).max())
    np.testing.assert_allclose(result.coefs[k], w_ref, atol=1e-6 * scale)


@pytest.fixture(scope="module")
def data():
    return problem(np.random.default_rng(3))


@pytest.fixture(scope="module")
def warm(data):
    X, y = data
    return jaxreg.quantile_process(X, y, QUANTILES, strategy="warm", tol=TOL)


def test_each_quantile_matches_sklearn_highs_in_the_order_given(data, warm):
    X, y = data
    np.testing.assert_array_equal(np.asarray(warm.quantiles), QUANTILES)
    assert warm.coefs.shape == (len(QUANTILES), X.shape[1])
    assert warm.intercepts.shape == warm.dual_gaps.shape == warm.n_iter.shape == (len(QUANTILES),)
    for k, tau in enumerate(QUANTILES):
        model = QuantileRegressor(quantile=tau, alpha=0.0, solver="highs").fit(X, y)
        f_ref = pinball_objective(X, y, model.coef_, model.intercept_, tau)
        assert_certified_optimum(warm, k, X, y, tau, model.coef_, f_ref)
        np.testing.assert_allclose(warm.intercepts[k], model.intercept_,
                                   atol=1e-6 * max(1.0, abs(model.intercept_)))


def test_warm_and_batched_agree(data, warm):
    X, y = data
    batched = jaxreg.quantile_process(X, y, QUANTILES, strategy="batched", tol=TOL)
    assert bool(batched.converged.all())
    np.testing.assert_array_equal(np.asarray(batched.quantiles), QUANTILES)
    np.testing.assert_allclose(batched.coefs, warm.coefs, atol=1e-6)
    np.testing.assert_allclose(batched.intercepts, warm.intercepts, atol=1e-6)
    # ... and each point equals jaxreg's own single fit at that quantile.
    single = jaxreg.solve(X, y, jaxreg.QuantileLoss(QUANTILES[0]), None, tol=TOL)
    np.testing.assert_allclose(warm.coefs[0], single.coef, atol=1e-6)


def test_l1_penalty_and_sample_weights_match_the_linear_program(rng):
    X, y = problem(rng, n=60, p=5)
    weights = rng.uniform(0.2, 2.0, len(y))
    l1 = 0.05
    quantiles = [0.3, 0.7, 0.5]
    result = jaxreg.quantile_process(X, y, quantiles, penalty=penalties.L1(l1),
                                     sample_weight=weights, tol=TOL)
    for k, tau in enumerate(quantiles):
        w_ref, _, f_ref = lp_reference(X, y, tau, l1, weights)
        assert_certified_optimum(result, k, X, y, tau, w_ref, f_ref, l1, weights)
    # The L1 penalty sets coefficients exactly to zero, as the LP's vertex does.
    assert (np.asarray(result.coefs) == 0).any()


def test_the_core_is_pure_jax(data):
    X, y = data
    jaxpr = str(jax.make_jaxpr(
        lambda X, y, q: quantile_process_core(X, y, q, tol=TOL, strategy="warm"))(
            jnp.asarray(X), jnp.asarray(y), jnp.asarray(sorted(QUANTILES))))
    assert "callback" not in jaxpr
    assert "scan" in jaxpr and "while" in jaxpr
    jaxpr = str(jax.make_jaxpr(
        lambda X, y, q: quantile_process_core(X, y, q, tol=TOL, strategy="batched"))(
            jnp.asarray(X), jnp.asarray(y), jnp.asarray(QUANTILES)))
    assert "callback" not in jaxpr


def test_a_far_warm_start_falls_back_to_the_cold_start(data):
    # Coefficients 1000 times too large: the central-path start from them
    # cannot move, and the solver restarts from the cold start from them.
    X, y = data
    w, b, f_ref = lp_reference(X, y, 0.25, 0.0, np.ones(len(y)))
    sol = interior_point(X, y, jaxreg.QuantileLoss(0.25), None, init=1000.0 * (1.0 + w), tol=TOL)
    assert bool(sol.converged)
    np.testing.assert_allclose(pinball_objective(X, y, sol.coef, sol.intercept, 0.25), f_ref,
                               rtol=1e-9)
    # ... and a start at the neighbouring quantile's solution is used as it is.
    near = interior_point(X, y, jaxreg.QuantileLoss(0.25), None, init=w + 1e-3, tol=TOL)
    assert bool(near.converged) and int(near.n_iter) < int(sol.n_iter)


def test_a_stalling_warm_start_restarts_from_least_squares():
    """init = 0 at the 0.95 quantile of bench_quantile's 20000 x 20 problem (t(3)
    noise, 5 % gross outliers): the central-path start from 0 stalls, and so did
    the cold heuristic from 0 (gap 0.24, not converged, before the restart was
    made to start from least squares): the restart must reach the optimum."""
    rng = np.random.default_rng(0)
    n, p = 20000, 20
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 1.0 + rng.standard_t(3, n)
    bad = rng.random(n) < 0.05
    y[bad] += rng.choice([-1.0, 1.0], bad.sum()) * rng.uniform(20, 50, bad.sum())
    loss = jaxreg.QuantileLoss(0.95)
    cold = interior_point(X, y, loss, None, tol=TOL)
    warm = interior_point(X, y, loss, None, init=np.zeros(p), tol=TOL)
    assert bool(cold.converged) and bool(warm.converged)
    np.testing.assert_allclose(pinball_objective(X, y, warm.coef, warm.intercept, 0.95),
                               pinball_objective(X, y, cold.coef, cold.intercept, 0.95),
                               rtol=1e-9)


@pytest.mark.parametrize(("quantiles", "message"), [
    ([0.5, 1.0], r"open interval \(0, 1\); got 1.0 \(at position 1\)"),
    ([0.0], r"open interval \(0, 1\); got 0.0"),
    ([-0.2, 0.5], r"open interval"),
    ([0.5, np.nan], r"quantiles contains 1 non-finite"),
    ([[0.5]], r"quantiles must be a 1-D array"),
    ([], r"quantiles is empty"),
])
def test_bad_quantiles_raise_clear_errors(data, quantiles, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        jaxreg.quantile_process(X, y, np.asarray(quantiles, float))


def test_bad_input_raises_clear_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="X has 80 rows but y has 79"):
        jaxreg.quantile_process(X, y[:-1], [0.5])
    with pytest.raises(ValueError, match="QuantileLoss takes a 1-D y"):
        jaxreg.quantile_process(X, np.stack([y, y], axis=1), [0.5])
    with pytest.raises(ValueError, match="Unknown strategy 'chunked'"):
        jaxreg.quantile_process(X, y, [0.5], strategy="chunked")
    with pytest.raises(TypeError, match="GroupLassoPenalty"):
        jaxreg.quantile_process(X, y, [0.5], penalty=penalties.GroupLassoPenalty(0.1, (0, 0, 1, 1)))
    with pytest.raises(TypeError, match="not positive"):
        jaxreg.quantile_process(X, y, [0.5], penalty=penalties.L1(0.1, positive=True))
    X_bad = X.copy()
    X_bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        jaxreg.quantile_process(X_bad, y, [0.5])


def test_an_unfinished_process_warns_with_its_worst_gap(data):
    X, y = data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = jaxreg.quantile_process(X, y, QUANTILES, tol=TOL, max_iter=2)
    assert not bool(result.converged.all())
    messages = [str(w.message) for w in caught if issubclass(w.category, jaxreg.ConvergenceWarning)]
    assert len(messages) == 1
    gaps = np.where(np.asarray(result.converged), -np.inf, np.asarray(result.dual_gaps))
    worst = int(np.argmax(gaps))
    assert f"worst duality gap {gaps[worst]:.3e} at quantile={QUANTILES[worst]:.4g}" in messages[0]
