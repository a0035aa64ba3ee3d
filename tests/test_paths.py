"""Regularization paths: grids, scikit-learn's path functions, LARS breakpoints,
strategies, certificates, purity and errors."""

import warnings

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import linear_model

import jaxreg
from jaxreg import losses, paths, penalties
from jaxreg.datasets import load_diabetes

from _problems import CLASSIFICATION_SHAPES, PROBLEM_SHAPES
from _references import null_objective, numpy_duality_gap, objective

N_ALPHAS = 8


def _centred_diabetes():
    X, y = load_diabetes()
    return X - X.mean(0), y - y.mean()


def _toeplitz(rng, n=200, p=5000, rho=0.5, density=0.01):
    """BENCHMARKS.md (c): AR(1) rows, Sigma_ij = rho^|i-j|, 1 % non-zeros, SNR 3."""
    X = np.empty((n, p))
    X[:, 0] = rng.standard_normal(n)
    noise = rng.standard_normal((n, p))
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * noise[:, j]
    w = np.zeros(p)
    support = rng.choice(p, max(1, int(density * p)), replace=False)
    w[support] = rng.choice([-1.0, 1.0], support.size) * rng.uniform(0.5, 2.0, support.size)
    signal = X @ w
    y = signal + rng.standard_normal(n) * np.sqrt(signal.var() / 3)
    return X - X.mean(0), y - y.mean()


