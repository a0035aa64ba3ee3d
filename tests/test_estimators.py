"""scikit-learn compatible estimators (jaxreg.estimators) against scikit-learn.

Every estimator passes scikit-learn's own ``check_estimator`` (no check skipped
or expected to fail) and minimises scikit-learn's objective: coefficients,
intercepts and predictions agree with scikit-learn 1.9 run at tight
tolerances, in float64, on tall and wide (correlated) problems, with and
without sample weights and intercept. Tolerances are relative to
``max|coef|`` and say why.
"""

import os
import subprocess
import sys
import textwrap
import warnings

import cvxpy as cp
import numpy as np
import pytest
from scipy import optimize
from _problems import make_classification_problem, make_outlier_problem, make_regression_problem
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxreg import estimators as E

ESTIMATORS = [E.Lasso(), E.ElasticNet(), E.Ridge(), E.QuantileRegressor(), E.HuberRegressor(),
              E.LogisticRegression(), E.RidgeCV(),
              # check_sample_weight_equivalence's data (p = 2n, repeated rows) pick
              # the smallest alpha, where the lasso needs 2265 epochs: scikit-learn's
              # LassoCV, with the same count, warns there at its default of 1000.
              # ElasticNetCV passes at its default too; with the same max_iter (a
              # static option) the two share their compiled programs.
              E.LassoCV(max_iter=10000), E.ElasticNetCV(max_iter=10000),
              # scikit-learn's own settings for its check of LogisticRegressionCV
              # (explicit l1_ratios, scoring and attribute layout: their defaults
              # warn). Cs=3 would reach C=1e4, where on the checks' separable
              # 3-class data some folds need 100-130 block Newton sweeps to reach
              # tol (scikit-learn's lbfgs stops earlier, on its looser gradient
              # test) and warn at max_iter=100; three moderate values instead.
              E.LogisticRegressionCV(Cs=(0.1, 1.0, 10.0), cv=3, l1_ratios=(0.0,),
                                     scoring="neg_log_loss", use_legacy_attributes=False)]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API is set; with
    # it set, it runs (NumPy namespace, the only one installed).
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# ---------------------------------------------------------------------------
# Problems and helpers
# ---------------------------------------------------------------------------

SHAPES = {"tall": (60, 15), "wide": (20, 80)}


def regression(rng, shape):
    n, p = SHAPES[shape]
    return make_regression_problem(rng, n, p, correlation=0.5 if shape == "wide" else 0.0)


def weights(rng, n):
    """Positive weights, some zero (a dropped sample), with a spread of 10x."""
    s = rng.uniform(0.2, 2.0, n)
    s[::7] = 0.0
    return s


def assert_close_coef(actual, desired, rtol, scale=None):
    """|actual - desired| <= rtol * scale, scale = max|desired| by default (any shapes)."""
    actual, desired = np.asarray(actual, float), np.asarray(desired, float)
    scale = np.abs(desired).max() if scale is None else scale
    np.testing.assert_allclose(actual, desired, rtol=0, atol=rtol * scale)


def size(model):
    """max(|coef|, |intercept|): the scale of a fitted linear model."""
    return max(np.abs(model.coef_).max(), np.abs(model.intercept_).max())


def fit_both(ours, theirs, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y, sample_weight=sample_weight)
    ours.fit(X, y, sample_weight=sample_weight)
    return ours, theirs


# ---------------------------------------------------------------------------
# Squared loss: Lasso, ElasticNet, Ridge
# ---------------------------------------------------------------------------

# Every variant on the tall problem, the main ones on the wide one (each
# static switch, e.g. fit_intercept or positive, compiles another program).
def cases(all_variants, wide_variants):
    return ([("tall", v) for v in all_variants] + [("wide", v) for v in wide_variants])


@pytest.mark.parametrize("shape, variant", cases(["plain", "weighted", "no_intercept", "positive"],
                                                 ["plain", "weighted"]))
