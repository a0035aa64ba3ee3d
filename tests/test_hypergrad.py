"""Implicit differentiation of jaxreg.solve and jaxreg.path (jaxreg.hypergrad).

References are independent of jaxreg's derivative code: central finite
differences of the solution re-solved at the perturbed inputs and polished by
Newton's method on the support in NumPy (``newton_polish``; coefficients to
round-off, so that a step of 1e-6 leaves FD errors ~1e-9), HiGHS's exact LP for
the quantile loss, and closed forms (ridge; the lasso on a fixed support).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg
from jaxreg import hypergrad
from jaxreg.losses import HuberLoss, LogisticLoss, MultinomialLoss, QuantileLoss, SquaredLoss
from jaxreg.penalties import L1, L2, ElasticNetPenalty, WeightedL1

from _problems import make_classification_problem, make_outlier_problem, make_regression_problem
from _references import linprog_solution, newton_polish

SHAPES = {"tall": (40, 10), "wide": (20, 50)}
TOL = 1e-13      # tight solves: the derivative is taken at the solver's point
RTOL = 1e-5      # the acceptance bound on |J - FD| / |FD|
STEP = 1e-6      # central differences of a piecewise-smooth map: error O(h^2) + 1e-15 / h


def _quiet_solve(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
        return jaxreg.solve(*args, tol=TOL, max_iter=100000, **kwargs)


def _relative_error(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


# --------------------------------------------------------------------------
# Cases: (name, problem maker, jaxreg loss, penalty of a hyperparameter,
#         reference specs, hyperparameter scale relative to alpha_max)
# --------------------------------------------------------------------------


def _regression(rng, n, p):
    return make_regression_problem(rng, n, p)


def _binary(rng, n, p):
    return make_classification_problem(rng, n, p)


def _multiclass(rng, n, p):
    return make_classification_problem(rng, n, p, n_classes=3)


def _outliers(rng, n, p):
    return make_outlier_problem(rng, n, p)


def _weights_of(p):
    return 0.5 + np.linspace(0.0, 1.0, p)


CASES = {
    # name: (problem, loss, loss spec, penalty(h) of the hyperparameter h, spec(h), fraction)
    "lasso": (_regression, SquaredLoss(), "squared", lambda h: L1(h), lambda h: ("l1", h), 0.3),
    "enet": (_regression, SquaredLoss(), "squared", lambda h: ElasticNetPenalty(h, 0.6),
             lambda h: ("enet", h, 0.6), 0.3),
    "ridge": (_regression, SquaredLoss(), "squared", lambda h: L2(h), lambda h: ("l2", h), 0.3),
    "weighted_lasso": (_regression, SquaredLoss(), "squared", lambda h: WeightedL1(h),
                       lambda h: ("weighted_l1", h), 0.2),
    "logistic_l1": (_binary, LogisticLoss(), "logistic", lambda h: L1(h), lambda h: ("l1", h), 0.3),
    "multinomial_l1": (_multiclass, MultinomialLoss(n_classes=3), "multinomial", lambda h: L1(h),
                       lambda h: ("l1", h), 0.3),
    "huber_l1": (_outliers, HuberLoss(1.0), ("huber", 1.0), lambda h: L1(h), lambda h: ("l1", h),
                 0.2),
}


def _setup(name, shape, rng):
    make, loss, loss_spec, penalty_of, spec_of, fraction = CASES[name]
    n, p = SHAPES[shape]
    X, y = make(rng, n, p)
    amax = float(jaxreg.alpha_max(X, y, loss, L1(1.0)))     # ridge too: a scale for alpha
    h0 = fraction * amax * (_weights_of(p) if name == "weighted_lasso" else 1.0)
    return X, y, loss, h0, penalty_of, spec_of, loss_spec


def _polished(X, y, loss, penalty, loss_spec, penalty_spec):
    sol = _quiet_solve(X, y, loss, penalty)
    w, b = newton_polish(X, y, np.asarray(sol.coef), np.asarray(sol.intercept), loss_spec,
                         penalty_spec)
    return np.concatenate([np.ravel(w), np.ravel(b)])


# Compilation dominates (a solver plus its transposed rule, ~5 s each on a
# loaded 2-core machine): the default run covers every family on the tall
# problem and the lasso on the wide one; `pytest -m slow` runs the whole matrix.
_FD_PARAMS = [
    pytest.param(name, shape, id=f"{name}-{shape}",
                 marks=() if shape == "tall" and name != "ridge" or name == "lasso"
                 else pytest.mark.slow)
    for name in CASES for shape in SHAPES]


@pytest.mark.parametrize("name,shape", _FD_PARAMS)
def test_matches_finite_differences(name, shape, rng):
    """Forward and reverse mode, w.r.t. the hyperparameter and y (X for classifiers)."""
    X, y, loss, h0, penalty_of, spec_of, loss_spec = _setup(name, shape, rng)
    h0 = np.asarray(h0, float)
    dh = rng.uniform(0.5, 1.5, h0.shape) * h0           # a direction in the hyperparameter(s)
    classifier = name in ("logistic_l1", "multinomial_l1")
    data = X if classifier else y                        # labels are not differentiable
    v = rng.standard_normal(data.shape) * (0.3 if classifier else np.std(y))
    # the multinomial intercept is unique only up to b + c 1: compare coef there
    keep = slice(0, 3 * X.shape[1]) if name == "multinomial_l1" else slice(None)

    def solution(t):
        hyper = jnp.asarray(h0) + t[0] * jnp.asarray(dh)
        moved = jnp.asarray(data) + t[1] * jnp.asarray(v)
        Xt, yt = (moved, y) if classifier else (X, moved)
        sol = jaxreg.solve(Xt, yt, loss, penalty_of(hyper), tol=TOL, max_iter=100000)
        return jnp.concatenate([jnp.ravel(sol.coef), jnp.ravel(sol.intercept)])[keep]

    # Reverse mode (the transposed rule; forward mode is the same rule and
    # is checked in the tests below): one compilation per case.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
        jacobian = jax.jacrev(solution)(jnp.zeros(2))              # (d, 2)

    def reference(t):
        hyper = h0 + t[0] * dh
        moved = data + t[1] * v
        Xt, yt = (moved, y) if classifier else (X, moved)
        return _polished(Xt, yt, loss, penalty_of(jnp.asarray(hyper)), loss_spec,
                         spec_of(hyper))[keep]

    for k in range(2):
        e = np.eye(2)[k] * STEP
        fd = (reference(e) - reference(-e)) / (2 * STEP)
        assert np.linalg.norm(fd) > 1e-6                          # a non-trivial derivative
        assert _relative_error(jacobian[:, k], fd) <= RTOL, (name, shape, k)


@pytest.mark.slow
def test_huber_delta_matches_finite_differences(rng):
    X, y = make_outlier_problem(rng, *SHAPES["tall"])
    alpha = 0.2 * float(jaxreg.alpha_max(X, y, HuberLoss(1.0), L1(1.0)))

    def solution(delta):
        sol = jaxreg.solve(X, y, HuberLoss(delta), L1(alpha), tol=TOL, max_iter=100000)
        return jnp.concatenate([sol.coef, sol.intercept[None]])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
        derivative = jax.jacrev(solution)(1.0)
    fd = (_polished(X, y, HuberLoss(1.0 + STEP), L1(alpha), ("huber", 1.0 + STEP), ("l1", alpha))
          - _polished(X, y, HuberLoss(1.0 - STEP), L1(alpha), ("huber", 1.0 - STEP), ("l1", alpha))
          ) / (2 * STEP)
    assert np.linalg.norm(fd) > 1e-3
    assert _relative_error(derivative, fd) <= RTOL


@pytest.mark.slow
def test_enet_l1_ratio_matches_finite_differences(rng):
    X, y = make_regression_problem(rng, *SHAPES["wide"])
    alpha = 0.3 * float(jaxreg.alpha_max(X, y, SquaredLoss(), L1(1.0)))

    def coef(rho):
        return jaxreg.solve(X, y, SquaredLoss(), ElasticNetPenalty(alpha, rho), tol=TOL).coef

    derivative = jax.jacfwd(coef)(0.6)
    fd = (_polished(X, y, SquaredLoss(), ElasticNetPenalty(alpha, 0.6 + STEP), "squared",
                    ("enet", alpha, 0.6 + STEP))
          - _polished(X, y, SquaredLoss(), ElasticNetPenalty(alpha, 0.6 - STEP), "squared",
                      ("enet", alpha, 0.6 - STEP)))[:-1] / (2 * STEP)
    assert _relative_error(derivative, fd) <= RTOL


@pytest.mark.parametrize("shape", ["tall", pytest.param("wide", marks=pytest.mark.slow)])
def test_quantile_l1_dy_matches_linprog_differences(shape, rng):
    """dw/dy on the LP's active set (HiGHS vertices as the reference); dw/dalpha = 0."""
    n, p = SHAPES[shape]
    X, y = make_regression_problem(rng, n, p)
    tau = 0.3
    alpha = 0.05 * float(jaxreg.alpha_max(X, y, QuantileLoss(tau), L1(1.0)))
    v = rng.standard_normal(n) * np.std(y)

    def solution(t, a):
        sol = jaxreg.solve(X, jnp.asarray(y) + t * v, QuantileLoss(tau), L1(a), tol=1e-12)
        return jnp.concatenate([sol.coef, sol.intercept[None]])

    derivative, d_alpha = jax.jacfwd(solution, argnums=(0, 1))(0.0, alpha)
    cotangent = jnp.asarray(rng.standard_normal(p + 1))
    reverse = jax.grad(lambda t: jnp.vdot(cotangent, solution(t, alpha)))(0.0)

    def reference(t):
        w, b, _ = linprog_solution(X, y + t * v, ("quantile", tau), ("l1", alpha))
        return np.concatenate([w, [b]])

    fd = (reference(STEP) - reference(-STEP)) / (2 * STEP)
    assert np.linalg.norm(fd) > 1e-3
    assert _relative_error(derivative, fd) <= RTOL
    np.testing.assert_allclose(reverse, np.dot(cotangent, fd), rtol=RTOL)
    np.testing.assert_array_equal(d_alpha, 0.0)      # piecewise constant in alpha
    assert np.all(np.isfinite(np.asarray(d_alpha)))