def _tall_gaussian(rng, n=100000, p=200):
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    support = rng.choice(p, p // 20, replace=False)
    w[support] = rng.uniform(0.5, 2.0, support.size)
    y = X @ w + rng.standard_normal(n)
    return X - X.mean(0), y - y.mean()


def _lasso_gap(X, y, alpha, w):
    """scikit-learn's lasso gap (BENCHMARKS.md's dual point), no intercept."""
    n = len(y)
    r = y - X @ w
    xtr = np.abs(X.T @ r).max()
    theta = r * min(1.0, n * alpha / xtr) if xtr > 0 else r
    primal = r @ r / (2 * n) + alpha * np.abs(w).sum()
    dual = (y @ y - (y - theta) @ (y - theta)) / (2 * n)
    return primal - dual


# --------------------------------------------------------------------------
# alpha_max and the grid
# --------------------------------------------------------------------------


def test_alpha_max_matches_lasso_cv_grid_top():
    X, y = load_diabetes()
    top = float(jaxreg.alpha_max(X, y, losses.SquaredLoss(), penalties.L1(1.0)))
    reference = linear_model.LassoCV(alphas=3, cv=2).fit(X, y).alphas_[0]
    np.testing.assert_allclose(top, reference, rtol=1e-12)
    enet = float(jaxreg.alpha_max(X, y, losses.SquaredLoss(),
                                  penalties.ElasticNetPenalty(1.0, 0.25)))
    reference = linear_model.ElasticNetCV(alphas=3, cv=2, l1_ratio=0.25).fit(X, y).alphas_[0]
    np.testing.assert_allclose(enet, reference, rtol=1e-12)


CASES = [
    ("squared", "l1"), ("squared", "enet"), ("squared", "group"), ("squared", "positive"),
    ("huber", "l1"), ("logistic", "l1"), ("logistic", "group"), ("multinomial", "l1"),
    ("quantile", "l1"),
]


def _case(loss_name, penalty_name, rng):
    if loss_name in ("logistic", "multinomial"):
        k = 2 if loss_name == "logistic" else 3
        X, y = CLASSIFICATION_SHAPES["tall"](rng, n_classes=k)
        loss = losses.LogisticLoss() if k == 2 else losses.MultinomialLoss(n_classes=3)
    else:
        X, y = PROBLEM_SHAPES["tall"](rng)
        loss = {"squared": losses.SquaredLoss(), "huber": losses.HuberLoss(0.3),
                "quantile": losses.QuantileLoss(0.3)}[loss_name]
    p = X.shape[1]
    penalty = {"l1": penalties.L1(1.0), "enet": penalties.ElasticNetPenalty(1.0, 0.5),
               "group": penalties.GroupLassoPenalty(1.0, tuple(j // 3 for j in range(p))),
               "positive": penalties.L1(1.0, positive=True)}[penalty_name]
    return X, y, loss, penalty


@pytest.mark.parametrize("loss_name,penalty_name", CASES)
def test_alpha_max_is_where_zero_stops_being_optimal(loss_name, penalty_name, rng):
    """At alpha_max the solution is 0; just below it, it is not (checked by solve)."""
    X, y, loss, penalty = _case(loss_name, penalty_name, rng)
    top = float(jaxreg.alpha_max(X, y, loss, penalty))
    assert top > 0
    at = jaxreg.solve(X, y, loss, jaxreg.penalty_at(penalty, top * (1 + 1e-4)), tol=1e-10,
                      max_iter=100000)
    below = jaxreg.solve(X, y, loss, jaxreg.penalty_at(penalty, 0.95 * top), tol=1e-10,
                         max_iter=100000)
    assert np.all(np.asarray(at.coef) == 0)
    assert np.abs(np.asarray(below.coef)).max() > 1e-3 * np.abs(np.asarray(y, float)).std()


def test_alpha_grid_rules():
    X, y = load_diabetes()
    top = float(jaxreg.alpha_max(X, y, losses.SquaredLoss(), penalties.L1(1.0)))
    grid = np.asarray(jaxreg.alpha_grid(X, y, losses.SquaredLoss(), penalties.L1(1.0)))
    np.testing.assert_allclose(grid, np.geomspace(top, 1e-3 * top, 100), rtol=1e-12)
    glmnet = np.asarray(jaxreg.alpha_grid(X, y, losses.SquaredLoss(), penalties.L1(1.0),
                                          n_alphas=5, rule="glmnet"))
    np.testing.assert_allclose(glmnet[-1], 1e-4 * top, rtol=1e-12)      # n > p
    wide = np.asarray(jaxreg.alpha_grid(X[:5], y[:5], losses.SquaredLoss(), penalties.L1(1.0),
                                        n_alphas=5, rule="glmnet"))
    np.testing.assert_allclose(wide[-1] / wide[0], 1e-2, rtol=1e-12)     # p > n


# --------------------------------------------------------------------------
# scikit-learn's lasso_path / enet_path and the exact LARS path
# --------------------------------------------------------------------------


def _compare_with_sklearn(X, y, l1_ratio, n_alphas, eps, duplicated=False, tol=1e-16):
    """Coefficients at every alpha to 1e-6 max|w| (objectives with duplicated columns).

    ``tol`` is scikit-learn's (gap <= tol ||y||^2 / n); 1e-16 is reachable
    thanks to the cancellation-free gap of the Gram form.
    """
    n = len(y)
    ours = jaxreg.enet_path(X, y, l1_ratio=l1_ratio, n_alphas=n_alphas, eps=eps, tol=tol,
                            max_iter=100000)
    alphas, coefs, gaps = ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_alphas, ref_coefs, _ = linear_model.enet_path(
            X, y, l1_ratio=l1_ratio, alphas=alphas, tol=1e-12, max_iter=100000)
    np.testing.assert_allclose(alphas, ref_alphas, rtol=1e-14)
    assert coefs.shape == ref_coefs.shape == (X.shape[1], n_alphas)
    assert np.all(gaps <= tol * (y @ y) / n + 1e-300)
    for k, alpha in enumerate(alphas):
        if duplicated:  # the minimiser is not unique: compare objectives
            penalty = ("enet", alpha, l1_ratio)
            mine = objective(X, y, coefs[:, k], 0.0, "squared", penalty)
            theirs = objective(X, y, ref_coefs[:, k], 0.0, "squared", penalty)
            assert mine <= theirs + 1e-9 * abs(theirs)
        else:
            scale = max(np.abs(ref_coefs[:, k]).max(), np.abs(ref_coefs).max() * 1e-3)
            np.testing.assert_allclose(coefs[:, k], ref_coefs[:, k], rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_enet_path_matches_sklearn_on_diabetes(l1_ratio):
    X, y = _centred_diabetes()
    # The lasso's gap floor at small alpha (|w| ~ 700) is ~1e-12 = 3e-16 ||y||^2 / n.
    _compare_with_sklearn(X, y, l1_ratio, 30, 1e-3, tol=1e-15 if l1_ratio == 1.0 else 1e-16)


def test_lasso_path_matches_sklearn_with_duplicated_columns(rng):
    X, y = PROBLEM_SHAPES["duplicated"](rng)
    _compare_with_sklearn(X - X.mean(0), y - y.mean(), 1.0, 20, 1e-3, duplicated=True, tol=1e-13)


@pytest.mark.slow
def test_lasso_path_matches_sklearn_on_toeplitz_200x5000(rng):
    X, y = _toeplitz(rng)
    _compare_with_sklearn(X, y, 1.0, 10, 1e-2, tol=1e-12)


@pytest.mark.slow
def test_lasso_path_matches_sklearn_on_100000x200(rng):
    X, y = _tall_gaussian(rng)
    _compare_with_sklearn(X, y, 1.0, 10, 1e-3, tol=1e-12)


def test_lasso_path_hits_the_lars_breakpoints():
    """At LARS's breakpoints the lasso solution is known exactly (piecewise-linear path)."""
    X, y = _centred_diabetes()
    lars_alphas, _, lars_coefs = linear_model.lars_path(X, y, method="lasso")
    alphas = lars_alphas[1:-1]           # skip alpha_max (w = 0) and alpha = 0 (OLS)
    _, coefs, _ = jaxreg.lasso_path(X, y, alphas=alphas, tol=1e-12, max_iter=100000)
    scale = np.abs(lars_coefs).max()
    # lars_path returns alphas in decreasing order, as ours.
    np.testing.assert_allclose(coefs, lars_coefs[:, 1:-1], rtol=0, atol=1e-6 * scale)


def test_secant_prediction_is_exact_on_an_affine_piece():
    """With an orthonormal design the lasso solution is soft-thresholding,
    w(alpha) = sign(c) max(|c| - alpha, 0), affine in alpha on each piece: the
    secant prediction from two points of a piece is the solution at the third;
    a coordinate predicted to cross zero, or already zero, starts at zero."""
    c = np.array([3.0, -2.0, 0.5, 0.9])
    solution = lambda alpha: np.sign(c) * np.maximum(np.abs(c) - alpha, 0.0)   # noqa: E731
    a0, a1, a2 = 1.0, 0.8, 0.6
    w0, w1 = solution(a0), solution(a1)            # [2, -1, 0, 0], [2.2, -1.2, 0, 0.1]
    guess = paths._predict(jnp.asarray(w1), jnp.asarray(w0), a2, a1, a0, jnp.asarray(True))
    # Coordinates 0-2 stay on one affine piece: exact. Coordinate 3 entered
    # between a0 and a1 (a kink): its secant 0.1 + 1 x (0.1 - 0) = 0.2 falls
    # short of 0.3, and coordinate descent does the rest.
    np.testing.assert_allclose(guess[:3], solution(a2)[:3], rtol=0, atol=1e-15)
    np.testing.assert_allclose(guess[3], 0.2, rtol=1e-14)
    crossing = paths._predict(jnp.asarray([0.1, 0.0]), jnp.asarray([0.5, 0.3]), 0.4, 0.8, 1.2,
                              jnp.asarray(True))
    np.testing.assert_array_equal(crossing, [0.0, 0.0])
    first = paths._predict(jnp.asarray(w1), jnp.asarray(w0), a2, a1, a0, jnp.asarray(False))
    np.testing.assert_array_equal(first, w1)


def test_warm_path_with_secant_starts_needs_fewer_epochs_same_answer():
    """The secant start changes the number of epochs, not the certified answer."""
    X, y = _centred_diabetes()
    problem = (X, y, losses.SquaredLoss(), penalties.L1(1.0))
    alphas = np.asarray(paths.alpha_grid(*problem, n_alphas=30, fit_intercept=False))
    solver, options = paths.choose_path_solver(X, y, losses.SquaredLoss(), penalties.L1(1.0))
    runs = {}
    for extrapolate in (False, True):
        solve_one = paths._solver_call(solver, None, None, losses.SquaredLoss(), None, False,
                                       1e-10, tuple(options.items()),
                                       paths._numpy_gram(X, y, None, False))
        start = paths._default_start(solve_one, penalties.L1(1.0), jnp.asarray(alphas), None,
                                     None, losses.SquaredLoss(), None, False, solver,
                                     X.shape[1])
        runs[extrapolate] = paths._warm(solve_one, penalties.L1(1.0), jnp.asarray(alphas), start,
                                        extrapolate=extrapolate)
    plain, secant = runs[False], runs[True]
    assert bool(plain.converged.all()) and bool(secant.converged.all())
    assert int(secant.n_iter.sum()) < 0.8 * int(plain.n_iter.sum())
    np.testing.assert_allclose(secant.coef, plain.coef, rtol=0, atol=1e-6 * np.abs(plain.coef).max())


def test_lasso_path_return_n_iter_and_multi_output_shape(rng):
    X, y = _centred_diabetes()
    out = jaxreg.lasso_path(X, y, n_alphas=5, return_n_iter=True)
    assert len(out) == 4 and out[3].shape == (5,)
    with pytest.raises(ValueError, match="coef_init"):
        jaxreg.lasso_path(X, y, coef_init=np.zeros(10))


# --------------------------------------------------------------------------
# jaxreg.path: every pair, strategies, certificates
# --------------------------------------------------------------------------

PATH_CASES = [
    ("squared", "l1"), ("squared", "enet"), ("squared", "group"), ("logistic", "l1"),
    ("multinomial", "l1"), ("huber", "enet"), ("quantile", "l1"),
]


def _spec(loss, penalty, alpha):
    loss_spec = {losses.SquaredLoss: "squared", losses.LogisticLoss: "logistic",
                 losses.MultinomialLoss: "multinomial"}.get(type(loss))
    if isinstance(loss, losses.HuberLoss):
        loss_spec = ("huber", float(loss.delta))
    if isinstance(loss, losses.QuantileLoss):
        loss_spec = ("quantile", float(loss.quantile))
    if isinstance(penalty, penalties.ElasticNetPenalty):
        return loss_spec, ("enet", alpha, float(penalty.l1_ratio))
    if isinstance(penalty, penalties.GroupLassoPenalty):
        return loss_spec, ("group", alpha, penalty.groups)
    return loss_spec, ("l1", alpha)


@pytest.mark.parametrize("loss_name,penalty_name", PATH_CASES)
def test_path_points_equal_single_solves_and_are_certified(loss_name, penalty_name, rng):
    X, y, loss, penalty = _case(loss_name, penalty_name, rng)
    tol = 1e-8
    result = jaxreg.path(X, y, loss, penalty, n_alphas=6, eps=0.05, tol=tol, max_iter=200000)
    assert result.coefs.shape[0] == 6 and bool(result.converged.all())
    loss_spec = _spec(loss, penalty, 0.0)[0]
    P_null = null_objective(y, loss_spec)
    for k in (1, 3, 5):
        alpha = float(result.alphas[k])
        single = jaxreg.solve(X, y, loss, jaxreg.penalty_at(penalty, alpha), tol=1e-11,
                              max_iter=200000)
        loss_spec, penalty_spec = _spec(loss, penalty, alpha)
        mine = objective(X, y, np.asarray(result.coefs[k]), np.asarray(result.intercepts[k]),
                         loss_spec, penalty_spec)
        best = objective(X, y, np.asarray(single.coef), np.asarray(single.intercept),
                         loss_spec, penalty_spec)
        gap = float(result.dual_gaps[k])
        assert -1e-13 * P_null <= gap <= tol * P_null * (1 + 1e-9) + 1e-15
        # the gap bounds the suboptimality against an independent objective evaluation
        assert mine - best <= gap + 1e-12 * P_null
        if loss.smooth:
            ref = numpy_duality_gap(X, y, np.asarray(result.coefs[k]),
                                    np.asarray(result.intercepts[k]), loss_spec, penalty_spec)
            np.testing.assert_allclose(gap, ref, rtol=1e-5, atol=1e-12 * P_null)


@pytest.mark.parametrize("strategy", ["batched", "chunked"])
@pytest.mark.parametrize("loss_name,penalty_name", [("squared", "l1"), ("logistic", "l1")])
def test_strategies_agree_with_warm(strategy, loss_name, penalty_name, rng):
    X, y, loss, penalty = _case(loss_name, penalty_name, rng)
    warm = jaxreg.path(X, y, loss, penalty, n_alphas=7, eps=0.05, tol=1e-10, strategy="warm",
                       max_iter=200000)
    other = jaxreg.path(X, y, loss, penalty, n_alphas=7, eps=0.05, tol=1e-10,
                        strategy=strategy, chunk_size=3, max_iter=200000)
    scale = np.abs(np.asarray(warm.coefs)).max()
    np.testing.assert_allclose(other.coefs, warm.coefs, rtol=0, atol=1e-5 * scale)
    assert bool(other.converged.all())


def test_ridge_path_uses_one_decomposition_and_matches_sklearn(rng):
    X, y = PROBLEM_SHAPES["wide_correlated"](rng)
    alphas = np.geomspace(10.0, 1e-3, 6)
    result = jaxreg.path(X, y, losses.SquaredLoss(), penalties.L2(1.0), alphas, tol=1e-10)
    n = len(y)
    for k, alpha in enumerate(alphas):
        ref = linear_model.Ridge(alpha=alpha * n, solver="svd").fit(X, y)
        np.testing.assert_allclose(result.coefs[k], ref.coef_, rtol=0,
                                   atol=1e-8 * np.abs(ref.coef_).max())
    assert np.all(np.asarray(result.n_iter) == 1) and bool(result.converged.all())


def test_path_with_sample_weight_equals_repeated_rows(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    weights = rng.integers(1, 3, size=len(y)).astype(float)
    alphas = np.geomspace(0.3, 0.01, 5)
    weighted = jaxreg.path(X, y, losses.SquaredLoss(), penalties.L1(1.0), alphas,
                           sample_weight=weights, tol=1e-12)
    repeat = np.repeat(np.arange(len(y)), weights.astype(int))
    repeated = jaxreg.path(X[repeat], y[repeat], losses.SquaredLoss(), penalties.L1(1.0),
                           alphas, tol=1e-12)
    np.testing.assert_allclose(weighted.coefs, repeated.coefs, rtol=0, atol=1e-7)
    np.testing.assert_allclose(weighted.intercepts, repeated.intercepts, rtol=0, atol=1e-7)


# --------------------------------------------------------------------------
# Purity, warnings, errors
# --------------------------------------------------------------------------


def _primitive_names(jaxpr):
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else [param]:
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    names |= _primitive_names(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    names |= _primitive_names(sub)
    return names


@pytest.mark.parametrize("solver,loss", [("cd", losses.SquaredLoss()),
                                         ("fista", losses.LogisticLoss()),
                                         ("primal_dual", losses.AbsoluteLoss())])
def test_path_core_has_no_host_callbacks_and_jits(solver, loss, rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    if isinstance(loss, losses.LogisticLoss):
        y = np.where(y > np.median(y), 1.0, -1.0)
    alphas = jnp.geomspace(0.3, 0.03, 4)

    def f(X, y, alphas):
        return paths.path_core(X, y, loss, penalties.L1(1.0), alphas, tol=1e-6, solver=solver,
                               strategy="warm")

    names = _primitive_names(jax.make_jaxpr(f)(X, y, alphas).jaxpr)
    assert not {name for name in names if "callback" in name}, names
    assert "scan" in names and "while" in names
    jitted = jax.jit(f)
    first = jitted(X, y, alphas)
    second = jitted(X + 0.01, y, alphas)
    assert first.coefs.shape == second.coefs.shape == (4, X.shape[1])
    assert jitted._cache_size() == 1


def test_unconverged_path_warns_with_the_gap(rng):
    X, y = PROBLEM_SHAPES["wide_correlated"](rng)
    with pytest.warns(jaxreg.ConvergenceWarning, match=r"duality gap .*tol"):
        result = jaxreg.path(X, y, losses.SquaredLoss(), penalties.L1(1.0), n_alphas=4,
                             eps=1e-3, tol=1e-14, max_iter=1)
    assert not bool(result.converged.all())


@pytest.mark.parametrize("kwargs,match", [
    (dict(alphas=np.array([1.0, -0.1])), "non-negative"),
    (dict(strategy="fast"), "Unknown strategy"),
    (dict(n_alphas=0), "n_alphas"),
    (dict(eps=2.0), "eps"),
])
def test_bad_path_arguments(kwargs, match, rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    with pytest.raises(ValueError, match=match):
        jaxreg.path(X, y, losses.SquaredLoss(), penalties.L1(1.0), **kwargs)


def test_bad_path_data_and_family(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    # float64 NumPy X with the squared loss: checked on X^T X (Gram form),
    # then in full for the message; a JAX array and the logistic loss: in full.
    X_nan = X.copy()
    X_nan[2, 3] = np.nan
    for data, loss in [(X_nan, losses.SquaredLoss()), (jnp.asarray(X_nan), losses.SquaredLoss()),
                       (X_nan, losses.LogisticLoss())]:
        with pytest.raises(ValueError, match=r"non-finite value \(first at row 2, column 3"):
            jaxreg.path(data, y if loss.__class__ is losses.SquaredLoss else np.sign(y) + (y == 0),
                        loss, penalties.L1(1.0))
    X_inf = X.copy()
    X_inf[5, 0] = -np.inf
    with pytest.raises(ValueError, match="row 5, column 0"):
        jaxreg.path(X_inf, y, losses.SquaredLoss(), penalties.L1(1.0))
    with pytest.raises(ValueError, match="overflows float64"):
        jaxreg.path(X * 1e160, y, losses.SquaredLoss(), penalties.L1(1.0))
    with pytest.raises(ValueError, match="rows"):
        jaxreg.path(X, y[:-1], losses.SquaredLoss(), penalties.L1(1.0))
    with pytest.raises(ValueError, match="penalty family"):
        jaxreg.path(X, y, losses.SquaredLoss(), None)
    with pytest.raises(ValueError, match="zero weights"):
        jaxreg.alpha_max(X, y, losses.SquaredLoss(), penalties.WeightedL1(np.r_[0.0, np.ones(14)]))


@pytest.mark.parametrize("penalty", [penalties.L1(1.0), penalties.ElasticNetPenalty(1.0, 0.3),
                                     penalties.WeightedL1(np.linspace(0.5, 2.0, 15))],
                         ids=["l1", "enet", "weighted"])
def test_default_grid_from_the_gram_statistics_equals_alpha_grid(penalty, rng):
    """path() on NumPy float64 data reads alpha_max off X^T S y (no pass over X
    in JAX): the same grid as alpha_grid, with and without sample weights."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    for sample_weight in (None, rng.uniform(0.5, 2.0, X.shape[0])):
        got = jaxreg.path(X, y, losses.SquaredLoss(), penalty, n_alphas=4, eps=1e-2,
                          sample_weight=sample_weight).alphas
        expected = paths.alpha_grid(jnp.asarray(X), y, losses.SquaredLoss(), penalty, n_alphas=4,
                                    eps=1e-2, sample_weight=sample_weight)
        np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_core_imports_no_scikit_learn():
    """Only the estimator layer imports scikit-learn (checked in a fresh process)."""
    import subprocess
    import sys

    code = ("import sys, jaxreg, jaxreg.paths, jaxreg.crossval, jaxreg.cli; "
            "print(any(m == 'sklearn' or m.startswith('sklearn.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("shape", [(400, 200), (100, 1000)], ids=["gram", "residual"])
def test_batched_path_memory_is_linear_in_the_grid(shape):
    """DESIGN/issue: a batched path needs O(n p + n_alphas (n + p)) memory, not
    O(n_alphas n p) or O(n_alphas p^2): XLA's own accounting of the compiled
    program (temporaries), for 20 and 80 alphas. (A lax.cond whose branches
    closed over G or X broadcast them to the batch under vmap: 7.2 MB for
    20 alphas at 400 x 200, where 20 p^2 doubles are 6.1 MB.)"""
    n, p = shape

    def temp_bytes(m):
        def f(X, y, alphas):
            return paths.path_core(X, y, losses.SquaredLoss(), penalties.L1(1.0), alphas,
                                   tol=1e-6, solver="cd", strategy="batched",
                                   fit_intercept=False,
                                   options=tuple(sorted(paths.choose_path_solver(
                                       np.zeros(shape), np.zeros(n), losses.SquaredLoss(),
                                       penalties.L1(1.0))[1].items())))
        compiled = jax.jit(f).lower(jax.ShapeDtypeStruct(shape, np.float64),
                                    jax.ShapeDtypeStruct((n,), np.float64),
                                    jax.ShapeDtypeStruct((m,), np.float64)).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    small, large = temp_bytes(20), temp_bytes(80)
    per_alpha = (large - small) / 60
    # Per alpha: a few vectors of n or p (working sets, Anderson history,
    # a block of 16 rows of G): at most 32 (n + p) doubles, far below p^2 or n p.
    assert per_alpha <= 8 * 32 * (n + p), per_alpha
    # The rest: X, its transposed copy and G (Gram form): a few n p or p^2.
    assert small - 20 * per_alpha <= 8 * (3 * n * p + 2 * p * p), small