@pytest.mark.parametrize("name", ["Lasso", "ElasticNet"])
def test_lasso_elastic_net_match_sklearn(name, shape, variant, rng):
    X, y = regression(rng, shape)
    s = weights(rng, len(y)) if variant == "weighted" else None
    params = dict(alpha=0.05, fit_intercept=variant != "no_intercept",
                  positive=variant == "positive", tol=1e-15, max_iter=10000)
    if name == "ElasticNet":
        params["l1_ratio"] = 0.7
    ours, theirs = fit_both(getattr(E, name)(**params), getattr(sk, name)(**params), X, y, s)
    # Both stop on the same duality-gap test at 1e-15 ||y_c||^2 / n: the
    # objectives agree to ~1e-15 and the (unique: Gaussian X, or the ridge
    # part) minimisers to ~1e-7 (a gap g bounds |w - w*|^2 by 2 g / mu).
    assert_close_coef(ours.coef_, theirs.coef_, 1e-6)
    assert_close_coef(ours.intercept_, theirs.intercept_, 1e-6, size(theirs))
    assert_close_coef(ours.predict(X), theirs.predict(X), 1e-6)
    assert isinstance(ours.n_iter_, int) and ours.n_iter_ >= 1
    # dual_gap_ is in scikit-learn's units: it certifies its own tol.
    sw = np.ones(len(y)) if s is None else s
    y_c = y - (sw @ y / sw.sum() if params["fit_intercept"] else 0.0)
    assert -1e-12 <= ours.dual_gap_ <= 1e-15 * (sw @ y_c**2) / sw.sum()


def test_lasso_multi_output_matches_sklearn(rng):
    X, y = regression(rng, "tall")
    Y = np.column_stack([y, X[:, 0] - 2 * y])
    ours, theirs = fit_both(E.Lasso(alpha=0.1, tol=1e-14), sk.Lasso(alpha=0.1, tol=1e-14), X, Y)
    assert ours.coef_.shape == theirs.coef_.shape == (2, X.shape[1])
    assert_close_coef(ours.coef_, theirs.coef_, 1e-6)
    assert_close_coef(ours.intercept_, theirs.intercept_, 1e-6, size(theirs))
    assert len(ours.n_iter_) == 2 and ours.dual_gap_.shape == (2,)


def test_lasso_default_tol_is_sklearns_gap_test(rng):
    # scikit-learn stops when gap <= tol ||y - mean(y)||^2 / n; so does Lasso(tol).
    X, y = regression(rng, "tall")
    model = E.Lasso(alpha=0.01, tol=1e-3).fit(X, y)
    assert model.dual_gap_ <= 1e-3 * np.var(y)


@pytest.mark.parametrize("shape, variant", cases(
    ["plain", "weighted", "no_intercept", "multi_output", "alpha_per_target", "positive",
     "alpha_zero"], ["plain", "weighted", "alpha_zero"]))
def test_ridge_matches_sklearn(shape, variant, rng):
    X, y = regression(rng, shape)
    s = weights(rng, len(y)) if variant in ("weighted", "positive") else None
    alpha = 3.0
    if variant in ("multi_output", "alpha_per_target"):
        y = np.column_stack([y, X[:, 0] - 2 * y, y**2])
        alpha = np.array([3.0, 0.5, 10.0]) if variant == "alpha_per_target" else alpha
    if variant == "alpha_zero":
        alpha = 0.0
    params = dict(alpha=alpha, fit_intercept=variant != "no_intercept")
    theirs = sk.Ridge(**params)
    if variant == "positive":
        params.update(positive=True, tol=1e-14)
        theirs = sk.Ridge(**params, solver="lbfgs", max_iter=100000)
    if variant == "alpha_zero" and shape == "wide":
        theirs = sk.LinearRegression()   # minimum-norm least squares (Ridge(0) warns)
    ours, theirs = fit_both(E.Ridge(**params), theirs, X, y, s)
    # Closed forms on both sides (round-off); scikit-learn's L-BFGS-B for
    # positive=True is the less accurate side (about 1e-7 of max|w|).
    rtol = 1e-5 if variant == "positive" else 1e-8
    assert_close_coef(ours.coef_, theirs.coef_, rtol)
    assert_close_coef(ours.intercept_, theirs.intercept_, rtol, size(theirs))
    assert np.all(np.asarray(ours.n_iter_) >= 1)


# ---------------------------------------------------------------------------
# QuantileRegressor
# ---------------------------------------------------------------------------


def pinball_objective(X, y, w, b, quantile, alpha, s):
    r = y - X @ w - b
    pinball = np.maximum(quantile * r, (quantile - 1) * r)
    return float(s @ pinball) / s.sum() + alpha * np.abs(w).sum()


@pytest.mark.parametrize("shape, variant", cases(["plain", "weighted", "no_intercept",
                                                  "quantile_0.8"], ["plain", "weighted"]))
