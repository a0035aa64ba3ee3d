"""Coordinate descent (jaxreg.solvers.cd): both forms against scikit-learn,
cvxpy and closed forms; the certificate against NumPy; jit, vmap, retracing,
warm starts, float32."""

from __future__ import annotations


from functools import partial

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreg import losses, penalties
from jaxreg.solvers import _common
from jaxreg.solvers.cd import coordinate_descent, gram_statistics

from _problems import PROBLEM_SHAPES
from _references import (cvxpy_solution, null_objective, numpy_duality_gap, objective,
                         ridge_closed_form, sklearn_solution)

SQUARED = losses.SquaredLoss()
MODES = ["gram", "residual"]

# One compiled function for the whole file: alpha, l1_ratio, data, weights, tol
# and max_iter are traced, so calls with the same shapes, penalty class and
# static options share one compilation (the lasso is written
# ElasticNetPenalty(alpha, 1.0) and unit weights as an array for that reason).
_cd = jax.jit(coordinate_descent, static_argnames=("fit_intercept", "mode"))


def cd(X, y, penalty, *, max_iter=100_000, check_every=1, **options):
    # max_iter and check_every always passed: traced, never baked in.
    return _cd(jnp.asarray(X), jnp.asarray(y), SQUARED, penalty, max_iter=max_iter,
               check_every=check_every, **options)


def alpha_max(X, y, s=None, fit_intercept=True):
    """Smallest alpha with an all-zero lasso, in NumPy (sklearn's formula)."""
    n = X.shape[0]
    s = np.ones(n) if s is None else s * (n / s.sum())
    if fit_intercept:
        X = X - s @ X / n
        y = y - s @ y / n
    return np.max(np.abs(X.T @ (s * y))) / n


def spec_of(penalty):
    """The reference's description of a jaxreg penalty."""
    if isinstance(penalty, penalties.L1):
        return ("l1", float(penalty.alpha))
    if isinstance(penalty, penalties.ElasticNetPenalty):
        return ("enet", float(penalty.alpha), float(penalty.l1_ratio))
    if isinstance(penalty, penalties.L2):
        return ("l2", float(penalty.alpha))
    return ("weighted_l1", np.asarray(penalty.weights, float))


def weights(rng, n):
    return rng.uniform(0.2, 3.0, n)


def lasso(alpha, positive=False):
    return penalties.ElasticNetPenalty(alpha, 1.0, positive=positive)


# (penalty factory from alpha, sample weights?, fit_intercept)
SKLEARN_CASES = {
    "lasso": (lasso, False, True),
    "enet-weighted": (lambda a: penalties.ElasticNetPenalty(a, 0.5), True, True),
    "lasso-positive-weighted-nointercept": (lambda a: lasso(a, positive=True), True, False),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SKLEARN_CASES)
