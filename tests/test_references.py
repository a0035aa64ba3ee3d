"""The references of _references.py checked against each other and closed forms.

They judge jaxreg, so they are judged first: every pair where two independent
solvers exist is compared, and every reference solution is certified by the
NumPy duality gap (a small gap proves optimality whatever produced the point).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import optimize
from sklearn import linear_model

from _problems import (CLASSIFICATION_SHAPES, PROBLEM_SHAPES, make_classification_problem,
                       make_outlier_problem, make_regression_problem)
from _references import (cvxpy_solution, linprog_solution, loss_conjugate, loss_grad,
                         loss_values, null_intercept, null_objective, numpy_duality_gap, objective,
                         reference_solution, ridge_closed_form, sklearn_solution)

SHAPES = list(PROBLEM_SHAPES)
REGRESSION_LOSSES = ["squared", ("huber", 0.3), "absolute", ("quantile", 0.3)]
CLASSIFICATION_LOSSES = ["logistic", "multinomial"]
PENALTIES = ["l1", "l2", "enet", "weighted_l1", "group", None]


def _data(loss, shape, rng):
    if loss in CLASSIFICATION_LOSSES:
        return CLASSIFICATION_SHAPES[shape](rng, n_classes=2 if loss == "logistic" else 3)
    return PROBLEM_SHAPES[shape](rng)


def _alpha_scale(X, y):
    """About alpha_max of the lasso (centred targets; one-hot for classes)."""
    target = y if y.dtype.kind == "f" else (y[:, None] == np.unique(y)).astype(float)
    return float(np.abs(X.T @ (target - target.mean(axis=0))).max() / X.shape[0])


def _penalty(name, X, y):
    alpha, p = 0.1 * _alpha_scale(X, y), X.shape[1]
    if name in ("l1", "l2"):
        return (name, alpha)
    if name == "enet":
        return ("enet", alpha, 0.5)
    if name == "weighted_l1":
        weights = alpha * np.linspace(0.5, 1.5, p)
        weights[0] = 0.0   # one unpenalized feature
        return ("weighted_l1", weights)
    if name == "group":
        return ("group", alpha, tuple(j // 3 for j in range(p)))
    return None


def _sample_weight(rng, n):
    s = rng.uniform(0.0, 2.0, n)
    s[:3] = 0.0   # zero weights are legal (CV folds) and must be ignored
    return s


def _rel(a, b, scale):
    return abs(a - b) / scale


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


def test_problems_are_seeded_small_float64():
    for make in list(PROBLEM_SHAPES.values()) + list(CLASSIFICATION_SHAPES.values()):
        X1, y1 = make(np.random.default_rng(3))
        X2, y2 = make(np.random.default_rng(3))
        assert X1.dtype == np.float64 and np.array_equal(X1, X2) and np.array_equal(y1, y2)
    shapes = {name: make(np.random.default_rng(0))[0].shape
              for name, make in PROBLEM_SHAPES.items()}
    assert shapes == {"tall": (60, 15), "wide_correlated": (20, 80), "duplicated": (40, 12)}
    X, _ = PROBLEM_SHAPES["duplicated"](np.random.default_rng(0))
    np.testing.assert_array_equal(X[:, -3:], X[:, :3])


def test_wide_problem_has_toeplitz_correlation(rng):
    X, _ = make_regression_problem(rng, 4000, 6, correlation=0.5)
    corr = np.corrcoef(X, rowvar=False)
    expected = 0.5 ** np.abs(np.subtract.outer(np.arange(6), np.arange(6)))
    np.testing.assert_allclose(corr, expected, atol=0.05)   # sampling error ~ 1/sqrt(n)


@pytest.mark.parametrize("shape", ["tall", "duplicated"])
def test_binary_problems_are_not_separable(shape, rng):
    """n > p problems keep a finite unpenalized logistic fit (label noise)."""
    X, y = CLASSIFICATION_SHAPES[shape](rng)
    assert set(np.unique(y)) == {-1.0, 1.0}
    n, p = X.shape
    # Separable iff y_i (x_i w + b) >= 1 is feasible.
    result = optimize.linprog(np.zeros(p + 1), A_ub=-y[:, None] * np.hstack([X, np.ones((n, 1))]),
                              b_ub=-np.ones(n), bounds=[(None, None)] * (p + 1), method="highs")
    assert result.status == 2   # infeasible


def test_multiclass_and_outlier_problems(rng):
    X, y = make_classification_problem(rng, 30, 4, n_classes=4)
    assert y.dtype.kind == "i" and set(np.unique(y)) == {0, 1, 2, 3}
    X, y = make_outlier_problem(rng, 50, 5, outlier_fraction=0.2)
    residual = y - np.median(y)
    assert np.sum(np.abs(residual) > 10 * np.median(np.abs(residual))) >= 3


# ---------------------------------------------------------------------------
# Two solvers per pair
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_closed_form_matches_sklearn_and_cvxpy(shape, fit_intercept, weighted, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    s = _sample_weight(rng, len(y)) if weighted else None
    penalty = ("l2", 0.1)
    w, b = ridge_closed_form(X, y, 0.1, fit_intercept, s)
    # sklearn's Ridge(alpha) is ||y - Xw - b||_s^2 + alpha ||w||^2 = 2n F: alpha = 0.1 n.
    w_sk, b_sk = sklearn_solution(X, y, "squared", penalty, fit_intercept=fit_intercept,
                                  sample_weight=s)
    w_cp, b_cp = cvxpy_solution(X, y, "squared", penalty, fit_intercept=fit_intercept,
                                sample_weight=s)
    scale = np.abs(w).max()
    # Strongly convex: the minimiser is unique. Measured: <= 1e-12 (sklearn), 1e-10 (cvxpy).
    np.testing.assert_allclose(w_sk, w, atol=1e-10 * scale)
    np.testing.assert_allclose(w_cp, w, atol=1e-8 * scale)
    np.testing.assert_allclose([b_sk, b_cp], [b, b], atol=1e-8 * (abs(b) + 1))
    p_null = null_objective(y, "squared", s, fit_intercept)
    f = objective(X, y, w, b, "squared", penalty, s)
    assert _rel(objective(X, y, w_cp, b_cp, "squared", penalty, s), f, p_null) <= 1e-11


def test_ridge_closed_form_multioutput_and_unpenalized(rng):
    X, y1 = PROBLEM_SHAPES["tall"](rng)
    Y = np.column_stack([y1, rng.standard_normal(len(y1))])
    w, b = ridge_closed_form(X, Y, 0.05)
    w_cp, b_cp = cvxpy_solution(X, Y, "squared", ("l2", 0.05))
    np.testing.assert_allclose(w_cp, w, atol=1e-8)
    np.testing.assert_allclose(b_cp, b, atol=1e-8)
    for k in range(2):   # multi-output = independent columns
        np.testing.assert_allclose(ridge_closed_form(X, Y[:, k], 0.05)[0], w[:, k], atol=1e-12)
    # alpha = 0 is ordinary least squares: residual orthogonal to [1, X].
    w, b = ridge_closed_form(X, y1, 0.0)
    r = y1 - X @ w - b
    np.testing.assert_allclose(np.hstack([np.ones((60, 1)), X]).T @ r, 0.0, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("penalty_name", ["l1", "enet"])
@pytest.mark.parametrize("variant", ["plain", "positive", "weighted", "no_intercept"])
def test_sklearn_enet_matches_cvxpy(shape, penalty_name, variant, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    penalty = _penalty(penalty_name, X, y)
    kwargs = dict(positive=variant == "positive", fit_intercept=variant != "no_intercept",
                  sample_weight=_sample_weight(rng, len(y)) if variant == "weighted" else None)
    w_sk, b_sk = sklearn_solution(X, y, "squared", penalty, **kwargs)
    w_cp, b_cp = cvxpy_solution(X, y, "squared", penalty, **kwargs)
    s = kwargs["sample_weight"]
    p_null = null_objective(y, "squared", s, kwargs["fit_intercept"])
    f_sk = objective(X, y, w_sk, b_sk, "squared", penalty, s)
    f_cp = objective(X, y, w_cp, b_cp, "squared", penalty, s)
    assert _rel(f_sk, f_cp, p_null) <= 1e-10   # measured <= 3e-12
    if kwargs["positive"]:
        assert np.all(w_sk >= 0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss", ["absolute", ("quantile", 0.3), ("quantile", 0.8)])
@pytest.mark.parametrize("penalty_name", ["l1", "weighted_l1", None])
def test_quantile_lp_matches_sklearn_and_cvxpy(shape, loss, penalty_name, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    penalty = _penalty(penalty_name, X, y)
    p_null = null_objective(y, loss)
    w, b, u = linprog_solution(X, y, loss, penalty)
    f = objective(X, y, w, b, loss, penalty)
    w_cp, b_cp = cvxpy_solution(X, y, loss, penalty)
    assert _rel(objective(X, y, w_cp, b_cp, loss, penalty), f, p_null) <= 1e-9  # measured 6e-13
    if penalty_name == "l1":
        # QuantileRegressor(quantile=tau, alpha) is ours; absolute = 2 rho_0.5, alpha / 2.
        w_sk, b_sk = sklearn_solution(X, y, loss, penalty)
        assert _rel(objective(X, y, w_sk, b_sk, loss, penalty), f, p_null) <= 1e-12
    # The LP's marginals are an exact dual point: the gap closes.
    assert abs(numpy_duality_gap(X, y, w, b, loss, penalty, dual=u)) <= 1e-12 * p_null


@pytest.mark.parametrize("shape", ["tall", "duplicated"])
@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
@pytest.mark.parametrize("penalty_name", ["l2", None])
def test_logistic_matches_sklearn(shape, loss, penalty_name, rng):
    X, y = _data(loss, shape, rng)
    penalty = _penalty(penalty_name, X, y)
    s = _sample_weight(rng, len(y))
    w_cp, b_cp, _ = reference_solution(X, y, loss, penalty, sample_weight=s)   # cvxpy+Newton
    # LogisticRegression(C = 1 / (n alpha)); C = inf for no penalty.
    w_sk, b_sk = sklearn_solution(X, y, loss, penalty, sample_weight=s)
    p_null = null_objective(y, loss, s)
    f_cp = objective(X, y, w_cp, b_cp, loss, penalty, s)
    assert _rel(objective(X, y, w_sk, b_sk, loss, penalty, s), f_cp, p_null) <= 1e-9
    if penalty_name == "l2" or shape == "tall":   # otherwise duplicated columns: not unique
        if loss == "multinomial":   # softmax ignores a shift shared by all classes
            w_sk, w_cp = (w - w.mean(axis=1, keepdims=True) for w in (w_sk, w_cp))
        np.testing.assert_allclose(w_sk, w_cp, atol=1e-5 * np.abs(w_cp).max())


@pytest.mark.parametrize("shape", SHAPES)
def test_huber_l2_matches_lbfgs(shape, rng):
    X, y = make_outlier_problem(rng, *PROBLEM_SHAPES[shape](rng)[0].shape)
    loss, penalty = ("huber", 0.3), ("l2", 0.05)
    n, p = X.shape

    def fun(theta):
        w, b = theta[:p], theta[p]
        g = loss_grad(y, X @ w + b, loss) / n
        return objective(X, y, w, b, loss, penalty), np.append(X.T @ g + 0.05 * w, g.sum())

    result = optimize.minimize(fun, np.zeros(p + 1), jac=True, method="L-BFGS-B",
                               options=dict(ftol=1e-16, gtol=1e-12, maxiter=10**5))
    w_cp, b_cp = cvxpy_solution(X, y, loss, penalty)
    p_null = null_objective(y, loss)
    assert _rel(result.fun, objective(X, y, w_cp, b_cp, loss, penalty), p_null) <= 1e-10


@pytest.mark.parametrize("shape", SHAPES)
def test_group_lasso_singletons_equal_lasso(shape, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    alpha = 0.1 * _alpha_scale(X, y)
    w, b, f = reference_solution(X, y, "squared", ("group", alpha, tuple(range(X.shape[1]))))
    _, _, f_lasso = reference_solution(X, y, "squared", ("l1", alpha))
    assert _rel(f, f_lasso, null_objective(y, "squared")) <= 1e-10


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------


def _certified_solution(X, y, loss, penalty, **kwargs):
    """Reference ``(w, b, F*)`` and, for absolute/quantile losses, a dual point
    (the LP's marginals where the LP is the reference, else cvxpy's multiplier)."""
    w, b, f = reference_solution(X, y, loss, penalty, **kwargs)
    if loss == "absolute" or (isinstance(loss, tuple) and loss[0] == "quantile"):
        if penalty is None or penalty[0] in ("l1", "weighted_l1"):
            w, b, dual = linprog_solution(X, y, loss, penalty, **kwargs)
        else:
            w, b, dual = cvxpy_solution(X, y, loss, penalty, return_dual=True, **kwargs)
        return w, b, objective(X, y, w, b, loss, penalty, kwargs.get("sample_weight")), dual
    return w, b, f, None


PAIRS = [(loss, penalty, shape)
         for loss in REGRESSION_LOSSES + CLASSIFICATION_LOSSES
         for penalty in PENALTIES
         for shape in SHAPES
         # p > n classes are separable: no unpenalized minimiser.
         if not (penalty is None and loss in CLASSIFICATION_LOSSES and shape == "wide_correlated")]


@pytest.mark.parametrize("loss, penalty_name, shape", PAIRS, ids=str)
def test_gap_certifies_reference(loss, penalty_name, shape, rng):
    """gap(reference) ~ 0, and gap(w) >= F(w) - F* >= 0 at perturbed points."""
    X, y = _data(loss, shape, rng)
    penalty = _penalty(penalty_name, X, y)
    p_null = null_objective(y, loss)
    w, b, f, dual = _certified_solution(X, y, loss, penalty)
    gap = numpy_duality_gap(X, y, w, b, loss, penalty, dual=dual)
    assert -1e-12 * p_null <= gap <= 1e-9 * p_null   # measured <= 3e-11 relative
    for scale in (1e-3, 1e-1):
        w1 = w + scale * rng.standard_normal(w.shape) * (np.abs(w).max() + 1e-3)
        b1 = b + scale * np.ones_like(b)
        f1 = objective(X, y, w1, b1, loss, penalty)
        gap1 = numpy_duality_gap(X, y, w1, b1, loss, penalty)
        assert f1 - f >= -1e-9 * p_null                  # F* is the minimum
        assert gap1 >= f1 - f - 1e-9 * p_null            # the gap bounds suboptimality


@pytest.mark.parametrize("loss", ["squared", "logistic", "multinomial", ("huber", 0.3)])
@pytest.mark.parametrize("variant", ["plain", "weighted", "no_intercept", "positive"])
def test_gap_is_zero_at_null_model_above_alpha_max(loss, variant, rng):
    X, y = _data(loss, "tall", rng)
    n = len(y)
    fit_intercept = variant != "no_intercept"
    positive = variant == "positive"
    s = _sample_weight(rng, n) if variant == "weighted" else np.ones(n)
    s = s * n / s.sum()
    if fit_intercept:
        b0 = null_intercept(y, loss, s)
    else:
        b0 = np.zeros(3) if loss == "multinomial" else 0.0
    z = np.broadcast_to(b0, (n, 3) if loss == "multinomial" else (n,))
    v = X.T @ (s[:, None] * loss_grad(y, z, loss) if loss == "multinomial"
               else s * loss_grad(y, z, loss)) / n
    alpha_max = float(np.max(-v if positive else np.abs(v)))   # P*(-v) finite for alpha >= this
    w0 = np.zeros_like(v)
    kwargs = dict(sample_weight=s, fit_intercept=fit_intercept, positive=positive)
    p_null = null_objective(y, loss, s, fit_intercept)
    for factor in (1.0 + 1e-9, 2.0):
        gap = numpy_duality_gap(X, y, w0, b0, loss, ("l1", factor * alpha_max), **kwargs)
        assert abs(gap) <= 1e-13 * p_null
    assert numpy_duality_gap(X, y, w0, b0, loss, ("l1", 0.5 * alpha_max), **kwargs) > 1e-6 * p_null


def test_multinomial_gap_stays_tight_when_probabilities_vanish(rng):
    """Near-separable classes: centring u pushes probabilities ~1e-17 below 0, where
    scaling alone gives t = 0 (gap = F); mixing with the class frequencies keeps
    the gap of the order of the suboptimality."""
    X, y = CLASSIFICATION_SHAPES["duplicated"](rng, n_classes=3)
    penalty = ("l1", 1e-3 * _alpha_scale(X, y))
    w, b, f = reference_solution(X, y, "multinomial", penalty)
    w1, b1 = w + 1e-6 * rng.standard_normal(w.shape), b + 1e-6
    u = loss_grad(y, X @ w1 + b1, "multinomial")
    assert np.any(u - u.mean(axis=0) + np.eye(3)[y] < 0)   # the case is exercised
    gap = numpy_duality_gap(X, y, w1, b1, "multinomial", penalty)
    assert objective(X, y, w1, b1, "multinomial", penalty) - f <= gap   # measured 7e-6
    assert gap <= 1e-4 * null_objective(y, "multinomial")


@given(seed=st.integers(0, 2**32 - 1),
       loss=st.sampled_from(REGRESSION_LOSSES + CLASSIFICATION_LOSSES),
       penalty_name=st.sampled_from(PENALTIES),
       fit_intercept=st.booleans(), positive=st.booleans())
def test_weak_duality_at_random_points(seed, loss, penalty_name, fit_intercept, positive):
    """The dual point is feasible, so F(w, b) - D(u) >= F* - D(u) >= 0 anywhere."""
    rng = np.random.default_rng(seed)
    X, y = _data(loss, "tall", rng)
    X, y = X[:25, :6], y[:25]   # small: the check is about signs, not size
    if loss == "multinomial":
        y[:3] = [0, 1, 2]
    else:
        y[:2] = [1.0, -1.0] if loss == "logistic" else y[:2]
    penalty = _penalty(penalty_name, X, y)
    k = (25, 3) if loss == "multinomial" else (25,)
    w = rng.standard_normal((6, 3) if loss == "multinomial" else 6)
    w = np.abs(w) if positive else w
    b = rng.standard_normal(k[1:])
    s = rng.uniform(0.0, 2.0, 25)
    p_null = null_objective(y, loss, s, fit_intercept)
    gap = numpy_duality_gap(X, y, w, b, loss, penalty, sample_weight=s,
                            fit_intercept=fit_intercept, positive=positive)
    assert gap >= -1e-12 * max(p_null, 1.0)


# ---------------------------------------------------------------------------
# Closed forms: null model, conjugates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss", REGRESSION_LOSSES + [("quantile", 0.8)] + CLASSIFICATION_LOSSES)
@pytest.mark.parametrize("weighted", [False, True])
def test_null_objective_is_the_best_constant(loss, weighted, rng):
    X, y = _data(loss, "tall", rng)
    n = len(y)
    s = _sample_weight(rng, n) if weighted else np.ones(n)
    s = s * n / s.sum()
    p_null = null_objective(y, loss, s)
    if loss == "multinomial":
        result = optimize.minimize(
            lambda c: objective(np.zeros((n, 1)), y, np.zeros((1, 3)), c, loss, None, s),
            np.zeros(3), method="BFGS", options=dict(gtol=1e-12))
        best = result.fun
    else:
        def value(c):
            return objective(np.zeros((n, 1)), y, np.zeros(1), c, loss, None, s)
        # Piecewise-linear losses: the minimum is attained at a data point.
        candidates = [value(c) for c in y] if y.dtype.kind == "f" else []
        best = min(candidates + [optimize.minimize_scalar(
            value, bounds=(y.min() - 1, y.max() + 1), method="bounded",
            options=dict(xatol=1e-12)).fun])
    assert p_null <= best + 1e-13 * p_null          # closed form is the minimum...
    assert best - p_null <= 1e-9 * p_null           # ...and a search finds it
    b0 = null_intercept(y, loss, s)
    if loss != "multinomial":
        assert abs(objective(np.zeros((n, 1)), y, np.zeros(1), b0, loss, None, s) - p_null) \
            <= 1e-14 * p_null
    # Without an intercept: b = 0.
    z0 = np.zeros((n, 3)) if loss == "multinomial" else np.zeros(n)
    w0 = np.zeros((1, 3)) if loss == "multinomial" else np.zeros(1)
    assert null_objective(y, loss, s, fit_intercept=False) == pytest.approx(
        objective(np.zeros((n, 1)), y, w0, z0[0], loss, None, s), rel=1e-14)


@pytest.mark.parametrize("loss", REGRESSION_LOSSES + ["logistic"])
def test_loss_conjugate_is_the_supremum(loss, rng):
    """l*(y, u) = sup_z u z - l(y, z), at u inside the domain (Fenchel-Young)."""
    domain = {"squared": (-3.0, 3.0), "absolute": (-1.0, 1.0), "logistic": None}
    if isinstance(loss, tuple):   # quantile [-tau, 1 - tau], Huber [-delta, delta]
        domain[loss] = ((-loss[1], 1 - loss[1]) if loss[0] == "quantile"
                        else (-loss[1], loss[1]))
    for yi in ([1.0, -1.0] if loss == "logistic" else [0.7, -1.3]):
        if loss == "logistic":   # a = -y u in (0, 1)
            us = -yi * np.array([0.1, 0.5, 0.9])
        else:
            lo, hi = domain[loss]
            us = np.array([0.9 * lo, 0.0, 0.9 * hi])
        for u in us:
            def negative(z, u=u, yi=yi):
                return -(u * z - loss_values(np.array([yi]), np.array([z]), loss)[0])
            result = optimize.minimize_scalar(negative, bounds=(-60, 60), method="bounded",
                                              options=dict(xatol=1e-12))
            # Piecewise-linear losses: the sup sits at the kink z = y exactly.
            sup = max(-result.fun, -negative(yi))
            np.testing.assert_allclose(loss_conjugate(np.array([yi]), np.array([u]), loss)[0],
                                       sup, atol=1e-9)


def test_multinomial_conjugate_is_negative_entropy(rng):
    """l*(y, u) = sum p log p with p = u + e_y in the simplex; Fenchel-Young
    equality holds at u = grad l(y, z)."""
    y = np.array([0, 2, 1])
    z = rng.standard_normal((3, 3))
    u = loss_grad(y, z, "multinomial")
    np.testing.assert_allclose(loss_values(y, z, "multinomial")
                               + loss_conjugate(y, u, "multinomial"),
                               np.sum(u * z, axis=1), atol=1e-14)


def test_sklearn_lasso_alpha_is_ours(rng):
    """Lasso(alpha) minimises (1/2n)||r||^2 + alpha ||w||_1: our squared + L1(alpha)."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    alpha = 0.05
    model = linear_model.Lasso(alpha=alpha, tol=1e-14, max_iter=10**6).fit(X, y)
    w, b, f = reference_solution(X, y, "squared", ("l1", alpha))
    np.testing.assert_allclose(model.coef_, w, atol=1e-12)
    r = y - X @ model.coef_ - model.intercept_
    assert f == pytest.approx(r @ r / (2 * len(y)) + alpha * np.abs(model.coef_).sum(),
                              rel=1e-14)