def test_quantile_regressor_matches_sklearn(shape, variant, rng):
    n, p = SHAPES[shape]
    X, y = make_outlier_problem(rng, n, p)
    s = weights(rng, n) if variant == "weighted" else None
    params = dict(alpha=0.01, quantile=0.8 if variant == "quantile_0.8" else 0.5,
                  fit_intercept=variant != "no_intercept")
    ours, theirs = fit_both(E.QuantileRegressor(**params, solver_options={"tol": 1e-10}),
                            sk.QuantileRegressor(**params), X, y, s)
    sw = np.ones(n) if s is None else s
    objective = [pinball_objective(X, y, m.coef_, m.intercept_, params["quantile"],
                                   params["alpha"], sw) for m in (ours, theirs)]
    # HiGHS solves the LP exactly; our gap is <= 1e-10 P_null, and P_null is
    # up to ~10 times the optimum here.
    np.testing.assert_allclose(objective[0], objective[1], rtol=1e-8)
    # The LP's vertex is unique for continuous random data.
    assert_close_coef(ours.coef_, theirs.coef_, 1e-6)
    assert_close_coef(ours.intercept_, theirs.intercept_, 1e-6, size(theirs))
    assert ours.dual_gap_ >= -1e-12


# ---------------------------------------------------------------------------
# HuberRegressor
# ---------------------------------------------------------------------------


def huber_objective(X, y, w, b, sigma, epsilon, alpha, s):
    """scikit-learn's objective, sum_i s_i sigma (1 + H(r_i / sigma)) + alpha ||w||^2."""
    z = np.abs(y - X @ w - b) / sigma
    H = np.where(z <= epsilon, z**2, 2 * epsilon * z - epsilon**2)
    return float(s @ (sigma * (1 + H))) + alpha * float(w @ w)


def huber_reference(X, y, epsilon, alpha, s, fit_intercept, start):
    """scikit-learn's objective minimised by L-BFGS-B to the limit of its line search.

    (scikit-learn's own fit also stops on L-BFGS-B's default ``ftol`` of
    2.2e-9, relative: about 1e-5 of max|w| on these problems.)
    """
    p = X.shape[1]

    def value_and_grad(v):
        w, b, sigma = v[:p], (v[p] if fit_intercept else 0.0), v[-1]
        z = (y - X @ w - b) / sigma
        u = 2 * s * np.clip(z, -epsilon, epsilon)
        H = np.where(np.abs(z) <= epsilon, z**2, 2 * epsilon * np.abs(z) - epsilon**2)
        value = float(s @ (sigma * (1 + H))) + alpha * float(w @ w)
        grad = [-X.T @ u + 2 * alpha * w] + ([[-u.sum()]] if fit_intercept else [])
        grad.append([float(s @ (1 - np.minimum(z**2, epsilon**2)))])
        return value, np.concatenate(grad)

    bounds = [(None, None)] * (len(start) - 1) + [(1e-14, None)]
    result = optimize.minimize(value_and_grad, start, jac=True, method="L-BFGS-B", bounds=bounds,
                               options=dict(ftol=0.0, gtol=1e-14, maxiter=100000, maxfun=100000))
    return result.x[:p], (result.x[p] if fit_intercept else 0.0), result.x[-1]


