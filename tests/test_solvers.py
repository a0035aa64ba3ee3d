"""Solver-specific behaviour: forms and methods agree, warm starts, the ridge
grid, the optimality conditions, and a property test of the certificate on
random small problems."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxreg
from jaxreg import losses, penalties, solvers
from jaxreg.solvers.primal_dual import optimality as primal_dual_optimality

from _problems import PROBLEM_SHAPES
from _references import null_objective, numpy_duality_gap, objective, reference_solution


@pytest.mark.parametrize("shape", ["tall", "wide_correlated"])
@pytest.mark.parametrize("penalty", [penalties.L1(0.05), penalties.ElasticNetPenalty(0.05, 0.3),
                                     penalties.WeightedL1(np.r_[0.0, np.full(14, 0.05)])],
                         ids=["l1", "enet", "weighted"])
def test_cd_gram_and_residual_forms_agree(shape, penalty, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    if isinstance(penalty, penalties.WeightedL1):
        penalty = penalties.WeightedL1(np.r_[0.0, np.full(X.shape[1] - 1, 0.05)])
    # An unpenalized column on wide data: the projected certificate floors ~1e-11.
    tol = 1e-10 if isinstance(penalty, penalties.WeightedL1) else 1e-14
    gram = jaxreg.solve(X, y, losses.SquaredLoss(), penalty, solver="cd", mode="gram", tol=tol,
                        max_iter=100000)
    residual = jaxreg.solve(X, y, losses.SquaredLoss(), penalty, solver="cd", mode="residual",
                            tol=tol, max_iter=100000)
    fista = jaxreg.solve(X, y, losses.SquaredLoss(), penalty, solver="fista", tol=tol,
                         max_iter=200000)
    ista = jaxreg.solve(X, y, losses.SquaredLoss(), penalty, solver="ista", tol=1e-9,
                        max_iter=400000)
    spec = ("weighted_l1", np.asarray(penalty.weights)) if isinstance(penalty, penalties.WeightedL1) \
        else ("l1", 0.05) if isinstance(penalty, penalties.L1) else ("enet", 0.05, 0.3)
    values = [objective(X, y, np.asarray(s.coef), float(s.intercept), "squared", spec)
              for s in (gram, residual, fista, ista)]
    for s in (gram, residual, fista, ista):
        assert bool(s.converged)
    scale = null_objective(y, "squared")
    np.testing.assert_allclose(values[:3], values[0], rtol=0, atol=10 * tol * scale)
    # Every value is within its own gap of the optimum.
    assert values[3] - min(values) <= float(ista.dual_gap) + 1e-13 * scale
    # The Gram form's O(p) certificate equals the generic one (NumPy).
    np.testing.assert_allclose(
        float(gram.dual_gap),
        numpy_duality_gap(X, y, np.asarray(gram.coef), float(gram.intercept), "squared", spec),
        rtol=1e-6, atol=1e-14 * scale)


@pytest.mark.parametrize("solver, loss", [
    ("cd", losses.SquaredLoss()), ("fista", losses.LogisticLoss()),
    ("primal_dual", losses.QuantileLoss(0.4)),
])
def test_warm_start_lowers_iterations(solver, loss, rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    if isinstance(loss, losses.LogisticLoss):
        y = np.where(y > np.median(y), 1.0, -1.0)
    cold = jaxreg.solve(X, y, loss, penalties.L1(0.02), solver=solver, tol=1e-9, max_iter=100000)
    # Restarting from a solution of a slightly looser tolerance finishes at once.
    loose = jaxreg.solve(X, y, loss, penalties.L1(0.02), solver=solver, tol=1e-7, max_iter=100000)
    warm = jaxreg.solve(X, y, loss, penalties.L1(0.02), solver=solver, tol=1e-9, init=loose,
                        max_iter=100000)
    assert bool(warm.converged)
    assert int(warm.n_iter) < int(cold.n_iter)
    np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-4 * np.abs(cold.coef).max())


def test_ridge_path_one_svd_equals_single_solves_and_grad(rng):
    X, y = PROBLEM_SHAPES["wide_correlated"](rng)
    alphas = np.geomspace(10.0, 1e-3, 7)
    result = jax.jit(solvers.ridge_path)(X, y, alphas)
    coefs, intercepts = result.coefs, result.intercepts
    for k, a in enumerate(alphas):
        w, b = __import__("_references").ridge_closed_form(X, y, a)
        np.testing.assert_allclose(coefs[k], w, atol=1e-9 * np.abs(w).max())
        np.testing.assert_allclose(intercepts[k], b, atol=1e-9 * max(abs(b), 1.0))
    # d coef / d alpha = -(Xc^T Xc / n + alpha I)^{-1} coef  (closed form).
    a = 0.3
    jac = jax.jacobian(lambda a: jaxreg.solve(X, y, losses.SquaredLoss(), penalties.L2(a),
                                              tol=1e-8).coef)(a)
    Xc = X - X.mean(axis=0)
    w, _ = __import__("_references").ridge_closed_form(X, y, a)
    expected = -np.linalg.solve(Xc.T @ Xc / X.shape[0] + a * np.eye(X.shape[1]), w)
    np.testing.assert_allclose(jac, expected, rtol=1e-8, atol=1e-10)


def test_multi_output_ridge_and_fista(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    Y = np.c_[y, -2 * y + rng.standard_normal(len(y))]
    ridge = jaxreg.solve(X, Y, losses.SquaredLoss(), penalties.L2(0.1), tol=1e-12)
    w, b = __import__("_references").ridge_closed_form(X, Y, 0.1)
    np.testing.assert_allclose(ridge.coef, w, atol=1e-10)
    np.testing.assert_allclose(ridge.intercept, b, atol=1e-10)
    lasso = jaxreg.solve(X, Y, losses.SquaredLoss(), penalties.L1(0.05), tol=1e-12,
                         max_iter=100000)
    _, _, f_ref = reference_solution(X, Y, "squared", ("l1", 0.05))
    f = objective(X, Y, np.asarray(lasso.coef), np.asarray(lasso.intercept), "squared", ("l1", 0.05))
    np.testing.assert_allclose(f, f_ref, rtol=1e-8)


@pytest.mark.parametrize("penalty", [penalties.L1(0.02), penalties.L2(0.02),
                                     penalties.ElasticNetPenalty(0.02, 0.5), None],
                         ids=["l1", "l2", "enet", "none"])
def test_primal_dual_optimality(penalty, rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    loss = losses.QuantileLoss(0.3)
    sol = jaxreg.solve(X, y, loss, penalty, tol=1e-12, max_iter=200000)
    assert bool(sol.converged)
    penalty = penalties.NoPenalty() if penalty is None else penalty
    at_solution = primal_dual_optimality(sol.coef, sol.intercept, X, y, None, loss, penalty)
    assert float(jnp.max(jnp.abs(at_solution))) < 1e-8
    perturbed = primal_dual_optimality(sol.coef + 1e-3, sol.intercept, X, y, None, loss, penalty)
    assert float(jnp.max(jnp.abs(perturbed))) > 1e-3


# ---------------------------------------------------------------------------
# Property: on random small problems the certificate is a true bound
# ---------------------------------------------------------------------------

CERTIFIED = [
    (losses.SquaredLoss(), "squared", lambda a: (penalties.L1(a), ("l1", a))),
    (losses.SquaredLoss(), "squared", lambda a: (penalties.ElasticNetPenalty(a, 0.5), ("enet", a, 0.5))),
    (losses.HuberLoss(1.0), ("huber", 1.0), lambda a: (penalties.L1(a), ("l1", a))),
    (losses.LogisticLoss(), "logistic", lambda a: (penalties.L2(a), ("l2", a))),
    (losses.LogisticLoss(), "logistic", lambda a: (penalties.L1(a), ("l1", a))),
    (losses.QuantileLoss(0.5), ("quantile", 0.5), lambda a: (penalties.L1(a), ("l1", a))),
]


@settings(max_examples=200)
@given(case=st.integers(0, len(CERTIFIED) - 1), seed=st.integers(0, 2**31 - 1),
       log_alpha=st.floats(-4.0, 0.0), tol_exponent=st.integers(2, 8),
       fit_intercept=st.booleans())
def test_gap_bounds_suboptimality_on_random_problems(case, seed, log_alpha, tol_exponent,
                                                     fit_intercept):
    loss, loss_spec, make = CERTIFIED[case]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 5)) * rng.uniform(0.1, 3.0, 5)
    y = X @ rng.standard_normal(5) + rng.standard_normal(12)
    if loss_spec == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
        y[0] = -y[0]  # never separable by construction of the median split alone
    penalty, penalty_spec = make(10.0**log_alpha)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
            sol = jaxreg.solve(X, y, loss, penalty, tol=10.0**-tol_exponent, max_iter=20000,
                               fit_intercept=fit_intercept)
    assert np.all(np.isfinite(np.asarray(sol.coef))) and np.isfinite(float(sol.intercept))
    gap = float(sol.dual_gap)
    p_null = null_objective(y, loss_spec, fit_intercept=fit_intercept)
    assert not np.isnan(gap)
    assert gap >= -1e-12 * max(p_null, 1.0)
    if bool(sol.converged):
        assert gap <= 10.0**-tol_exponent * p_null * (1 + 1e-12)
    _, _, f_ref = reference_solution(X, y, loss_spec, penalty_spec, fit_intercept=fit_intercept)
    f = objective(X, y, np.asarray(sol.coef), float(sol.intercept), loss_spec, penalty_spec)
    # The reference is itself accurate to ~1e-10 relative.
    assert f - f_ref <= gap + 1e-9 * max(abs(f_ref), p_null)
