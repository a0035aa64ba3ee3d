r"""Proximal gradient: ISTA and FISTA with adaptive restart.

Both minimise :math:`F(w, b) = f(w, b) + P(w)` for a smooth loss (``grad`` and
``lipschitz`` defined) and any penalty with a ``prox``, with the step
:math:`1/L` of :func:`~jaxreg.solvers._common.datafit_lipschitz`. The
intercept is a plain (unpenalized) gradient coordinate.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxreg.solvers import _common
from jaxreg.solvers._common import Solution, optimality

__all__ = ["fista", "ista", "optimality"]


class _Carry(NamedTuple):
    coef: jax.Array          # (p,) or (p, k): the iterate x_k
    intercept: jax.Array     # () or (k,)
    momentum: jax.Array      # extrapolated coef y_k
    momentum_b: jax.Array    # extrapolated intercept
    t: jax.Array             # () FISTA's t_k
    n_iter: jax.Array        # () int32
    gap: jax.Array           # () gap at the certified point
    certified_b: jax.Array   # intercept at which the gap was taken


def _require_smooth(loss, name):
    if not getattr(loss, "smooth", False):
        raise TypeError(
            f"{name} needs a smooth loss, but {type(loss).__name__} has no `grad`; "
            "use solvers.primal_dual for absolute and quantile losses."
        )


def fista(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None, init=None,
          max_iter=10000, tol=1e-4, check_every=10, accelerated=True):
    r"""Minimise :math:`\frac1n\sum_i s_i\ell(y_i, x_i^\top w + b) + P(w)` by FISTA.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,) or (n_samples, n_outputs)
    loss : smooth loss (SquaredLoss, HuberLoss, LogisticLoss, MultinomialLoss)
    penalty : penalty with a ``prox`` (any of :mod:`jaxreg.penalties`)
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,) or None
        Rescaled to sum to ``n_samples``.
    init : array, Solution or None
        Warm start (coefficients, or a previous Solution).
    max_iter : int, default=10000
        Maximal number of proximal-gradient steps.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol * P_null``.
    check_every : int, default=10
        Steps between two evaluations of the duality gap (each costs one more
        product with ``X`` and one with ``X.T``).
    accelerated : bool, default=True
        FISTA's momentum with gradient-based adaptive restart
        (O'Donoghue & Candès, 2015); ``False`` is ISTA.

    Returns
    -------
    Solution

    Notes
    -----
    The step is :math:`1/L` with :math:`L` the Lipschitz constant of the
    datafit gradient in :math:`(w, b)` (power iteration on
    :math:`[X, 1]`). ``tol`` is relative to the null model's objective
    :math:`P_{\text{null}}` (:func:`~jaxreg.solvers._common.null_objective`);
    the gap is taken at the returned iterate, never at the extrapolated point,
    with the intercept replaced by its exact minimiser where that is cheap
    (squared, Huber). In float32 expect gaps down to about
    ``1e-5 * P_null``.

    References
    ----------
    Beck & Teboulle (2009), A fast iterative shrinkage-thresholding algorithm.
    O'Donoghue & Candès (2015), Adaptive restart for accelerated gradient schemes.
    """
    _require_smooth(loss, "fista" if accelerated else "ista")
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    out_shape = _common.output_shape(problem, loss)
    certificate = _common.make_certificate(problem, loss, penalty)
    step = 1.0 / _common.datafit_lipschitz(problem, loss)
    coef0, intercept0 = _common.initial_point(problem, loss, init, out_shape)
    dtype = problem.X.dtype
    scale = certificate.scale

    def certify(coef, intercept):
        if fit_intercept:
            b = _common.best_intercept(problem, loss, problem.X @ coef)
            if b is not None:
                intercept = b.astype(dtype)
        gap = _common.duality_gap(problem, loss, penalty, certificate, coef, intercept)
        return gap, intercept

    def one_step(_, c):
        z = _common.predict(problem.X, c.momentum, c.momentum_b)
        grad_coef, grad_b, _ = _common.datafit_grad(problem, loss, z)
        coef = penalty.prox(c.momentum - step * grad_coef, step)
        intercept = c.momentum_b - step * grad_b if fit_intercept else c.momentum_b
        if not accelerated:
            return c._replace(coef=coef, intercept=intercept, momentum=coef,
                              momentum_b=intercept, n_iter=c.n_iter + 1)
        # Restart when the step opposes the momentum: (y_k - x_{k+1}).(x_{k+1} - x_k) > 0.
        restart = (jnp.vdot(c.momentum - coef, coef - c.coef)
                   + jnp.vdot(c.momentum_b - intercept, intercept - c.intercept)) > 0
        t_prev = jnp.where(restart, jnp.ones_like(c.t), c.t)
        t = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t_prev**2))
        beta = jnp.where(restart, 0.0, (t_prev - 1.0) / t)
        return _Carry(coef, intercept, coef + beta * (coef - c.coef),
                      intercept + beta * (intercept - c.intercept), t, c.n_iter + 1,
                      c.gap, c.certified_b)

    def body(c):
        c = lax.fori_loop(0, jnp.minimum(check_every, max_iter - c.n_iter), one_step, c)
        gap, certified_b = certify(c.coef, c.intercept)
        return c._replace(gap=gap, certified_b=certified_b)

    def cond(c):
        return (c.n_iter < max_iter) & (c.gap > tol * scale)

    gap0, b0 = certify(coef0, intercept0)
    one = jnp.ones((), dtype)
    init_carry = _Carry(coef0, intercept0, coef0, intercept0, one,
                        jnp.zeros((), jnp.int32), gap0, b0)
    out = lax.while_loop(cond, body, init_carry)
    return Solution(out.coef, out.certified_b, out.n_iter, out.gap, out.gap <= tol * scale)


def ista(X, y, loss, penalty, **options):
    r"""Minimise :math:`\frac1n\sum_i s_i\ell(y_i, x_i^\top w + b) + P(w)` by ISTA.

    Proximal gradient without momentum: :func:`fista` with
    ``accelerated=False`` (same parameters and certificate).
    """
    return fista(X, y, loss, penalty, accelerated=False, **options)