def huber_cvxpy(X, y, epsilon, alpha, s, fit_intercept):
    """Independent reference: sigma H(r / sigma) = min_{a + c = r} a^2 / sigma + 2 eps |c|."""
    n, p = X.shape
    w, b, sigma = cp.Variable(p), cp.Variable(), cp.Variable(pos=True)
    a, c = cp.Variable(n), cp.Variable(n)
    r = y - X @ w - (b if fit_intercept else 0.0)
    objective = (s.sum() * sigma + cp.quad_over_lin(cp.multiply(np.sqrt(s), a), sigma)
                 + 2 * epsilon * s @ cp.abs(c) + alpha * cp.sum_squares(w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # "Solution may be inaccurate"
        cp.Problem(cp.Minimize(objective), [a + c == r]).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    return w.value, (b.value if fit_intercept else 0.0), sigma.value


@pytest.mark.parametrize("variant", ["plain", "weighted", "no_intercept", "alpha_zero",
                                     "epsilon_2"])
def test_huber_regressor_matches_sklearn(variant, rng):
    X, y = make_outlier_problem(rng, 60, 15)
    s = weights(rng, 60) if variant == "weighted" else None
    params = dict(alpha=0.0 if variant == "alpha_zero" else 0.01,
                  epsilon=2.0 if variant == "epsilon_2" else 1.35,
                  fit_intercept=variant != "no_intercept")
    ours, theirs = fit_both(E.HuberRegressor(**params, tol=1e-12),
                            sk.HuberRegressor(**params, tol=1e-12, max_iter=100000), X, y, s)
    sw = np.ones(60) if s is None else s
    objective = [huber_objective(X, y, m.coef_, m.intercept_, m.scale_, params["epsilon"],
                                 params["alpha"], sw) for m in (ours, theirs)]
    # Ours is certified (relative gap 1e-12), and never worse than scikit-learn's.
    assert objective[0] <= objective[1] * (1 + 1e-12)
    assert -1e-13 * objective[0] <= ours.dual_gap_ <= 1e-12 * objective[0]
    np.testing.assert_allclose(objective[0], objective[1], rtol=1e-8)
    # scikit-learn's objective minimised further (from its own solution): the
    # minimiser is unique (strictly convex with inliers), and ours is it.
    start = np.concatenate([theirs.coef_, [theirs.intercept_] if params["fit_intercept"] else [],
                            [theirs.scale_]])
    w, b, sigma = huber_reference(X, y, params["epsilon"], params["alpha"], sw,
                                  params["fit_intercept"], start)
    assert_close_coef(ours.coef_, w, 1e-6)
    assert_close_coef(ours.intercept_, b, 1e-6, np.abs(w).max())
    np.testing.assert_allclose(ours.scale_, sigma, rtol=1e-6)
    np.testing.assert_array_equal(ours.outliers_, theirs.outliers_)
    assert_close_coef(ours.predict(X), theirs.predict(X), 1e-4)   # scikit-learn's own accuracy
    if variant == "plain":
        # An independent solver (conic, Clarabel) on the same objective: its
        # interior point stops at ~1e-9 of max|w|.
        w, b, sigma = huber_cvxpy(X, y, params["epsilon"], params["alpha"], sw, True)
        assert_close_coef(ours.coef_, w, 1e-6)
        np.testing.assert_allclose(ours.scale_, sigma, rtol=1e-6)


def test_huber_regressor_scale_collapses_to_zero():
    # Every sample on a plane: the optimum is at sigma -> 0 (scikit-learn's
    # bound 10 eps), where the fit interpolates (the least absolute deviations
    # limit, solved with jaxreg's primal-dual solver and certified).
    X = np.array([[1, 3], [2, 1], [3, 3], [4, 1]] * 4, float)
    y = 2.5 - 0.5 * X[:, 1]
    model = E.HuberRegressor().fit(X, y)
    np.testing.assert_allclose(model.coef_, [0.0, -0.5], atol=1e-9)
    np.testing.assert_allclose(model.intercept_, 2.5, atol=1e-9)
    assert model.scale_ <= 1e-12
    assert model.dual_gap_ <= 1e-10


def test_huber_regressor_warm_start(rng):
    X, y = make_outlier_problem(rng, 60, 15)
    model = E.HuberRegressor(warm_start=True, tol=1e-10).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ <= 1
    assert_close_coef(model.coef_, first, 1e-8)


# ---------------------------------------------------------------------------
# LogisticRegression
# ---------------------------------------------------------------------------


def logistic_objective(model, X, y, C, l1_ratio, s):
    """scikit-learn's C sum_i s_i loss_i + (1 - rho)/2 ||W||^2 + rho ||W||_1."""
    Z = np.atleast_2d(model.decision_function(X).T).T
    if Z.shape[1] == 1:
        sign = np.where(y == model.classes_[1], 1.0, -1.0)
        losses = np.logaddexp(0, -sign * Z[:, 0])
    else:
        index = np.searchsorted(model.classes_, y)
        losses = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), index]
    W = model.coef_
    return C * float(s @ losses) + 0.5 * (1 - l1_ratio) * (W**2).sum() + l1_ratio * np.abs(W).sum()


