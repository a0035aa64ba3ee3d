"""Closed-form ridge and minimum-norm least squares (jaxreg.solvers.ridge).

References: scikit-learn's ``Ridge(solver="cholesky"/"svd")`` (``Ridge(a)`` is
``L2(a / sum(sample_weight))`` here), NumPy's ``lstsq`` and ``pinv`` for the
minimum-norm solution, the closed-form derivative in alpha, and the NumPy
duality gap of ``_references``. Shapes from ``_problems``: tall 60 x 15, wide
correlated 20 x 80, duplicated columns 40 x 12.
"""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import Ridge

import jaxreg
from jaxreg.losses import HuberLoss, SquaredLoss
from jaxreg.penalties import L1, L2, NoPenalty
from jaxreg.solvers import _common
from jaxreg.solvers.ridge import optimality, ridge, ridge_path

# jaxreg.solvers.ridge is the function (solvers/__init__ re-exports it), not the module.
ridge_module = importlib.import_module("jaxreg.solvers.ridge")

from _problems import PROBLEM_SHAPES
from _references import null_objective, numpy_duality_gap, objective

SHAPES = list(PROBLEM_SHAPES)
METHODS = ["cholesky", "svd"]
# (fit_intercept, weighted)
SETTINGS = {"intercept": (True, False), "weighted": (True, True),
            "no_intercept": (False, False), "weighted_no_intercept": (False, True)}
ALPHA = 0.05   # L2(alpha) = sklearn Ridge(alpha * sum(sample_weight))