@pytest.mark.parametrize("shape", PROBLEM_SHAPES)
def test_matches_sklearn(shape, case, mode, rng):
    X, y = PROBLEM_SHAPES[shape](rng)
    make, weighted, fit_intercept = SKLEARN_CASES[case]
    s = weights(rng, X.shape[0]) if weighted else np.ones(X.shape[0])
    alpha = 0.1 * alpha_max(X, y, s, fit_intercept)
    penalty = make(alpha)
    positive = bool(getattr(penalty, "positive", False))
    sol = cd(X, y, penalty, sample_weight=s, fit_intercept=fit_intercept, mode=mode,
             tol=1e-14)
    w_ref, b_ref = sklearn_solution(X, y, "squared", spec_of(penalty), sample_weight=s,
                                    fit_intercept=fit_intercept, positive=positive)
    spec = spec_of(penalty)
    f = objective(X, y, sol.coef, sol.intercept, "squared", spec, s)
    f_ref = objective(X, y, w_ref, b_ref, "squared", spec, s)
    assert bool(sol.converged)
    assert sol.coef.dtype == jnp.float64 and sol.coef.shape == (X.shape[1],)
    if positive:
        assert np.all(np.asarray(sol.coef) >= 0)
    # Both are converged to ~1e-14 P_null; 1e-8 relative is the brief's bar,
    # far above round-off.
    np.testing.assert_allclose(f, f_ref, rtol=1e-8)
    # Our certificate bounds our suboptimality (the reference is within 1e-12).
    assert f - f_ref <= float(sol.dual_gap) + 1e-12 * null_objective(y, "squared", s,
                                                                     fit_intercept)
    if shape != "duplicated":   # duplicated columns: the lasso's w is not unique
        scale = np.max(np.abs(w_ref))
        np.testing.assert_allclose(sol.coef, w_ref, rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(sol.intercept, b_ref, rtol=0, atol=1e-6 * max(scale, 1))
    if not fit_intercept:
        assert float(sol.intercept) == 0.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", ["tall", "wide_correlated"])
def test_weighted_l1_with_unpenalized_features_matches_cvxpy(shape, mode, rng):
    """Zero weights leave features unpenalized: the certificate must project the
    dual point (x_j'r = 0 on them), or the gap would be +inf."""
    X, y = PROBLEM_SHAPES[shape](rng)
    p = X.shape[1]
    w_l1 = 0.1 * alpha_max(X, y) * rng.uniform(0.5, 2.0, p)
    w_l1[[0, 3, 7]] = 0.0
    penalty = penalties.WeightedL1(w_l1)
    s = weights(rng, X.shape[0])
    sol = cd(X, y, penalty, sample_weight=s, mode=mode, tol=1e-12)
    spec = spec_of(penalty)
    w_ref, b_ref = cvxpy_solution(X, y, "squared", spec, sample_weight=s)
    f = objective(X, y, sol.coef, sol.intercept, "squared", spec, s)
    f_ref = objective(X, y, w_ref, b_ref, "squared", spec, s)
    assert bool(sol.converged)
    # Clarabel at 1e-12 is good to ~1e-11 in the objective.
    np.testing.assert_allclose(f, f_ref, rtol=1e-9)
    assert np.all(np.asarray(sol.coef)[[0, 3, 7]] != 0)   # unpenalized: not thresholded
    if shape == "tall":
        np.testing.assert_allclose(sol.coef, w_ref, atol=1e-5 * np.max(np.abs(w_ref)))
    gap = numpy_duality_gap(X, y, np.asarray(sol.coef), float(sol.intercept), "squared",
                            spec, s)
    scale = null_objective(y, "squared", s)
    np.testing.assert_allclose(float(sol.dual_gap), gap, rtol=1e-6, atol=1e-13 * scale)


@pytest.mark.parametrize("mode", MODES)
def test_l2_matches_closed_form(mode, rng):
    """Ridge is alpha-strongly convex: F - F* >= alpha/2 |w - w*|^2, so the
    certified gap bounds the distance to the closed form."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    s = weights(rng, X.shape[0])
    alpha = 0.3
    sol = cd(X, y, penalties.L2(alpha), sample_weight=s, mode=mode, tol=1e-14)
    w_ref, b_ref = ridge_closed_form(X, y, alpha, True, s)
    assert bool(sol.converged)
    distance = np.linalg.norm(np.asarray(sol.coef) - w_ref)
    assert distance <= np.sqrt(2 * max(float(sol.dual_gap), 1e-16) / alpha)
    assert distance <= 1e-6 * np.max(np.abs(w_ref))
    np.testing.assert_allclose(sol.intercept, b_ref, rtol=1e-7)


# --------------------------------------------------------------------------
# The certificate
# --------------------------------------------------------------------------

# (penalty factory from alpha and n_features, fit_intercept)
CERTIFIED = {
    "enet": (lambda a, p: penalties.ElasticNetPenalty(a, 0.5), True),
    "lasso-positive-nointercept": (lambda a, p: lasso(a, positive=True), False),
    "weighted-zeros": (lambda a, p: penalties.WeightedL1(np.r_[0.0, np.full(p - 1, a)]), True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, name", [("tall", "enet"), ("tall", "lasso-positive-nointercept"),
                                         ("wide_correlated", "lasso-positive-nointercept"),
                                         ("tall", "weighted-zeros"),
                                         ("wide_correlated", "weighted-zeros")])
def test_gap_is_the_generic_gap_and_bounds_suboptimality(shape, name, mode, rng):
    """Stopped early (large gap, so that round-off does not hide a wrong formula),
    the reported gap equals jaxreg's generic certificate at the returned point
    and an independent NumPy recomputation, and bounds F - F*."""
    X, y = PROBLEM_SHAPES[shape](rng)
    s = weights(rng, X.shape[0])
    make, fit_intercept = CERTIFIED[name]
    penalty = make(0.1 * alpha_max(X, y, s, fit_intercept), X.shape[1])
    spec = spec_of(penalty)
    scale = null_objective(y, "squared", s, fit_intercept)
    options = dict(sample_weight=s, mode=mode, fit_intercept=fit_intercept)
    early = cd(X, y, penalty, tol=0.0, max_iter=2, **options)
    coef, b = np.asarray(early.coef), float(early.intercept)
    assert int(early.n_iter) == 2 and not bool(early.converged)
    gap = float(early.dual_gap)
    assert 1e-8 * scale < gap < np.inf
    problem = _common.make_problem(X, y, s, fit_intercept)
    generic = _common.duality_gap(problem, SQUARED, penalty,
                                  _common.make_certificate(problem, SQUARED, penalty),
                                  early.coef, early.intercept)
    np.testing.assert_allclose(gap, float(generic), rtol=1e-10)
    np.testing.assert_allclose(
        gap, numpy_duality_gap(X, y, coef, b, "squared", spec, s, fit_intercept,
                               positive=bool(getattr(penalty, "positive", False))),
        rtol=1e-9)
    # The intercept is the best one for coef.
    best_b = np.sum(s * (y - X @ coef)) / s.sum() if fit_intercept else 0.0
    np.testing.assert_allclose(b, best_b, rtol=1e-12)
    # It bounds the suboptimality, and the optimum is reached.
    best = cd(X, y, penalty, tol=1e-14, **options)
    f_star = objective(X, y, best.coef, best.intercept, "squared", spec, s)
    f = objective(X, y, coef, b, "squared", spec, s)
    assert bool(best.converged)
    assert 0 < f - f_star <= gap
    assert -1e-13 * scale <= float(best.dual_gap) <= 1e-14 * scale


@pytest.mark.parametrize("mode", MODES)
def test_stops_on_tol_and_counts_epochs(mode, rng):
    """tol is relative to P_null; n_iter counts epochs in steps of check_every,
    capped by max_iter; converged is gap <= tol * P_null."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    penalty = lasso(0.05 * alpha_max(X, y))
    scale = null_objective(y, "squared")
    options = dict(mode=mode, sample_weight=np.ones(X.shape[0]))
    for tol in (1e-3, 1e-6, 1e-9):
        sol = cd(X, y, penalty, tol=tol, **options)
        assert bool(sol.converged) and float(sol.dual_gap) <= tol * scale
        one_less = cd(X, y, penalty, tol=0.0, max_iter=int(sol.n_iter) - 1, **options)
        assert float(one_less.dual_gap) > tol * scale   # it did not stop late
    coarse = cd(X, y, penalty, tol=1e-9, check_every=4, **options)
    assert int(coarse.n_iter) % 4 == 0 and bool(coarse.converged)
    capped = cd(X, y, penalty, tol=1e-9, check_every=4, max_iter=6, **options)
    assert int(capped.n_iter) == 6 and not bool(capped.converged)
    assert float(capped.dual_gap) > 1e-9 * scale


# --------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_constant_column_keeps_zero_coefficient(mode, rng):
    """A column that is constant (zero after centring, up to round-off) gets
    w_j = 0 even when unpenalized, instead of a division by ~1e-32."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    X = X.copy()
    X[:, 4] = 0.1   # not exactly representable: centring leaves ~1e-17
    X[:, 6] = 0.0
    w_l1 = np.full(X.shape[1], 0.05)
    w_l1[[4, 6]] = 0.0
    penalty = penalties.WeightedL1(w_l1)
    s = np.ones(X.shape[0])
    sol = cd(X, y, penalty, mode=mode, tol=1e-12, sample_weight=s, init=jnp.ones(X.shape[1]))
    assert bool(sol.converged)
    assert float(sol.coef[4]) == 0.0 and float(sol.coef[6]) == 0.0
    keep = np.r_[0:4, 5, 7:X.shape[1]]
    ref = cd(X[:, keep], y, penalties.WeightedL1(w_l1[keep]), mode=mode, tol=1e-12)
    np.testing.assert_allclose(sol.coef[keep], ref.coef, atol=1e-9)


def test_rejects_what_it_cannot_solve():
    X, y = jnp.ones((5, 2)), jnp.ones(5)
    with pytest.raises(TypeError, match="squared loss"):
        coordinate_descent(X, y, losses.HuberLoss(), penalties.L1(0.1))
    with pytest.raises(TypeError, match="separable"):
        coordinate_descent(X, y, SQUARED, penalties.GroupLassoPenalty(0.1, groups=(0, 0)))
    with pytest.raises(ValueError, match="1-D y"):
        coordinate_descent(X, jnp.ones((5, 2)), SQUARED, penalties.L1(0.1))
    with pytest.raises(ValueError, match="mode"):
        coordinate_descent(X, y, SQUARED, penalties.L1(0.1), mode="covariance")


def test_auto_mode_and_precomputed_gram(rng):
    """auto picks the Gram form for n >= p (same iterates), the residual form
    for p > n; a precomputed gram= gives the same answer."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    s = weights(rng, X.shape[0])
    penalty = lasso(0.1 * alpha_max(X, y, s))
    options = dict(sample_weight=s, tol=1e-10)
    auto, gram = cd(X, y, penalty, **options), cd(X, y, penalty, mode="gram", **options)
    np.testing.assert_array_equal(auto.coef, gram.coef)
    stats = gram_statistics(X, y, sample_weight=s)
    given = cd(X, y, penalty, gram=stats, **options)
    np.testing.assert_allclose(given.coef, gram.coef, rtol=0, atol=1e-14)
    np.testing.assert_allclose(given.intercept, gram.intercept, rtol=1e-13)
    assert int(given.n_iter) == int(gram.n_iter)
    Xw, yw = PROBLEM_SHAPES["wide_correlated"](rng)
    options = dict(sample_weight=np.ones(Xw.shape[0]), tol=1e-10)
    penalty = lasso(0.1 * alpha_max(Xw, yw))
    auto, residual = cd(Xw, yw, penalty, **options), cd(Xw, yw, penalty, mode="residual",
                                                          **options)
    np.testing.assert_array_equal(auto.coef, residual.coef)
    # With the statistics given, X and y may be left out (paths over NumPy data).
    alone = coordinate_descent(None, None, SQUARED, penalty := lasso(0.1 * alpha_max(X, y, s)),
                               gram=stats, sample_weight=s, tol=1e-10, max_iter=100_000)
    np.testing.assert_allclose(alone.coef, given.coef, rtol=0, atol=1e-14)
    np.testing.assert_allclose(alone.intercept, given.intercept, rtol=1e-13)
    with pytest.raises(ValueError, match="needs X and y unless gram"):
        coordinate_descent(None, None, SQUARED, penalty)


@pytest.mark.parametrize("penalty", [
    penalties.L1(0.05), penalties.L1(0.05, positive=True), penalties.ElasticNetPenalty(0.05, 0.4),
    penalties.WeightedL1(np.linspace(0.0, 0.1, 37))], ids=["l1", "l1+", "enet", "weighted"])
def test_gram_sweep_is_cyclic_coordinate_descent(penalty, rng):
    """The Gram form's sweep gives exactly the iterates of one-coordinate-at-a-time
    cyclic CD (a NumPy loop here) over a working-set prefix of a permuted order,
    and keeps q = G w."""
    from jaxreg.solvers import cd as cd_module

    p = 37
    A = rng.standard_normal((60, p))
    G, c = A.T @ A / 60, A.T @ rng.standard_normal(60) / 60
    w = rng.standard_normal(p) * (rng.uniform(size=p) < 0.5)
    order = rng.permutation(p).astype(np.int32)
    size = 29
    stats = cd_module.GramStatistics(jnp.asarray(G), jnp.asarray(c), jnp.asarray(1.0),
                                     jnp.zeros(p), jnp.asarray(0.0))
    sweep, _, _, q0 = cd_module._gram_form(stats, penalty, None, jnp.asarray(w))
    out, q = sweep(jnp.asarray(w), q0, jnp.asarray(order), jnp.int32(size))
    spec = spec_of(penalty) if not isinstance(penalty, penalties.WeightedL1) else None
    expected = w.copy()
    for j in order[:size]:
        g = G[j] @ expected - c[j]
        v = expected[j] - g / G[j, j]
        if isinstance(penalty, penalties.WeightedL1):
            l1, l2 = np.asarray(penalty.weights)[j], 0.0
        elif spec[0] == "enet":
            l1, l2 = spec[1] * spec[2], spec[1] * (1 - spec[2])
        else:
            l1, l2 = spec[1], 0.0
        if getattr(penalty, "positive", False):
            shrunk = max(v - l1 / G[j, j], 0.0)
        else:
            shrunk = np.sign(v) * max(abs(v) - l1 / G[j, j], 0.0)
        expected[j] = shrunk / (1 + l2 / G[j, j])
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(q, G @ expected, rtol=0, atol=1e-12)
    assert np.all(np.asarray(out)[order[size:]] == w[order[size:]])


@pytest.mark.parametrize("n_active, n_violating", [(0, 0), (0, 25), (6, 40), (30, 5)])
def test_working_set_is_active_then_worst_violators(n_active, n_violating, rng):
    """The working set: every non-zero coordinate, then the largest KKT violations
    (a NumPy sort here), at most max(n_active, 10) of them, in index order; the
    whole order is a permutation of the coordinates."""
    from jaxreg.solvers import cd as cd_module

    p, alpha = 200, 1.0
    w = np.zeros(p)
    chosen = rng.permutation(p)
    active, violating = chosen[:n_active], chosen[n_active:n_active + n_violating]
    w[active] = rng.standard_normal(n_active)
    v = rng.uniform(-alpha, alpha, p)                   # inside the dual ball: no violation
    v[violating] = np.sign(rng.standard_normal(n_violating)) * (alpha + rng.exponential(1.0, n_violating))
    order, size = cd_module._working_set(penalties.L1(alpha), jnp.asarray(w), jnp.asarray(v),
                                         None, 10)
    order, size = np.asarray(order), int(size)
    distance = np.where(w != 0, 0.0, np.maximum(np.abs(v) - alpha, 0.0))
    grow = min(n_violating, max(n_active, 10))
    worst = np.argsort(-distance, kind="stable")[:grow]
    expected = np.sort(np.concatenate([active, worst]).astype(int))
    assert size == max(len(expected), 1)
    if len(expected):
        np.testing.assert_array_equal(order[:size], expected)
    np.testing.assert_array_equal(np.sort(order), np.arange(p))


# --------------------------------------------------------------------------
# Transformations
# --------------------------------------------------------------------------


def test_jit_equals_eager(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    penalty = penalties.ElasticNetPenalty(0.1 * alpha_max(X, y), 0.8)
    s = np.ones(X.shape[0])
    eager = coordinate_descent(jnp.asarray(X), jnp.asarray(y), SQUARED, penalty,
                               sample_weight=s, mode="residual", tol=1e-10)
    jitted = cd(X, y, penalty, sample_weight=s, mode="residual", tol=1e-10)
    np.testing.assert_allclose(jitted.coef, eager.coef, rtol=0, atol=1e-13)
    assert int(jitted.n_iter) == int(eager.n_iter) and bool(jitted.converged)


@pytest.mark.parametrize("mode, shape", [("gram", "tall"), ("residual", "wide_correlated")])
def test_vmap_over_alpha_equals_separate_calls(mode, shape, rng):
    """Each member of a batched while_loop keeps its own iterates and n_iter."""
    X, y = PROBLEM_SHAPES[shape](rng)
    s = np.ones(X.shape[0])
    alphas = alpha_max(X, y) * np.geomspace(1.0, 1e-2, 50)
    batched = jax.jit(jax.vmap(
        lambda a: coordinate_descent(X, y, SQUARED, lasso(a), sample_weight=s, mode=mode,
                                     tol=1e-10)))(jnp.asarray(alphas))
    for k, a in enumerate(alphas):
        single = cd(X, y, lasso(a), sample_weight=s, mode=mode, tol=1e-10)
        np.testing.assert_allclose(batched.coef[k], single.coef, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(batched.intercept[k], single.intercept, rtol=1e-9)
        assert int(batched.n_iter[k]) == int(single.n_iter)
        np.testing.assert_allclose(batched.dual_gap[k], single.dual_gap, rtol=1e-6,
                                   atol=1e-14 * null_objective(y, "squared"))
    assert bool(jnp.all(batched.converged))
    assert len(set(np.asarray(batched.n_iter).tolist())) > 1   # members stop apart


def test_no_retrace_for_new_data_of_the_same_shape(rng):
    @jax.jit
    @chex.assert_max_traces(n=1)
    def fit(X, y, alpha):
        return coordinate_descent(X, y, SQUARED, penalties.L1(alpha), tol=1e-8)

    chex.clear_trace_counter()
    for _ in range(3):
        X, y = PROBLEM_SHAPES["tall"](rng)
        sol = fit(X, y, 0.1 * alpha_max(X, y))
        assert bool(sol.converged)


@pytest.mark.parametrize("mode", MODES)
def test_warm_start_lowers_epochs(mode, rng):
    # Wide, correlated: slow linear convergence, so starting closer saves epochs
    # (measured 91 vs 133); on easy problems CD needs few epochs either way.
    X, y = PROBLEM_SHAPES["wide_correlated"](rng)
    a0 = alpha_max(X, y)
    options = dict(mode=mode, tol=1e-8, sample_weight=np.ones(X.shape[0]))
    first = cd(X, y, lasso(0.102 * a0), **options)
    cold = cd(X, y, lasso(0.1 * a0), **options)
    warm = cd(X, y, lasso(0.1 * a0), init=first.coef, **options)
    from_solution = cd(X, y, lasso(0.1 * a0), init=first, **options)
    assert bool(cold.converged) and bool(warm.converged)
    assert int(warm.n_iter) <= 0.75 * int(cold.n_iter)
    assert int(from_solution.n_iter) == int(warm.n_iter)
    np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-4 * np.max(np.abs(cold.coef)))
    # Starting at the solution: one epoch to certify it.
    again = cd(X, y, lasso(0.1 * a0), init=cold, **options)
    assert int(again.n_iter) == 1


@pytest.mark.parametrize("mode", MODES)
def test_float32(mode, rng):
    """X's dtype is kept; float32 reaches gaps of ~1e-6 P_null (documented), the
    reported gap matches the float64 recomputation to ~1e-7 P_null, and long
    runs do not drift (the maintained q = Gw or residual is refreshed: without
    that, 2000 epochs ended at a gap of 1.7e-4 P_null in the Gram form)."""
    X, y = PROBLEM_SHAPES["wide_correlated"](rng)
    X = X + 3.0   # uncentred columns: the Gram form's cancellations show up
    s = weights(rng, X.shape[0])
    alpha = 0.1 * alpha_max(X, y, s)
    penalty = penalties.L1(np.float32(alpha))
    spec = spec_of(penalty)
    scale = null_objective(y, "squared", s)
    ref = cd(X, y, lasso(float(penalty.alpha)), sample_weight=s, mode=mode, tol=1e-14)
    f64 = objective(X, y, ref.coef, ref.intercept, "squared", spec, s)
    X32, y32, s32 = (jnp.asarray(a, jnp.float32) for a in (X, y, s))
    for tol, max_iter in [(1e-5, 100_000), (0.0, 2000)]:
        sol = _cd(X32, y32, SQUARED, penalty, sample_weight=s32, mode=mode, tol=tol,
                  max_iter=max_iter, check_every=1)
        assert sol.coef.dtype == jnp.float32 and sol.intercept.dtype == jnp.float32
        assert sol.dual_gap.dtype == jnp.float32
        coef, b = np.asarray(sol.coef, float), float(sol.intercept)
        gap = numpy_duality_gap(X, y, coef, b, "squared", spec, s) / scale
        assert abs(float(sol.dual_gap) / scale - gap) <= 5e-7
        assert gap <= max(tol, 2e-6)
        assert -1e-13 <= (objective(X, y, coef, b, "squared", spec, s) - f64) / scale <= gap
    assert int(sol.n_iter) == 2000
    np.testing.assert_allclose(coef, ref.coef, atol=1e-4 * np.max(np.abs(ref.coef)))


@pytest.mark.parametrize("working_set", [True, False], ids=["working_set", "all"])
def test_gram_form_with_and_without_working_sets_matches_sklearn(working_set, rng):
    """The Gram form with working sets (forced on; "auto" uses them above 1000
    features) and without: same answer as scikit-learn and as the residual form
    (264 features, correlated, weighted)."""
    from _problems import make_regression_problem

    X, y = make_regression_problem(rng, 300, 264, correlation=0.5)
    s = weights(rng, X.shape[0])
    penalty = lasso(0.05 * alpha_max(X, y, s))
    options = dict(sample_weight=s, tol=1e-12, working_set=working_set)
    gram, residual = (cd(X, y, penalty, mode=m, **options) for m in MODES)
    w, b = sklearn_solution(X, y, "squared", spec_of(penalty), sample_weight=s)
    assert bool(gram.converged)
    scale = np.abs(w).max()
    np.testing.assert_allclose(gram.coef, w, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(gram.coef, residual.coef, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(gram.intercept, b, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("inner_tol", [0.0, 0.3], ids=["full-checks", "inner-solves"])
@pytest.mark.parametrize("anderson", [0, 5])
def test_residual_working_sets_with_inner_solves_match_sklearn(inner_tol, anderson, rng):
    """Residual form, working sets (400 features), with the working set's
    subproblem solved to ``inner_tol`` times the last full gap between full
    checks, or a full check after every round: scikit-learn's answer, a
    certified gap equal to the NumPy recomputation (weighted, intercept,
    elastic net)."""
    from _problems import make_regression_problem

    X, y = make_regression_problem(rng, 80, 400, correlation=0.5)
    s = weights(rng, X.shape[0])
    penalty = penalties.ElasticNetPenalty(0.05 * alpha_max(X, y, s), 0.9)
    solve = jax.jit(partial(coordinate_descent, mode="residual", inner_tol=inner_tol,
                            anderson=anderson, check_every=5, tol=1e-15, max_iter=100_000),
                    static_argnames=("loss",))
    sol = solve(jnp.asarray(X), jnp.asarray(y), loss=SQUARED, penalty=penalty,
                sample_weight=jnp.asarray(s))
    w, b = sklearn_solution(X, y, "squared", spec_of(penalty), sample_weight=s)
    assert bool(sol.converged)
    scale = np.abs(w).max()
    np.testing.assert_allclose(sol.coef, w, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(sol.intercept, b, rtol=0, atol=1e-6 * max(scale, 1))
    gap = numpy_duality_gap(X, y, np.asarray(sol.coef), float(sol.intercept), "squared",
                            spec_of(penalty), s)
    assert abs(gap - float(sol.dual_gap)) <= 1e-12 * null_objective(y, "squared", s)


def test_spd_solve_matches_numpy(rng):
    """Anderson's small system: the Cholesky solve equals NumPy's; a matrix
    that is not definite gives NaN (the candidate is then dropped)."""
    from jaxreg.solvers import cd as cd_module

    for K in (1, 3, 5):
        A = rng.standard_normal((K, K + 2))
        M = A @ A.T + 1e-3 * np.eye(K)
        b = rng.standard_normal(K)
        np.testing.assert_allclose(cd_module._spd_solve(jnp.asarray(M), jnp.asarray(b)),
                                   np.linalg.solve(M, b), rtol=1e-10)
    indefinite = jnp.asarray(np.diag([1.0, -1.0, 2.0]))
    assert not np.all(np.isfinite(cd_module._spd_solve(indefinite, jnp.ones(3))))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("mode", MODES)
def test_solution_shapes_are_what_the_solver_returns(mode, dtype, rng):
    """The structure a path's warm-start carry is built from without tracing
    the solver equals the solver's own output structure."""
    from jaxreg.solvers.cd import solution_shapes

    X, y = PROBLEM_SHAPES["wide_correlated"](rng)
    X, y = jnp.asarray(X, dtype), jnp.asarray(y, dtype)
    traced = jax.eval_shape(lambda X, y: coordinate_descent(
        X, y, SQUARED, penalties.L1(0.1), mode=mode, anderson=5), X, y)
    assert solution_shapes(X.shape[1], dtype) == traced