@pytest.mark.parametrize("shape, variant", cases(["plain", "weighted", "no_intercept",
                                                  "class_weight"], ["plain", "weighted"]))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_regression_matches_sklearn(shape, n_classes, variant, rng):
    n, p = SHAPES[shape]
    X, y = make_classification_problem(rng, n, p, n_classes=n_classes,
                                       correlation=0.5 if shape == "wide" else 0.0)
    labels = np.array(["ham", "spam", "eggs"])[(y > 0).astype(int) if n_classes == 2 else y]
    s = weights(rng, n) if variant == "weighted" else None
    params = dict(C=0.5, fit_intercept=variant != "no_intercept",
                  class_weight="balanced" if variant == "class_weight" else None)
    ours, theirs = fit_both(E.LogisticRegression(**params, tol=1e-14),
                            sk.LogisticRegression(**params, tol=1e-15, max_iter=10000,
                                                  solver="newton-cholesky"), X, labels, s)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.coef_.shape == theirs.coef_.shape
    assert ours.intercept_.shape == theirs.intercept_.shape
    # Both are Newton methods at round-off tolerances; the coefficients agree
    # to ~1e-8 of max|W| (1e-7 for the multinomial, whose block Newton sweeps
    # converge linearly).
    assert_close_coef(ours.coef_, theirs.coef_, 1e-6)
    assert_close_coef(ours.intercept_, theirs.intercept_, 1e-6, size(theirs))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-7)
    np.testing.assert_allclose(ours.predict_log_proba(X), theirs.predict_log_proba(X), atol=1e-6)
    assert_close_coef(ours.decision_function(X), theirs.decision_function(X), 1e-6)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.n_iter_.shape == (1,) and ours.n_iter_[0] >= 1
    assert ours.dual_gap_ >= -1e-12


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_regression_elastic_net_matches_sklearn(n_classes, l1_ratio, rng):
    X, y = make_classification_problem(rng, 60, 15, n_classes=n_classes)
    C = 0.5
    ours, theirs = fit_both(E.LogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-14),
                            sk.LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga",
                                                  tol=1e-12, max_iter=200000), X, y)
    objective = [logistic_objective(m, X, y, C, l1_ratio, np.ones(60)) for m in (ours, theirs)]
    # SAGA is a stochastic first-order method: our (certified) objective is
    # never above its, and both agree to ~1e-9.
    assert objective[0] <= objective[1] * (1 + 1e-12)
    np.testing.assert_allclose(objective[0], objective[1], rtol=1e-8)
    assert_close_coef(ours.coef_, theirs.coef_, 1e-4)
    assert np.array_equal(ours.coef_ == 0, np.abs(theirs.coef_) < 1e-6)


def test_logistic_regression_unpenalized_matches_sklearn(rng):
    X, y = make_classification_problem(rng, 60, 15)
    ours, theirs = fit_both(E.LogisticRegression(C=np.inf, tol=1e-14),
                            sk.LogisticRegression(C=np.inf, tol=1e-15, max_iter=10000,
                                                  solver="newton-cholesky"), X, y)
    assert_close_coef(ours.coef_, theirs.coef_, 1e-6)


def test_logistic_regression_deprecated_penalty_warns_like_sklearn(rng):
    X, y = make_classification_problem(rng, 60, 15)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        ours = E.LogisticRegression(penalty="l1", l1_ratio=1.0, tol=1e-12).fit(X, y)
    reference = E.LogisticRegression(l1_ratio=1.0, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_)


def test_logistic_regression_warm_start(rng):
    X, y = make_classification_problem(rng, 60, 15, n_classes=3)
    model = E.LogisticRegression(warm_start=True, tol=1e-10).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_[0] <= 1
    assert_close_coef(model.coef_, first, 1e-6)


# ---------------------------------------------------------------------------
# Precision: float64 without jax_enable_x64, float32 stays float32
# ---------------------------------------------------------------------------

X64_SCRIPT = textwrap.dedent("""
    import warnings
    warnings.simplefilter("error")
    import jax
    import numpy as np
    assert not jax.config.jax_enable_x64
    from jaxreg.estimators import Lasso, LogisticRegression
    from sklearn import linear_model as sk
    assert not jax.config.jax_enable_x64, "importing jaxreg.estimators turned x64 on"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 15))
    y = X @ rng.standard_normal(15) + 0.1 * rng.standard_normal(60)
    ours = Lasso(alpha=0.05, tol=1e-14, max_iter=100000).fit(X, y)
    theirs = sk.Lasso(alpha=0.05, tol=1e-14, max_iter=100000).fit(X, y)
    assert ours.coef_.dtype == np.float64, ours.coef_.dtype
    error = np.abs(ours.coef_ - theirs.coef_).max()
    assert error <= 1e-8 * np.abs(theirs.coef_).max(), error
    assert abs(ours.intercept_ - theirs.intercept_) <= 1e-8
    assert not jax.config.jax_enable_x64, "fitting turned x64 on"
    assert jax.numpy.asarray(1.0).dtype == np.float32
    # float32 input stays float32
    ours32 = Lasso(alpha=0.05).fit(X.astype(np.float32), y.astype(np.float32))
    assert ours32.coef_.dtype == np.float32, ours32.coef_.dtype
    clf = LogisticRegression(tol=1e-12).fit(X, y > 0)
    assert clf.coef_.dtype == np.float64
    assert not jax.config.jax_enable_x64
    print("ok")
""")