# --------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------


def test_ridge_matches_closed_form(rng):
    X, y = make_regression_problem(rng, *SHAPES["wide"])
    n, p = X.shape
    alpha = 0.3
    sol = jaxreg.solve(X, y, SquaredLoss(), L2(alpha))
    d_coef = jax.jacrev(lambda a: jaxreg.solve(X, y, SquaredLoss(), L2(a)).coef)(alpha)
    Xc = X - X.mean(0)
    expected = -np.linalg.solve(Xc.T @ Xc / n + alpha * np.eye(p), np.asarray(sol.coef))
    np.testing.assert_allclose(d_coef, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", ["tall", pytest.param("wide", marks=pytest.mark.slow)])
def test_lasso_matches_fixed_support_closed_form(shape, rng):
    """On the support S: w_S = (X_S^T X_S / n)^{-1} (X_S^T y / n - alpha sign(w_S)), centred."""
    X, y = make_regression_problem(rng, *SHAPES[shape])
    n = X.shape[0]
    alpha = 0.2 * float(jaxreg.alpha_max(X, y, SquaredLoss(), L1(1.0)))
    sol = jaxreg.solve(X, y, SquaredLoss(), L1(alpha), tol=TOL)
    S = np.asarray(sol.coef) != 0
    Xc = (X - X.mean(0))[:, S]
    G = Xc.T @ Xc / n

    def fit(a, yy):
        sol = jaxreg.solve(X, yy, SquaredLoss(), L1(a), tol=TOL)
        return jnp.concatenate([sol.coef, sol.intercept[None]])

    d_alpha, d_y = jax.jacfwd(fit, argnums=(0, 1))(alpha, jnp.asarray(y))   # forward mode
    d_alpha, d_y, d_y_intercept = d_alpha[:-1], d_y[:-1], d_y[-1]
    np.testing.assert_allclose(d_alpha[S], -np.linalg.solve(G, np.sign(sol.coef[S])), rtol=1e-9)
    np.testing.assert_array_equal(d_alpha[~S], 0.0)
    expected_y = np.linalg.solve(G, Xc.T / n)           # (|S|, n): centring is in Xc
    np.testing.assert_allclose(d_y[S], expected_y, rtol=1e-8, atol=1e-12)
    x_mean = X.mean(0)[S]
    np.testing.assert_allclose(d_y_intercept, 1.0 / n - x_mean @ expected_y, rtol=1e-8,
                               atol=1e-12)


# --------------------------------------------------------------------------
# Transformations, paths, kinks, primal cost
# --------------------------------------------------------------------------


def _validation_loss(X, y, X_val, y_val):
    def value(alpha):
        sol = jaxreg.solve(X, y, SquaredLoss(), L1(alpha), tol=1e-12)
        return jnp.mean((X_val @ sol.coef + sol.intercept - y_val) ** 2)
    return value


def test_grad_under_jit_and_vmap(rng):
    X, y = make_regression_problem(rng, *SHAPES["tall"])
    X_val, y_val = make_regression_problem(rng, 30, 10)
    amax = float(jaxreg.alpha_max(X, y, SquaredLoss(), L1(1.0)))
    value = _validation_loss(X, y, X_val, y_val)
    alphas = jnp.asarray([0.5, 0.2, 0.05]) * amax
    jitted = jax.jit(jax.grad(value))
    grads = np.array([jitted(a) for a in alphas])
    # against central differences of the (piecewise quadratic) validation loss
    step = 1e-7 * alphas
    fd = np.array([(value(a + h) - value(a - h)) / (2 * h) for a, h in zip(alphas, step)])
    np.testing.assert_allclose(grads, fd, rtol=1e-5)
    assert np.all(grads != 0)
    # vmap of grad, grad of a function of a vmapped solve, forward mode
    np.testing.assert_allclose(jax.vmap(jax.grad(value))(alphas), grads, rtol=1e-9)
    _, tangent = jax.jvp(value, (alphas[1],), (1.0,))
    np.testing.assert_allclose(tangent, grads[1], rtol=1e-9)


@pytest.mark.parametrize("strategy", ["warm", pytest.param("batched", marks=pytest.mark.slow)])
def test_path_gradients_equal_per_alpha_gradients(strategy, rng):
    X, y = make_regression_problem(rng, *SHAPES["tall"])
    alphas = jnp.asarray(np.asarray(jaxreg.alpha_grid(X, y, SquaredLoss(), L1(1.0), n_alphas=4,
                                                      eps=0.05)))

    def along_path(a):
        return jaxreg.path(X, y, SquaredLoss(), L1(1.0), a, strategy=strategy, tol=1e-12).coefs

    jac = jax.jacrev(along_path)(alphas)                      # (m, p, m)
    for k, a in enumerate(alphas):
        single = jax.jacrev(lambda b: jaxreg.solve(X, y, SquaredLoss(), L1(b), tol=1e-12).coef)(a)
        np.testing.assert_allclose(jac[k, :, k], single, rtol=1e-8, atol=1e-12)
        off = np.delete(np.asarray(jac[k]), k, axis=1)
        np.testing.assert_array_equal(off, 0.0)              # warm starts carry no derivative
    # y-gradients through the path (Gram form built from a traced y)
    gy = jax.grad(lambda yy: jnp.sum(jaxreg.path(X, yy, SquaredLoss(), L1(1.0), alphas,
                                                 strategy=strategy, tol=1e-12).coefs[2]))(
        jnp.asarray(y))
    gy_single = jax.grad(lambda yy: jnp.sum(jaxreg.solve(X, yy, SquaredLoss(), L1(alphas[2]),
                                                         tol=1e-12).coef))(jnp.asarray(y))
    np.testing.assert_allclose(gy, gy_single, rtol=1e-8, atol=1e-12)


def test_kink_at_alpha_max_is_finite_one_sided(rng):
    """At the breakpoint alpha_max the derivative is one-sided, finite, never NaN.

    Just above it (empty support) coef's derivative is exactly 0 (the right
    derivative). At alpha_max itself round-off decides whether the solver
    returns w = 0 (then the right derivative, 0) or one entering coefficient
    of ~1e-17 (then the left one, -sign(w_j) / G_jj): either is finite.
    """
    X, y = make_regression_problem(rng, *SHAPES["wide"])
    n = X.shape[0]
    amax = float(jaxreg.alpha_max(X, y, SquaredLoss(), L1(1.0)))
    Xc = X - X.mean(0)

    def fit(a, yy):
        sol = jaxreg.solve(X, yy, SquaredLoss(), L1(a), tol=1e-12)
        return jnp.concatenate([sol.coef, sol.intercept[None]])

    jac = jax.jacrev(fit, argnums=(0, 1))
    for alpha in (amax * (1 + 1e-12), amax):
        w = np.asarray(fit(alpha, y))[:-1]
        d_alpha, d_y = (np.asarray(a) for a in jac(alpha, jnp.asarray(y)))
        assert np.all(np.isfinite(d_alpha)) and np.all(np.isfinite(d_y))
        expected = np.zeros(X.shape[1] + 1)
        S = w != 0
        expected[:-1][S] = -np.sign(w[S]) / np.diag(Xc.T @ Xc / n)[S]
        expected[-1] = -X.mean(0) @ expected[:-1]
        np.testing.assert_allclose(d_alpha, expected, rtol=1e-9, atol=1e-14)
        if not S.any():
            np.testing.assert_allclose(d_y[-1], np.full(n, 1.0 / n), rtol=1e-12)
            np.testing.assert_array_equal(d_y[:-1], 0.0)
    assert not np.any(np.asarray(fit(amax * (1 + 1e-12), y))[:-1])


@pytest.mark.slow
def test_kink_of_a_classifier_is_finite(rng):
    X, y = make_classification_problem(rng, 20, 50)
    amax = jaxreg.alpha_max(X, y, LogisticLoss(), L1(1.0))
    for alpha in (amax, amax * (1 + 1e-12)):
        g = jax.grad(lambda a: jnp.sum(jaxreg.solve(X, y, LogisticLoss(), L1(a), tol=1e-10).coef)
                     )(alpha)
        assert np.isfinite(g)


def test_unrolled_approaches_implicit(rng):
    X, y = make_regression_problem(rng, *SHAPES["tall"])
    X_val, y_val = make_regression_problem(rng, 30, 10)
    alpha = 0.2 * float(jaxreg.alpha_max(X, y, SquaredLoss(), L1(1.0)))

    def value(a, differentiation):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
            sol = jaxreg.solve(X, y, SquaredLoss(), L1(a), tol=1e-12, max_iter=3000,
                               differentiation=differentiation)
        return jnp.mean((X_val @ sol.coef + sol.intercept - y_val) ** 2)

    implicit = jax.grad(value)(alpha, "implicit")
    unrolled = jax.grad(value)(alpha, "unrolled")
    np.testing.assert_allclose(unrolled, implicit, rtol=1e-6)
    with pytest.raises(ValueError, match="differentiation"):
        jaxreg.solve(X, y, SquaredLoss(), L1(alpha), differentiation="magic")


def test_primal_program_is_unchanged(rng):
    """The custom_jvp wrapper lowers to the solver's own program when nobody differentiates."""
    from jaxreg.solvers import coordinate_descent

    X, y = make_regression_problem(rng, *SHAPES["tall"])
    args = (jnp.asarray(X), jnp.asarray(y), SquaredLoss(), L1(0.1))

    def raw(X, y, loss, penalty):
        return coordinate_descent(X, y, loss, penalty, tol=1e-4)

    def wrapped(X, y, loss, penalty):
        return hypergrad.implicit_solve(coordinate_descent, X, y, loss, penalty, None, None, 1e-4)

    def count(f):
        text = jax.jit(f).lower(*args).compile().as_text()
        return sum(1 for line in text.splitlines() if " = " in line)

    assert count(wrapped) <= count(raw) + 2


def test_free_mask():
    mask = hypergrad.free_mask(WeightedL1(jnp.array([1.0, 0.0, 1.0])), jnp.array([0.0, 0.0, 2.0]))
    np.testing.assert_array_equal(mask, [False, True, True])
    np.testing.assert_array_equal(hypergrad.free_mask(L2(1.0), jnp.zeros(2)), [True, True])