def _problem(shape, n_outputs, weighted, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    if n_outputs == 2:
        y = np.c_[y, -2.0 * y + rng.standard_normal(len(y))]
    sw = None
    if weighted:
        sw = rng.uniform(0.2, 3.0, len(X))
        sw[[1, 4]] = 0.0        # zero weights: how CV folds mask rows out
    return X, y, sw


def _weighted_centred(X, y, sw, fit_intercept):
    """NumPy: sqrt(s) * (X - xbar_s), sqrt(s) * (y - ybar_s) and the means."""
    n = X.shape[0]
    s = np.ones(n) if sw is None else sw * n / sw.sum()
    if fit_intercept:
        xm, ym = s @ X / s.sum(), np.tensordot(s, y, axes=1) / s.sum()
    else:
        xm, ym = np.zeros(X.shape[1]), np.zeros(y.shape[1:])
    root = np.sqrt(s)
    return root[:, None] * (X - xm), root.reshape((-1,) + (1,) * (y.ndim - 1)) * (y - ym), xm, ym


def _sklearn(X, y, sw, alpha, fit_intercept, solver):
    total = X.shape[0] if sw is None else sw.sum()
    model = Ridge(alpha=alpha * total, solver=solver, tol=1e-14, fit_intercept=fit_intercept)
    model.fit(X, y, sample_weight=sw)
    # sklearn stores coef_ as (n_outputs, n_features), and intercept_ = 0.0 without one.
    return model.coef_.T, np.broadcast_to(model.intercept_, np.shape(y)[1:])


def _objective(X, y, w, b, alpha, sw):
    return objective(X, y, np.asarray(w), np.asarray(b), "squared",
                     ("l2", alpha) if alpha else None, sample_weight=sw)


# Everything runs jitted (eager op-by-op dispatch is ~10x slower to warm up);
# shared shapes and settings share compilations across tests.
_ridge_jit = jax.jit(ridge, static_argnames=("fit_intercept", "method"))
_path_jit = jax.jit(ridge_path, static_argnames=("fit_intercept",))
# (setting, n_outputs): with and without intercept and weights, 1-D and 2-D y,
# without the full product (each configuration costs a ~0.5 s compilation).
CASES = {"weighted-2d": ("weighted", 2), "no_intercept-1d": ("no_intercept", 1),
         "weighted_no_intercept-1d": ("weighted_no_intercept", 1)}
TWO_CASES = ["weighted-2d", "no_intercept-1d"]
# sklearn's svd solver is checked on every case through ridge_path (same formula).
SKLEARN_CASES = [(m, c) for c in CASES for m in METHODS if m == "cholesky" or c == "weighted-2d"]


# ---------------------------------------------------------------------------
# Against scikit-learn, NumPy lstsq / pinv
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, case", SKLEARN_CASES, ids=["-".join(c) for c in SKLEARN_CASES])
@pytest.mark.parametrize("shape", SHAPES)
def test_ridge_matches_sklearn(shape, method, case, rng):
    setting, n_outputs = CASES[case]
    fit_intercept, weighted = SETTINGS[setting]
    X, y, sw = _problem(shape, n_outputs, weighted, rng)
    sol = _ridge_jit(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, tol=1e-10,
                     fit_intercept=fit_intercept, method=method)
    w_ref, b_ref = _sklearn(X, y, sw, ALPHA, fit_intercept, method)
    assert sol.coef.shape == w_ref.shape and np.shape(sol.intercept) == np.shape(b_ref)
    # alpha > 0: the minimiser is unique, even with duplicated columns.
    np.testing.assert_allclose(sol.coef, w_ref, rtol=0, atol=1e-8 * np.abs(w_ref).max())
    np.testing.assert_allclose(sol.intercept, b_ref, rtol=0,
                               atol=1e-8 * max(np.abs(b_ref).max(), 1))
    np.testing.assert_allclose(_objective(X, y, sol.coef, sol.intercept, ALPHA, sw),
                               _objective(X, y, w_ref, b_ref, ALPHA, sw), rtol=1e-10)
    if not fit_intercept:
        assert np.all(np.asarray(sol.intercept) == 0.0)
    assert bool(sol.converged) and int(sol.n_iter) == 1


@pytest.mark.parametrize("case", TWO_CASES)
@pytest.mark.parametrize("shape", SHAPES)
def test_no_penalty_is_minimum_norm_least_squares(shape, case, rng):
    setting, n_outputs = CASES[case]
    fit_intercept, weighted = SETTINGS[setting]
    X, y, sw = _problem(shape, n_outputs, weighted, rng)
    A, c, xm, ym = _weighted_centred(X, y, sw, fit_intercept)
    w_lstsq = np.linalg.lstsq(A, c, rcond=None)[0]     # minimum norm for rank-deficient A
    w_pinv = np.linalg.pinv(A) @ c
    sol = _ridge_jit(X, y, SquaredLoss(), NoPenalty(), sample_weight=sw, tol=1e-10,
                     fit_intercept=fit_intercept, method="auto")
    scale = np.abs(w_lstsq).max()
    # Unique as the minimum-norm solution; wide and duplicated are rank deficient.
    np.testing.assert_allclose(sol.coef, w_lstsq, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(sol.coef, w_pinv, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(sol.intercept, ym - xm @ w_lstsq, rtol=0, atol=1e-8 * max(scale, 1))
    f_ref = _objective(X, y, w_lstsq, ym - xm @ w_lstsq, 0.0, sw)
    f = _objective(X, y, sol.coef, sol.intercept, 0.0, sw)
    P_null = null_objective(y, "squared", sw, fit_intercept)
    assert abs(f - f_ref) <= 1e-10 * max(f_ref, 1e-6 * P_null)   # wide: f_ref = 0 (interpolation)
    assert bool(sol.converged) and -1e-12 * P_null <= float(sol.dual_gap) <= 1e-10 * P_null
    if shape == "wide_correlated" and case == "weighted-2d":
        # penalty=None and a concrete L2(0) are the same problem, with the same certificate.
        for penalty in (None, L2(0.0)):
            other = ridge(X, y, SquaredLoss(), penalty, sample_weight=sw, tol=1e-10)
            np.testing.assert_allclose(other.coef, sol.coef, rtol=0, atol=1e-12 * scale)
            assert bool(other.converged)


def test_duplicated_columns_share_their_weight(rng):
    """Min-norm (alpha = 0) and ridge (alpha > 0) split a duplicated column's
    coefficient equally between the copies: a property no solver of the
    normal equations alone would guarantee."""
    X, y, _ = _problem("duplicated", 1, False, rng)   # no_intercept-1d: shared compilations
    for penalty, method in [(NoPenalty(), "svd"), (L2(ALPHA), "cholesky"), (L2(ALPHA), "svd")]:
        w = np.asarray(_ridge_jit(X, y, SquaredLoss(), penalty, tol=1e-10, fit_intercept=False,
                                  method="auto" if isinstance(penalty, NoPenalty) else method).coef)
        np.testing.assert_allclose(w[:3], w[-3:], rtol=0, atol=1e-12 * np.abs(w).max())


# ---------------------------------------------------------------------------
# The path: one SVD for the grid
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", TWO_CASES)
@pytest.mark.parametrize("shape", SHAPES)
def test_ridge_path_equals_single_solves_and_sklearn(shape, case, rng):
    setting, n_outputs = CASES[case]
    fit_intercept, weighted = SETTINGS[setting]
    X, y, sw = _problem(shape, n_outputs, weighted, rng)
    alphas = np.r_[np.geomspace(10.0, 1e-4, 6), 0.0]
    path = _path_jit(X, y, alphas, sample_weight=sw, fit_intercept=fit_intercept)
    n_features = X.shape[1]
    assert path.coefs.shape == (7, n_features) + y.shape[1:]
    assert path.intercepts.shape == (7,) + y.shape[1:] and path.dual_gaps.shape == (7,)
    P_null = null_objective(y, "squared", sw, fit_intercept)
    for k, a in enumerate(alphas[:-1]):
        single = _ridge_jit(X, y, SquaredLoss(), L2(a), sample_weight=sw, tol=1e-10,
                            fit_intercept=fit_intercept, method="cholesky")
        w_ref, b_ref = _sklearn(X, y, sw, a, fit_intercept, "svd")
        scale = np.abs(w_ref).max()
        np.testing.assert_allclose(path.coefs[k], single.coef, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(path.coefs[k], w_ref, rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(path.intercepts[k], b_ref, rtol=0,
                                   atol=1e-8 * max(np.abs(b_ref).max(), 1))
        gap = float(path.dual_gaps[k])
        assert -1e-12 * P_null <= gap <= 1e-10 * P_null
        assert abs(gap - float(single.dual_gap)) <= 1e-12 * P_null
    # alpha = 0 in the grid: the minimum-norm solution. L2(0)'s conjugate is the indicator
    # of {0}, so the scaled dual point is theta = 0: a true but loose bound, finite and
    # at least the (zero) suboptimality of the exact least-squares solution.
    single = _ridge_jit(X, y, SquaredLoss(), NoPenalty(), sample_weight=sw, tol=1e-10,
                        fit_intercept=fit_intercept, method="auto")
    np.testing.assert_allclose(path.coefs[-1], single.coef, rtol=0,
                               atol=1e-8 * np.abs(single.coef).max())
    gap = float(path.dual_gaps[-1])
    assert np.isfinite(gap) and gap >= -1e-12 * P_null


# ---------------------------------------------------------------------------
# The certificate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_gap_matches_numpy_and_bounds_suboptimality(shape, rng):
    """(The path's gaps, from the SVD, are checked against these in the path test.)"""
    X, y, sw = _problem(shape, 2, True, rng)
    sol = _ridge_jit(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, tol=1e-12,
                     method="cholesky")
    P_null = null_objective(y, "squared", sw)
    gap = float(sol.dual_gap)
    assert -1e-12 * P_null <= gap <= 1e-12 * P_null
    assert float(_common.null_objective(_common.make_problem(X, y, sw), SquaredLoss())) == \
        pytest.approx(P_null, rel=1e-12)
    f_star = _objective(X, y, sol.coef, sol.intercept, ALPHA, sw)
    # Away from the optimum the gap is an upper bound on F - F* and agrees with NumPy's.
    for step in (1e-3, 1e-1):
        w = np.asarray(sol.coef) + step * rng.standard_normal(sol.coef.shape)
        b = np.asarray(sol.intercept) + step
        ours = float(_gap_jit(X, y, sw, jnp.asarray(w), jnp.asarray(b)))
        reference = numpy_duality_gap(X, y, w, b, "squared", ("l2", ALPHA), sample_weight=sw)
        np.testing.assert_allclose(ours, reference, rtol=1e-10)
        assert ours >= _objective(X, y, w, b, ALPHA, sw) - f_star - 1e-12 * P_null > 0


@jax.jit
def _gap_jit(X, y, sw, w, b):
    problem = _common.make_problem(X, y, sw)
    certificate = _common.make_certificate(problem, SquaredLoss(), L2(ALPHA))
    return _common.duality_gap(problem, SquaredLoss(), L2(ALPHA), certificate, w, b)


def test_converged_follows_tol(rng):
    X, y, sw = _problem("tall", 2, True, rng)
    solve = lambda tol: _ridge_jit(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, tol=tol,
                                   method="cholesky")
    assert bool(solve(1e-12).converged)
    # A negative tol cannot be met: converged must say so.
    assert not bool(solve(-1.0).converged)


# ---------------------------------------------------------------------------
# Transformations: jit, vmap, grad, no retrace, float32
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_jit_equals_eager_and_options_are_ignored(method, rng):
    X, y, sw = _problem("wide_correlated", 1, True, rng)
    eager = ridge(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, method=method)
    jitted = _ridge_jit(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, method=method,
                        init=np.ones(X.shape[1]), max_iter=3)
    for a, b in zip(eager[:5], jitted[:5]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    via_solve = jaxreg.solve(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, tol=1e-10)
    np.testing.assert_allclose(via_solve.coef, eager.coef, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_vmap_over_50_alphas_equals_loop(method, rng):
    X, y, sw = _problem("wide_correlated", 2, True, rng)
    alphas = np.geomspace(10.0, 1e-3, 50)
    batched = jax.jit(jax.vmap(lambda a: ridge(X, y, SquaredLoss(), L2(a), sample_weight=sw,
                                               method=method)))(alphas)
    assert batched.coef.shape == (50, X.shape[1], 2) and batched.dual_gap.shape == (50,)
    for k, a in enumerate(alphas):
        single = _ridge_jit(X, y, SquaredLoss(), L2(a), sample_weight=sw, tol=1e-10, method=method)
        np.testing.assert_allclose(batched.coef[k], single.coef, rtol=0,
                                   atol=1e-10 * np.abs(single.coef).max())
        np.testing.assert_allclose(batched.intercept[k], single.intercept, rtol=0, atol=1e-10)
    assert bool(np.all(batched.converged))
    path = _path_jit(X, y, alphas, sample_weight=sw)
    np.testing.assert_allclose(path.coefs, batched.coef, rtol=0,
                               atol=1e-9 * np.abs(batched.coef).max())


GRAD_CASES = [("tall", "cholesky"), ("wide_correlated", "cholesky"), ("wide_correlated", "svd"),
              ("duplicated", "svd")]   # primal and dual Cholesky; SVD direct and after QR


@pytest.mark.parametrize("shape, method", GRAD_CASES, ids=["-".join(c) for c in GRAD_CASES])
def test_grad_alpha_matches_closed_form(shape, method, rng):
    X, y, sw = _problem(shape, 1, True, rng)
    a = 0.3
    A, _, _, _ = _weighted_centred(X, y, sw, True)

    @jax.jit
    def derivatives(a):
        def f(a):
            return ridge(X, y, SquaredLoss(), L2(a), sample_weight=sw, method=method).coef

        def path(alphas):   # d coefs[k] / d alphas[j]: diagonal in (k, j)
            return ridge_path(X, y, alphas, sample_weight=sw).coefs

        return f(a), jax.jacrev(f)(a), jax.jacfwd(f)(a), jax.jacrev(path)(jnp.stack([a, 2 * a]))

    coef, reverse, forward, path = derivatives(a)
    # d/da of (Xc^T S Xc / n + a I) w = Xc^T S yc / n  gives  dw/da = -(...)^{-1} w.
    expected = -np.linalg.solve(A.T @ A / X.shape[0] + a * np.eye(X.shape[1]), coef)
    atol = 1e-10 * np.abs(expected).max()
    np.testing.assert_allclose(reverse, expected, rtol=1e-8, atol=atol)
    np.testing.assert_allclose(forward, expected, rtol=1e-8, atol=atol)
    np.testing.assert_allclose(path[0, :, 0], expected, rtol=1e-8, atol=atol)
    assert np.all(np.asarray(path[0, :, 1]) == 0.0) and np.all(np.asarray(path[1, :, 0]) == 0.0)


def test_grad_through_validation_loss(rng):
    """A hyperparameter gradient through the closed form, against central differences."""
    X, y, _ = _problem("tall", 1, False, rng)
    Xv, yv = X[:20] + 0.1, y[:20]

    @jax.jit
    def validation(log_alpha):
        sol = ridge(X[20:], y[20:], SquaredLoss(), L2(jnp.exp(log_alpha)))
        return jnp.mean((Xv @ sol.coef + sol.intercept - yv) ** 2)

    h = 1e-5
    central = (validation(0.5 + h) - validation(0.5 - h)) / (2 * h)
    np.testing.assert_allclose(jax.jit(jax.grad(validation))(0.5), central, rtol=1e-6)


def test_no_retrace_on_new_data_of_the_same_shape(rng):
    traces = []

    @jax.jit
    def fit(X, y, alpha):
        traces.append(1)
        return ridge(X, y, SquaredLoss(), L2(alpha)), ridge_path(X, y, jnp.array([alpha, 1.0]))

    for seed in range(3):
        X, y, _ = _problem("tall", 1, False, np.random.default_rng(seed))
        sol, path = fit(X, y, 0.1 * (seed + 1))
        w_ref, _ = _sklearn(X, y, None, 0.1 * (seed + 1), True, "cholesky")
        np.testing.assert_allclose(sol.coef, w_ref, rtol=0, atol=1e-10 * np.abs(w_ref).max())
        np.testing.assert_allclose(path.coefs[0], w_ref, rtol=0, atol=1e-10 * np.abs(w_ref).max())
    assert len(traces) == 1


@pytest.mark.parametrize("shape", ["tall", "wide_correlated"])
def test_float32_keeps_dtype_and_stated_accuracy(shape, rng):
    """Cholesky (primal system for tall, dual for wide) and the path (SVD)."""
    X, y, sw = _problem(shape, 1, True, rng)
    X32, y32, sw32 = (np.asarray(a, np.float32) for a in (X, y, sw))
    sol = _ridge_jit(X32, y32, SquaredLoss(), L2(ALPHA), sample_weight=sw32, tol=1e-5)
    for leaf in (sol.coef, sol.intercept, sol.dual_gap):
        assert leaf.dtype == jnp.float32
    path = _path_jit(X32, y32, np.array([ALPHA, 1.0], np.float32), sample_weight=sw32)
    assert path.coefs.dtype == path.intercepts.dtype == path.dual_gaps.dtype == jnp.float32
    # Reference: float64 on the same (rounded) data. Docstring: relative error
    # ~ u * kappa (Cholesky), u = 6e-8, kappa of the regularised system.
    X64, y64, sw64 = (np.asarray(a, np.float64) for a in (X32, y32, sw32))
    w_ref, b_ref = _sklearn(X64, y64, sw64, ALPHA, True, "svd")
    A, _, _, _ = _weighted_centred(X64, y64, sw64, True)
    eig = np.linalg.eigvalsh(A.T @ A / X.shape[0])
    kappa = (eig.max() + ALPHA) / (max(eig.min(), 0) + ALPHA)
    bound = 10 * np.finfo(np.float32).eps * kappa * np.abs(w_ref).max()
    np.testing.assert_allclose(sol.coef, w_ref, rtol=0, atol=bound)
    np.testing.assert_allclose(path.coefs[0], w_ref, rtol=0, atol=bound)
    P_null = null_objective(y64, "squared", sw64)
    assert abs(float(sol.dual_gap)) <= 1e-5 * P_null and bool(sol.converged)
    assert np.all(np.abs(np.asarray(path.dual_gaps)) <= 1e-5 * P_null)


def test_float32_no_penalty_is_certified_on_rank_deficient_data(rng):
    X, y, _ = _problem("wide_correlated", 1, False, rng)
    sol = _ridge_jit(X.astype(np.float32), y.astype(np.float32), SquaredLoss(), NoPenalty(),
                     tol=1e-5)
    assert sol.coef.dtype == jnp.float32
    np.testing.assert_allclose(sol.coef, np.linalg.pinv(X - X.mean(0)) @ (y - y.mean()),
                               rtol=0, atol=1e-5 * np.abs(sol.coef).max())
    assert bool(sol.converged)


# ---------------------------------------------------------------------------
# Optimality condition and what the closed form refuses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["weighted-2d", "weighted_no_intercept-1d"])
def test_optimality_is_zero_at_the_solution(case, rng):
    setting, n_outputs = CASES[case]
    fit_intercept, weighted = SETTINGS[setting]
    X, y, sw = _problem("wide_correlated", n_outputs, weighted, rng)
    assert ridge_module.optimality is _common.optimality
    sol = _ridge_jit(X, y, SquaredLoss(), L2(ALPHA), sample_weight=sw, tol=1e-10,
                     fit_intercept=fit_intercept, method="cholesky")
    residual = jax.jit(optimality, static_argnames="fit_intercept")
    r_coef, r_b = residual(sol.coef, sol.intercept, X, y, sw, SquaredLoss(), L2(ALPHA),
                           fit_intercept=fit_intercept)
    assert r_coef.shape == sol.coef.shape and r_b.shape == sol.intercept.shape
    assert float(jnp.max(jnp.abs(r_coef))) < 1e-12 and float(jnp.max(jnp.abs(r_b))) < 1e-12
    r_coef, _ = residual(sol.coef + 1e-3, sol.intercept, X, y, sw, SquaredLoss(), L2(ALPHA),
                         fit_intercept=fit_intercept)
    assert float(jnp.max(jnp.abs(r_coef))) > 1e-5


@pytest.mark.parametrize("loss, penalty, match", [
    (HuberLoss(1.0), L2(0.1), "squared loss"),
    (SquaredLoss(), L1(0.1), "L2 or no penalty"),
    (SquaredLoss(), L2(0.1, positive=True), "positive"),
])
def test_rejects_what_has_no_closed_form(loss, penalty, match, rng):
    X, y, _ = _problem("tall", 1, False, rng)
    with pytest.raises(TypeError, match=match):
        ridge(X, y, loss, penalty)


def test_rejects_unknown_method_and_cholesky_without_alpha(rng):
    X, y, _ = _problem("tall", 1, False, rng)
    with pytest.raises(ValueError, match="Unknown method 'qr'"):
        ridge(X, y, SquaredLoss(), L2(0.1), method="qr")
    with pytest.raises(ValueError, match="alpha > 0"):
        ridge(X, y, SquaredLoss(), NoPenalty(), method="cholesky")