def test_float64_without_x64_matches_sklearn_in_a_subprocess():
    # The suite's conftest turns x64 on, so a process of its own checks the
    # default (x64 off): float64 results all the same, and no global flip.
    env = dict(os.environ, JAX_ENABLE_X64="0", JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", X64_SCRIPT], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize("name", ["Lasso", "Ridge", "LogisticRegression"])
def test_float32_input_is_fitted_in_float32(name, rng):
    X, y = regression(rng, "tall")
    if name == "LogisticRegression":
        y = y > np.median(y)
    kwargs = dict(tol=1e-5) if name != "Ridge" else {}
    y32 = y if name == "LogisticRegression" else y.astype(np.float32)
    ours32 = getattr(E, name)(**kwargs).fit(X.astype(np.float32), y32)
    ours64 = getattr(E, name)(**kwargs).fit(X, y)
    assert ours32.coef_.dtype == np.float32
    if name == "LogisticRegression":
        assert ours32.decision_function(X.astype(np.float32)).dtype == np.float32
    else:
        assert ours32.predict(X.astype(np.float32)).dtype == np.float32
    # float32 reaches relative gaps of ~1e-6: coefficients within ~1e-4 of max|w|.
    assert_close_coef(ours32.coef_, ours64.coef_, 1e-3)


@pytest.mark.parametrize("name", ["QuantileRegressor", "HuberRegressor"])
def test_float32_input_is_fitted_in_float64_for_the_robust_regressors(name, rng):
    X, y = make_outlier_problem(rng, 60, 15)
    ours32 = getattr(E, name)().fit(X.astype(np.float32), y.astype(np.float32))
    assert ours32.coef_.dtype == np.float64


# ---------------------------------------------------------------------------
# Input validation and messages
# ---------------------------------------------------------------------------

ALL = ["Lasso", "ElasticNet", "Ridge", "QuantileRegressor", "HuberRegressor",
       "LogisticRegression"]


def data_for(name, rng):
    X, y = make_regression_problem(rng, 30, 4)
    if name == "LogisticRegression":
        y = np.where(y > np.median(y), "yes", "no")
    return X, y


@pytest.mark.parametrize("name", ALL)
def test_bad_input_is_refused_with_sklearns_messages(name, rng):
    X, y = data_for(name, rng)
    model = getattr(E, name)()
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.fit(bad, y)
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(29,\), expected \(30,\)"):
        model.fit(X, y, sample_weight=np.ones(29))
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        model.fit(X, y, sample_weight=-np.ones(30))
    model.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4 features"):
        model.predict(X[:, :3])
    from scipy import sparse
    if name in ("Lasso", "ElasticNet"):      # sparse X is fitted (tests/test_sparse.py)
        bad = sparse.csr_matrix(X)
        bad.data[2] = np.nan
        with pytest.raises(ValueError, match="Input X contains NaN"):
            getattr(E, name)().fit(bad, y)
        return
    with pytest.raises(TypeError, match="Sparse data was passed"):
        getattr(E, name)().fit(sparse.csr_matrix(X), y)


@pytest.mark.parametrize("name, parameter, value, message", [
    ("Lasso", "alpha", -0.1, r"The 'alpha' parameter of Lasso must be a float in the range "
                             r"\[0.0, inf\). Got -0.1 instead."),
    ("ElasticNet", "l1_ratio", 1.5, r"The 'l1_ratio' parameter of ElasticNet must be a float in "
                                    r"the range \[0.0, 1.0\]"),
    ("Ridge", "alpha", -1.0, r"The 'alpha' parameter of Ridge must be"),
    ("QuantileRegressor", "quantile", 1.0, r"The 'quantile' parameter of QuantileRegressor must "
                                           r"be a float in the range \(0.0, 1.0\)"),
    ("HuberRegressor", "epsilon", 0.5, r"The 'epsilon' parameter of HuberRegressor must be a "
                                       r"float in the range \[1.0, inf\)"),
    ("LogisticRegression", "C", 0.0, r"The 'C' parameter of LogisticRegression must be a float "
                                     r"in the range \(0.0, inf\]"),
    ("Lasso", "max_iter", 0, r"The 'max_iter' parameter of Lasso must be an int in the range "
                             r"\[1, inf\)"),
])
def test_bad_parameters_are_refused_in_fit(name, parameter, value, message, rng):
    X, y = data_for(name, rng)
    model = getattr(E, name)(**{parameter: value})   # __init__ does not validate
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)


