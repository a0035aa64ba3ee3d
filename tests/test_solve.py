"""`jaxreg.solve` on every (loss, penalty) pair against independent references.

Tolerances (acceptance criteria of the foundation issue): objectives agree to
1e-8 relative (1e-6 for the absolute and quantile losses, solved by a
first-order method to tol = 1e-9 here), coefficients to 1e-6 x max|w| where the
minimiser is unique (a strictly convex penalty, or Gaussian tall designs).
"""

from __future__ import annotations

import chex
import jax
import numpy as np
import pytest

import jaxreg
from jaxreg import losses, penalties

from _problems import CLASSIFICATION_SHAPES, PROBLEM_SHAPES
from _references import null_objective, numpy_duality_gap, objective, reference_solution

SMOOTH_TOL = 1e-14  # coefficient errors scale like sqrt(gap / strong convexity)
NONSMOOTH_TOL = 1e-9

# (name, jaxreg loss, reference spec, kind of target)
LOSSES = {
    "squared": (losses.SquaredLoss(), "squared", "regression"),
    "huber": (losses.HuberLoss(0.3), ("huber", 0.3), "regression"),  # residuals reach past delta
    "absolute": (losses.AbsoluteLoss(), "absolute", "regression"),
    "quantile": (losses.QuantileLoss(0.3), ("quantile", 0.3), "regression"),
    "logistic": (losses.LogisticLoss(), "logistic", "binary"),
    "multinomial": (losses.MultinomialLoss(n_classes=3), "multinomial", "multiclass"),
}
PENALTIES = ["l1", "l2", "enet", "weighted_l1", "group", None]


def _data(kind, shape, rng):
    if kind == "regression":
        return PROBLEM_SHAPES[shape](rng)
    if kind == "binary":
        return CLASSIFICATION_SHAPES[shape](rng)
    return CLASSIFICATION_SHAPES[shape](rng, n_classes=3)


def _alpha_scale(X, y, kind):
    """A data-dependent scale of alpha (about alpha_max of the lasso)."""
    n = X.shape[0]
    if kind == "regression":
        target = y - y.mean()
    elif kind == "binary":
        target = y - y.mean()
    else:
        target = (y[:, None] == np.arange(3)) - np.mean(y[:, None] == np.arange(3), axis=0)
    return float(np.abs(X.T @ target).max() / n)