def test_more_messages(rng):
    X, y = data_for("Ridge", rng)
    with pytest.raises(ValueError, match="number of penalties do not correspond: 2 != 1"):
        E.Ridge(alpha=[1.0, 2.0]).fit(X, y)
    with pytest.raises(ValueError, match="solver_options takes"):
        E.QuantileRegressor(solver_options={"presolve": False}).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        E.LogisticRegression().fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="at least 2 classes with a positive weight"):
        E.LogisticRegression().fit(X, np.arange(30) % 2, sample_weight=np.arange(30) % 2)
    with pytest.raises(ValueError, match="Unknown label type"):
        E.LogisticRegression().fit(X, y)   # continuous target


@pytest.mark.parametrize("name, params", [
    ("Lasso", dict(alpha=1e-4, max_iter=1, tol=1e-12)),
    ("HuberRegressor", dict(max_iter=1, tol=1e-15)),
    ("LogisticRegression", dict(max_iter=1, tol=1e-15, C=100.0)),
])
def test_non_convergence_warns_with_the_gap_and_tol(name, params, rng):
    X, y = data_for(name, rng)
    with pytest.warns(ConvergenceWarning, match=r"did not converge .* duality gap .* > tol"):
        getattr(E, name)(**params).fit(X, y)


def test_pandas_feature_names(rng):
    pd = pytest.importorskip("pandas")
    X, y = make_regression_problem(rng, 30, 4)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = E.Lasso(alpha=0.01).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c", "d"])
    assert model.n_features_in_ == 4
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_allclose(model.predict(X), model.predict(frame))


def test_fitted_attributes_are_numpy(rng):
    X, y = make_regression_problem(rng, 30, 4)
    for model in (E.Lasso(alpha=0.01), E.Ridge(), E.HuberRegressor(), E.QuantileRegressor()):
        model.fit(X, y)
        assert type(model.coef_) is np.ndarray
        assert isinstance(model.intercept_, float)
    clf = E.LogisticRegression().fit(X, y > 0)
    assert type(clf.coef_) is np.ndarray and type(clf.intercept_) is np.ndarray


def test_warm_start_lasso(rng):
    X, y = regression(rng, "tall")
    model = E.Lasso(alpha=0.01, warm_start=True, tol=1e-12).fit(X, y)
    first = model.n_iter_
    model.fit(X, y)
    assert model.n_iter_ < first


def test_bucketed_shapes_do_not_change_the_answer(rng):
    # Fits are zero-padded to a few compiled shapes (zero-weight rows, zero
    # columns): the answer is the one of the unpadded problem.
    X, y = make_regression_problem(rng, 37, 5)
    import jaxreg
    import jax
    with jax.enable_x64(True):
        direct = jaxreg.solve(X, y, jaxreg.SquaredLoss(), jaxreg.L1(0.05), tol=2e-14)
    model = E.Lasso(alpha=0.05, tol=1e-14).fit(X, y)
    assert_close_coef(model.coef_, direct.coef, 1e-9)
    np.testing.assert_allclose(model.intercept_, float(direct.intercept), atol=1e-9)


# ---------------------------------------------------------------------------
# Cross-validated estimators
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["plain", "weighted", "positive", "alphas", "splitter"])
@pytest.mark.parametrize("name", ["LassoCV", "ElasticNetCV"])
def test_lasso_elastic_net_cv_match_sklearn(name, variant, rng):
    X, y = regression(rng, "tall")
    s = weights(rng, len(y)) if variant == "weighted" else None
    params = dict(tol=1e-14, max_iter=10000, positive=variant == "positive")
    if name == "ElasticNetCV":
        params["l1_ratio"] = [0.3, 0.9]
    if variant == "alphas":
        params["alphas"] = np.geomspace(1.0, 1e-3, 100)[rng.permutation(100)]
    if variant == "splitter":
        params["cv"] = KFold(4, shuffle=True, random_state=0)
    ours, theirs = fit_both(getattr(E, name)(**params), getattr(sk, name)(**params), X, y, s)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-12)
    assert ours.mse_path_.shape == theirs.mse_path_.shape
    # Every point of every fold at a gap of 1e-14 ||y_c||^2 / n on both sides;
    # a gap g bounds |w - w*|^2 by 2 g / (alpha (1 - rho)), ~1e-12 at the
    # smallest alpha of the elastic net: errors agree to ~1e-6.
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-5)
    np.testing.assert_allclose(ours.alpha_, theirs.alpha_, rtol=1e-13)
    if name == "ElasticNetCV":
        assert ours.l1_ratio_ == theirs.l1_ratio_
    assert_close_coef(ours.coef_, theirs.coef_, 1e-6)
    assert_close_coef(ours.intercept_, theirs.intercept_, 1e-6, size(theirs))
    assert ours.n_iter_ >= 1 and ours.dual_gap_ >= -1e-12
    # Any alpha of the path, against a plain fit there.
    alpha = float(np.atleast_2d(ours.alphas_)[0][40])
    single = sk.ElasticNet(alpha=alpha, l1_ratio=getattr(ours, "l1_ratio_", 1.0), tol=1e-14,
                           max_iter=100000, positive=params["positive"]).fit(X, y, sample_weight=s)
    if name == "LassoCV" or ours.l1_ratio_ == 0.3 or variant == "alphas":
        assert_close_coef(ours.predict(X, alpha=alpha), single.predict(X), 1e-6)


def test_cv_predict_at_an_alpha_off_the_path_is_refused(rng):
    X, y = regression(rng, "tall")
    model = E.LassoCV(alphas=10).fit(X, y)
    with pytest.raises(ValueError, match="is not on the fitted path"):
        model.predict(X, alpha=0.123456)
    with pytest.raises(ValueError, match="grid generation is not supported for l1_ratio=0"):
        E.ElasticNetCV(l1_ratio=0.0).fit(X, y)
    with pytest.raises(ValueError, match=r"alphas\[1\] == -1.0, must be >= 0.0"):
        E.LassoCV(alphas=[1.0, -1.0]).fit(X, y)


@pytest.mark.parametrize("variant", ["plain", "weighted", "no_intercept", "multi_output",
                                     "alpha_per_target", "scoring", "store_cv_results",
                                     "kfold", "kfold_weighted", "kfold_scoring"])
@pytest.mark.parametrize("shape", SHAPES)
def test_ridge_cv_matches_sklearn(shape, variant, rng):
    X, y = regression(rng, shape)
    s = weights(rng, len(y)) if "weighted" in variant else None
    if variant in ("multi_output", "alpha_per_target"):
        y = np.column_stack([y, X[:, 0] - 2 * y])
    params = dict(alphas=[0.01, 0.3, 3.0, 30.0], fit_intercept=variant != "no_intercept",
                  alpha_per_target=variant == "alpha_per_target",
                  store_cv_results=variant == "store_cv_results")
    if variant in ("scoring", "kfold_scoring"):
        params["scoring"] = "neg_mean_absolute_error"
    if variant.startswith("kfold"):
        params["cv"] = 4
    ours, theirs = fit_both(E.RidgeCV(**params), sk.RidgeCV(**params), X, y, s)
    # One SVD against scikit-learn's (eigen/SVD) leave-one-out, or the same
    # closed-form fits per fold: round-off apart.
    np.testing.assert_array_equal(ours.alpha_, theirs.alpha_)
    np.testing.assert_allclose(ours.best_score_, theirs.best_score_, rtol=1e-9)
    assert_close_coef(ours.coef_, theirs.coef_, 1e-9)
    assert_close_coef(ours.intercept_, theirs.intercept_, 1e-9, size(theirs))
    if variant == "store_cv_results":
        np.testing.assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=1e-8)
    alpha = params["alphas"][2]
    single = sk.Ridge(alpha=alpha, fit_intercept=params["fit_intercept"]).fit(X, y, sample_weight=s)
    assert_close_coef(ours.predict(X, alpha=alpha), single.predict(X), 1e-9)


def test_ridge_cv_refuses_a_zero_alpha_for_leave_one_out(rng):
    X, y = regression(rng, "tall")
    with pytest.raises(ValueError, match=r"alphas\[0\] == 0.0, must be > 0.0"):
        E.RidgeCV(alphas=[0.0, 1.0]).fit(X, y)
    with pytest.raises(ValueError, match="cv!=None and store_cv_results=True are incompatible"):
        E.RidgeCV(cv=3, store_cv_results=True).fit(X, y)