def _penalty(name, X, scale):
    p = X.shape[1]
    alpha = 0.1 * scale
    if name == "l1":
        return penalties.L1(alpha), ("l1", alpha)
    if name == "l2":
        return penalties.L2(alpha), ("l2", alpha)
    if name == "enet":
        return penalties.ElasticNetPenalty(alpha, 0.5), ("enet", alpha, 0.5)
    if name == "weighted_l1":
        weights = alpha * np.linspace(0.5, 1.5, p)
        weights[0] = 0.0  # one unpenalized feature
        return penalties.WeightedL1(weights), ("weighted_l1", weights)
    if name == "group":
        groups = tuple(j // 3 for j in range(p))
        return penalties.GroupLassoPenalty(alpha, groups), ("group", alpha, groups)
    return None, None


def _unique(loss_name, penalty_name, shape):
    """Whether the minimiser in coef is unique (then coefficients are compared)."""
    if penalty_name in ("l2", "enet"):
        return loss_name not in ("absolute", "quantile") or penalty_name == "l2"
    if shape != "tall":
        return False
    return loss_name not in ("absolute", "quantile", "multinomial")


CASES = [
    pytest.param(loss, penalty, shape, id=f"{loss}-{penalty}-{shape}")
    for loss in LOSSES
    for penalty in PENALTIES
    for shape in ("tall", "wide_correlated", "duplicated")
    # Unpenalized logistic/multinomial on p >> n data are separable: no minimiser.
    if not (penalty is None and loss in ("logistic", "multinomial") and shape != "tall")
    # The absolute loss is 2 x the quantile loss at 0.5 and runs the same
    # solvers (each case is a compilation of ~5 s): its other shapes are those
    # of "quantile" here and of tests/test_interior_point.py.
    and not (loss == "absolute" and shape != "tall")
]


@pytest.mark.parametrize("loss_name, penalty_name, shape", CASES)
def test_solve_matches_reference(loss_name, penalty_name, shape, rng):
    loss, loss_spec, kind = LOSSES[loss_name]
    X, y = _data(kind, shape, rng)
    penalty, penalty_spec = _penalty(penalty_name, X, _alpha_scale(X, y, kind))
    smooth = loss.smooth if hasattr(loss, "smooth") else True
    tol = SMOOTH_TOL if smooth else NONSMOOTH_TOL
    sol = jaxreg.solve(X, y, loss, penalty, tol=tol, max_iter=200000)
    w_ref, b_ref, f_ref = reference_solution(X, y, loss_spec, penalty_spec)
    f = objective(X, y, np.asarray(sol.coef), np.asarray(sol.intercept), loss_spec, penalty_spec)

    assert bool(sol.converged)
    assert np.isfinite(float(sol.dual_gap))
    rtol = 1e-8 if smooth else 1e-6
    # atol for optimal values near 0 (interpolating fits): the tolerance's scale.
    p_null = null_objective(y, loss_spec)
    np.testing.assert_allclose(f, f_ref, rtol=rtol, atol=rtol * p_null)
    # The reported gap bounds the suboptimality against the reference optimum.
    assert f - f_ref <= float(sol.dual_gap) + 1e-9 * abs(f_ref) + 1e-12
    if _unique(loss_name, penalty_name, shape):
        w_ref = np.asarray(w_ref)
        ref_gap = (numpy_duality_gap(X, y, w_ref, b_ref, loss_spec, penalty_spec)
                   if smooth else 0.0)
        if ref_gap > 1e-12 * p_null:
            # The interior-point reference stopped short (cvxpy "inaccurate"):
            # its coefficients are only known to sqrt(gap / strong convexity);
            # ours must then be at least as good in objective.
            assert f <= f_ref + 1e-13 * p_null
        else:
            np.testing.assert_allclose(sol.coef, w_ref,
                                       atol=1e-6 * max(np.abs(w_ref).max(), 1e-3))


@pytest.mark.parametrize("loss_name", list(LOSSES))
@pytest.mark.parametrize("penalty_name", ["l1", "enet", "weighted_l1", None])
def test_gap_agrees_with_numpy(loss_name, penalty_name, rng):
    """The reported gap equals an independent NumPy recomputation (tall shape)."""
    loss, loss_spec, kind = LOSSES[loss_name]
    X, y = _data(kind, "tall", rng)
    penalty, penalty_spec = _penalty(penalty_name, X, _alpha_scale(X, y, kind))
    # A loose tolerance leaves a clearly positive gap to compare.
    sol = jaxreg.solve(X, y, loss, penalty, tol=1e-3, max_iter=200000)
    dual = None if loss.smooth else np.asarray(sol.state)
    gap = numpy_duality_gap(X, y, np.asarray(sol.coef), np.asarray(sol.intercept),
                            loss_spec, penalty_spec, dual=dual)
    scale = float(jaxreg.solvers.null_objective(X, y, loss))
    np.testing.assert_allclose(scale, null_objective(y, loss_spec), rtol=1e-9)
    np.testing.assert_allclose(float(sol.dual_gap), gap, rtol=1e-6, atol=1e-10 * scale)
    assert float(sol.dual_gap) >= -1e-12 * scale


@pytest.mark.parametrize("loss_name", ["squared", "huber", "logistic", "quantile"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no_intercept"])
def test_sample_weight_and_intercept(loss_name, fit_intercept, rng):
    """Weights rescaled to sum to n; an integer weight equals repeating the row."""
    loss, loss_spec, kind = LOSSES[loss_name]
    X, y = _data(kind, "tall", rng)
    penalty, penalty_spec = _penalty("enet", X, _alpha_scale(X, y, kind))
    weights = rng.integers(0, 4, X.shape[0]).astype(float)
    weights[0] = 1.0
    tol = SMOOTH_TOL if loss.smooth else NONSMOOTH_TOL
    sol = jaxreg.solve(X, y, loss, penalty, sample_weight=weights, fit_intercept=fit_intercept,
                       tol=tol, max_iter=200000)
    repeat = np.repeat(np.arange(X.shape[0]), weights.astype(int))
    w_ref, b_ref, f_ref = reference_solution(X[repeat], y[repeat], loss_spec, penalty_spec,
                                             fit_intercept=fit_intercept)
    f = objective(X[repeat], y[repeat], np.asarray(sol.coef), np.asarray(sol.intercept),
                  loss_spec, penalty_spec)
    assert bool(sol.converged)
    np.testing.assert_allclose(f, f_ref, rtol=1e-8 if loss.smooth else 1e-6)
    if not fit_intercept:
        assert float(sol.intercept) == 0.0


# ---------------------------------------------------------------------------
# Transformations: jit, vmap over alpha, no retrace, grad-free optimality
# ---------------------------------------------------------------------------

VMAP_CASES = {
    "lasso-cd": (losses.SquaredLoss(), lambda a: penalties.L1(a), "regression"),
    "ridge": (losses.SquaredLoss(), lambda a: penalties.L2(a), "regression"),
    "logistic-l1-fista": (losses.LogisticLoss(), lambda a: penalties.L1(a), "binary"),
    "quantile-l1-pd": (losses.QuantileLoss(0.5), lambda a: penalties.L1(a), "regression"),
}


@pytest.mark.parametrize("case", list(VMAP_CASES))
def test_vmap_over_alpha_equals_loop(case, rng):
    loss, make_penalty, kind = VMAP_CASES[case]
    X, y = _data(kind, "tall", rng)
    alphas = np.geomspace(1.0, 1e-2, 50) * _alpha_scale(X, y, kind)
    tol = 1e-10 if loss.smooth else 1e-7
    batched = jax.jit(jax.vmap(lambda a: jaxreg.solve(X, y, loss, make_penalty(a), tol=tol,
                                                      max_iter=100000)))(alphas)
    for k in (0, 17, 49):
        single = jaxreg.solve(X, y, loss, make_penalty(alphas[k]), tol=tol, max_iter=100000)
        scale = max(float(np.abs(single.coef).max()), 1e-3)
        np.testing.assert_allclose(batched.coef[k], single.coef, atol=1e-6 * scale)
    assert bool(np.all(batched.converged))
    assert batched.coef.shape == (50, X.shape[1])


def test_jit_and_no_retrace_on_new_data(rng):
    X, y = _data("regression", "tall", rng)
    X2, y2 = _data("regression", "tall", np.random.default_rng(1))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def fit(X, y, alpha):
        return jaxreg.solve(X, y, losses.SquaredLoss(), penalties.L1(alpha), tol=1e-10)

    a = fit(X, y, 0.1)
    b = fit(X2, y2, 0.05)
    ref = jaxreg.solve(X2, y2, losses.SquaredLoss(), penalties.L1(0.05), tol=1e-10)
    np.testing.assert_allclose(b.coef, ref.coef, atol=1e-10)
    assert not np.allclose(a.coef, b.coef)


def test_eager_solve_compiles_once_per_shape(rng):
    X, y = _data("regression", "tall", rng)
    X2, y2 = _data("regression", "tall", np.random.default_rng(2))
    jaxreg.solve(X, y, losses.HuberLoss(1.3), penalties.L1(0.1))
    before = jaxreg._solve._solve_jit._cache_size()
    jaxreg.solve(X2, y2, losses.HuberLoss(0.7), penalties.L1(0.05))
    assert jaxreg._solve._solve_jit._cache_size() == before


@pytest.mark.parametrize("loss_name, penalty_name", [
    ("squared", "l1"), ("huber", "enet"), ("logistic", "group"), ("multinomial", "l2"),
    ("squared", "weighted_l1"),
])
def test_optimality_is_zero_at_solution_only(loss_name, penalty_name, rng):
    loss, _, kind = LOSSES[loss_name]
    X, y = _data(kind, "tall", rng)
    penalty, _ = _penalty(penalty_name, X, _alpha_scale(X, y, kind))
    sol = jaxreg.solve(X, y, loss, penalty, tol=1e-14, max_iter=200000)
    res_w, res_b = jaxreg.solvers.optimality(sol.coef, sol.intercept, X, y, None, loss, penalty)
    assert np.abs(res_w).max() < 1e-6 and np.abs(res_b).max() < 1e-6
    perturbed = sol.coef + 1e-2
    res_w, res_b = jaxreg.solvers.optimality(perturbed, sol.intercept, X, y, None, loss, penalty)
    assert max(np.abs(res_w).max(), np.abs(res_b).max()) > 1e-4


# ---------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("loss_name, penalty_name", [
    ("squared", "l1"), ("squared", "l2"), ("huber", "enet"), ("logistic", "l1"),
    ("quantile", "l1"),
])
def test_float32_accuracy(loss_name, penalty_name, rng):
    """float32: documented gap ~1e-5 x P_null; objective within 1e-4 relative."""
    loss, loss_spec, kind = LOSSES[loss_name]
    X, y = _data(kind, "tall", rng)
    penalty, penalty_spec = _penalty(penalty_name, X, _alpha_scale(X, y, kind))
    X32 = X.astype(np.float32)
    y32 = y.astype(np.float32)
    sol = jaxreg.solve(X32, y32, loss, penalty, tol=1e-4, max_iter=100000)
    assert sol.coef.dtype == np.float32
    assert bool(sol.converged)
    _, _, f_ref = reference_solution(X, y, loss_spec, penalty_spec)
    f = objective(X, y, np.asarray(sol.coef, float), np.asarray(sol.intercept, float),
                  loss_spec, penalty_spec)
    np.testing.assert_allclose(f, f_ref, rtol=1e-4)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def _lasso(X, y, **kw):
    return jaxreg.solve(X, y, losses.SquaredLoss(), penalties.L1(0.1), **kw)


def test_bad_input_errors(rng):
    X, y = _data("regression", "tall", rng)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 non-finite value \(first at row 3, column 2"):
        _lasso(bad, y)
    bad_y = y.copy()
    bad_y[5] = np.inf
    with pytest.raises(ValueError, match=r"y contains 1 non-finite value .*index 5"):
        _lasso(X, bad_y)
    with pytest.raises(ValueError, match=f"X has {X.shape[0]} rows but y has {X.shape[0] - 1}"):
        _lasso(X, y[:-1])
    with pytest.raises(ValueError, match="X is empty"):
        _lasso(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="must be a 2-D array"):
        _lasso(y, y)
    with pytest.raises(ValueError, match=r"'alpha' parameter of L1 must be in the range \[0.0, inf\]. Got -0.1"):
        jaxreg.solve(X, y, losses.SquaredLoss(), penalties.L1(-0.1))
    with pytest.raises(ValueError, match=r"'quantile' parameter of QuantileLoss .* Got 1.5"):
        jaxreg.solve(X, y, losses.QuantileLoss(1.5), penalties.L1(0.1))
    with pytest.raises(ValueError, match=r"'delta' parameter of HuberLoss .* Got 0.0"):
        jaxreg.solve(X, y, losses.HuberLoss(0.0), penalties.L1(0.1))
    with pytest.raises(ValueError, match=r"'l1_ratio' parameter of ElasticNetPenalty .* Got 2.0"):
        jaxreg.solve(X, y, losses.SquaredLoss(), penalties.ElasticNetPenalty(0.1, 2.0))
    with pytest.raises(ValueError, match=r"LogisticLoss needs labels in \{-1, \+1\}.*first: 0.0"):
        jaxreg.solve(X, (y > 0).astype(float), losses.LogisticLoss(), penalties.L1(0.1))
    with pytest.raises(ValueError, match="MultinomialLoss needs integer class labels"):
        jaxreg.solve(X, y, losses.MultinomialLoss(), penalties.L1(0.1))
    with pytest.raises(ValueError, match="sample_weight must be non-negative; got -1.0"):
        _lasso(X, y, sample_weight=-np.ones(X.shape[0]))
    with pytest.raises(ValueError, match="WeightedL1 needs one weight per feature"):
        jaxreg.solve(X, y, losses.SquaredLoss(), penalties.WeightedL1(np.ones(3)))
    with pytest.raises(ValueError, match="Unknown solver 'newton'"):
        _lasso(X, y, solver="newton")
    with pytest.raises(TypeError, match="fista needs a smooth loss, but AbsoluteLoss has no `grad`"):
        jaxreg.solve(X, y, losses.AbsoluteLoss(), penalties.L1(0.1), solver="fista")


def test_nonconvergence_warns_with_gap(rng):
    X, y = _data("regression", "tall", rng)
    with pytest.warns(jaxreg.ConvergenceWarning, match=r"did not converge in \d+ iterations: duality gap"):
        sol = jaxreg.solve(X, y, losses.HuberLoss(1.0), penalties.L1(1e-3), max_iter=2,
                           tol=1e-12)
    assert not bool(sol.converged)
    assert np.isfinite(float(sol.dual_gap))
