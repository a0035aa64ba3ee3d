r"""Derivatives of a solution with respect to the data and the hyperparameters.

A solver returns :math:`\theta^\star = (w^\star, b^\star)`, a minimiser of

.. math::
    F(\theta; \eta) = \frac1n \sum_i s_i\, \ell(y_i, x_i^\top w + b) + P(w),

where :math:`\eta` collects everything the solution depends on: ``X``, ``y``,
the sample weights, the loss's leaves (Huber's ``delta``, the ``quantile``)
and the penalty's (``alpha``, ``l1_ratio``, per-feature ``weights``). A
solver's loop (``lax.while_loop``) cannot be differentiated, and should not be:
its iterates converge to :math:`\theta^\star`, whose derivative follows from
the optimality condition alone (implicit differentiation). This module gives
:func:`jaxreg.solve` and :func:`jaxreg.path` that derivative as a
:func:`jax.custom_jvp` rule whose linear solve is a
:func:`jax.lax.custom_linear_solve`, so that forward mode (:func:`jax.jvp`,
:func:`jax.jacfwd`) and reverse mode (:func:`jax.grad`, :func:`jax.jacrev`,
which transposes the linear solve) both work, under :func:`jax.jit` and
:func:`jax.vmap`. The primal computation is untouched: the rule runs only
when someone differentiates.

**Smooth losses** (squared, Huber, logistic, multinomial). Let
:math:`S` be the *generalized support*: the coordinates where :math:`P` is
twice differentiable at :math:`w^\star` (non-zero coefficients of ``L1``,
``ElasticNetPenalty`` and ``WeightedL1``, the features with zero weight, every
coordinate of ``L2``; non-zero groups of the group lasso), plus the intercept.
On :math:`S` the stationarity condition holds with equality,

.. math::
    g_S(\theta; \eta) = \nabla_{\theta_S} \Big[\frac1n \sum_i s_i
        \ell(y_i, x_i^\top w + b) + \tilde P(w)\Big] = 0,

with :math:`\tilde P` the penalty on the orthant of :math:`w^\star`
(:math:`\alpha\rho\,\mathrm{sign}(w^\star)^\top w + \frac{\alpha(1-\rho)}2
\|w\|^2` for the elastic net), and off :math:`S` the coefficients stay at zero
for a small change of :math:`\eta` (strict complementarity, which holds for
almost every :math:`\eta`). Differentiating,

.. math::
    H_{SS}\, \dot\theta_S = -\partial_\eta g_S\, \dot\eta, \qquad
    \dot\theta_{\bar S} = 0, \qquad
    H = \tilde X^\top \operatorname{diag}(s \odot \ell''/n) \tilde X
        + \nabla^2 \tilde P, \quad \tilde X = [X, 1].

Under ``jit`` shapes are fixed, so :math:`S` is a mask: the system solved is
:math:`M \dot\theta = r` with :math:`M = H` on :math:`S\times S` and the
identity on the other rows and columns, :math:`r = -\partial_\eta g\,\dot\eta`
on :math:`S` and 0 elsewhere. For L1-type penalties :math:`|S| \le n` (per
output) whenever the solution is unique, so the coordinates of :math:`S` are
first gathered into :math:`k = \min(p, n)` slots (``lax.top_k`` of the mask)
and :math:`M` is formed there, :math:`O(nk^2 + k^3)`, and Cholesky-factored
(:func:`~jaxreg.solvers._common.masked_cholesky`, whose relative ridge of
:math:`10^{-13}\max_j M_{jj}` keeps duplicated columns factorizable). A
full-size linear solve would cost :math:`O(p^3)` and be singular on the
features off the support. Without a support bound (ridge, elastic net, no
penalty) the same dense solve runs on all :math:`p` coordinates up to
:data:`DENSE_MAX` of them, and conjugate gradients on :math:`M` (matrix-free,
one Hessian-vector product per step) beyond, and for the group lasso.

The multinomial loss is invariant under :math:`b \mapsto b + c\,1`; its
Hessian is singular along that direction, which :math:`r` never meets, so
:math:`M` gets :math:`\gamma\,11^\top/K` added on the intercept block and the
returned :math:`\dot b` is the one with :math:`1^\top\dot b = 0`.

**Absolute and quantile losses.** The solution is a vertex of a linear program
(with an L1-type penalty or none): it interpolates an *active set*
:math:`E` of samples, :math:`x_i^\top w + b = y_i` for :math:`i \in E`, with
:math:`|E| = |S| + 1` generically. Write :math:`u` for the subgradient of the
loss at the solution (:math:`u_i = -\tau` where :math:`r_i > 0`,
:math:`1 - \tau` where :math:`r_i < 0`, free on :math:`E`). The conditions
that hold with equality are

.. math::
    \tfrac1n X_{\cdot S}^\top (s \odot u) + \nabla_S \tilde P(w) = 0, \qquad
    \tfrac1n \textstyle\sum_i s_i u_i = 0, \qquad
    \tfrac{s_i}{n}(x_i^\top w + b - y_i) = 0 \ (i \in E),

in the unknowns :math:`(w_S, b, u_E)`: a symmetric indefinite KKT system

.. math::
    \begin{pmatrix} \nabla^2_{SS}\tilde P & 0 & A_S^\top \\ 0 & 0 & a^\top \\
    A_S & a & 0\end{pmatrix}
    \begin{pmatrix}\dot w_S \\ \dot b \\ \dot u_E\end{pmatrix} = -\partial_\eta
    (\ldots)\,\dot\eta, \qquad A = \operatorname{diag}(s_E/n) X_{E\cdot},\ a = s_E / n,

solved by LU. For ``L1``/``WeightedL1``/no penalty :math:`\nabla^2\tilde P=0`:
:math:`(w_S, b)` solves the square interpolation system
:math:`[X_{ES}, 1](w_S, b) = y_E`, so :math:`\partial w/\partial y` is
non-zero (on :math:`E`) while :math:`\partial w/\partial\alpha = 0` and
:math:`\partial w/\partial\tau = 0` almost everywhere: the solution is
piecewise constant in the hyperparameters and jumps where :math:`E` or
:math:`S` changes; there the returned value is the derivative of the piece
the returned solution lies on. :math:`E` is taken as the :math:`|S| + 1`
samples with the smallest :math:`|r_i|` (L1-type penalties), or those with
:math:`|r_i| \le 10^{-7}` times the mean absolute deviation of ``y`` (with a
quadratic part in the penalty, where :math:`|E| \le |S| + 1`). This needs an
exact solver: the interior point (the default up to 1000 features) is.

**Kinks.** Where the support is about to change (a zero coefficient whose
correlation equals :math:`\alpha`, e.g. :math:`\alpha = \alpha_{\max}` with
:math:`w^\star = 0`) the solution map has one-sided derivatives only. The
rule treats every zero coefficient as fixed at zero, so it returns the
derivative from the side on which the support stays as returned: at
:math:`\alpha_{\max}`, :math:`\partial w/\partial\alpha = 0` (the right
derivative; the left one is :math:`-H_{jj}^{-1}\,\mathrm{sign}\ldots` for the
entering feature). It is always finite.

``n_iter``, ``dual_gap`` and ``converged`` get zero tangents (they are
properties of the iterations, not of the minimiser).

**Unrolled differentiation** (``differentiation="unrolled"``) runs a fixed
number of FISTA steps (:func:`unrolled_solve`) and lets JAX differentiate
through them: the cost and memory grow with the number of steps, and the
derivative is that of the iterate, which approaches the implicit one only as
the iterate converges. It is here for comparison.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg.solvers import _common

__all__ = ["implicit_solve", "unrolled_solve", "differentiable_solve", "solution_tangent",
           "free_mask", "DENSE_MAX"]

#: Largest number of gathered coordinates for which the linear system is
#: formed and factorized; beyond it conjugate gradients are used.
DENSE_MAX = 3000

#: Absolute/quantile solutions: coefficients below this times max |w| are zeros.
_LP_ZERO = 1e-9

_SEPARABLE = (_penalties.L1, _penalties.L2, _penalties.ElasticNetPenalty,
              _penalties.WeightedL1, _penalties.NoPenalty)
_L1_TYPE = (_penalties.L1, _penalties.WeightedL1)
_POLYHEDRAL = (_penalties.L1, _penalties.WeightedL1, _penalties.NoPenalty)


class _Data(NamedTuple):
    """What the solution depends on (the differentiable inputs of the rule)."""

    X: jax.Array
    y: jax.Array
    sample_weight: jax.Array | None
    loss: object
    penalty: object


# --------------------------------------------------------------------------
# Masks and curvatures
# --------------------------------------------------------------------------


def free_mask(penalty, coef):
    r"""Coordinates where :math:`P` is twice differentiable at ``coef`` (the generalized support).

    Non-zero coefficients, features whose penalty strength is zero, every
    coordinate of ``L2`` and of no penalty (non-negative ones only when
    ``positive``), the non-zero groups of the group lasso.

    Parameters
    ----------
    penalty : a penalty of :mod:`jaxreg.penalties`
    coef : array of shape (n_features,) or (n_features, n_outputs)

    Returns
    -------
    array of bool, shaped like ``coef``

    Examples
    --------
    >>> from jaxreg.penalties import L1
    >>> free_mask(L1(0.5), jnp.array([0.0, -1.0, 2.0]))
    Array([False,  True,  True], dtype=bool)
    """
    nonzero = coef != 0
    if isinstance(penalty, (_penalties.L2, _penalties.NoPenalty)):
        free = jnp.ones_like(nonzero)
    elif isinstance(penalty, _penalties.WeightedL1):
        weights = jnp.asarray(penalty.weights)
        weights = weights.reshape(weights.shape + (1,) * (coef.ndim - 1))
        free = nonzero | (weights == 0)
    elif isinstance(penalty, _penalties.ElasticNetPenalty):
        free = nonzero | (penalty.alpha * penalty.l1_ratio == 0)
    elif isinstance(penalty, _penalties.L1):
        free = nonzero | (penalty.alpha == 0)
    elif isinstance(penalty, _penalties.GroupLassoPenalty):
        ids = jnp.asarray(penalty.groups)
        squares = coef**2 if coef.ndim == 1 else jnp.sum(coef**2, axis=tuple(range(1, coef.ndim)))
        norms = jax.ops.segment_sum(squares, ids, max(penalty.groups) + 1)
        free = (norms[ids] > 0) | (penalty.alpha == 0)
        free = free.reshape(free.shape + (1,) * (coef.ndim - 1)) & jnp.ones_like(nonzero)
    else:
        free = nonzero
    if getattr(penalty, "positive", False):
        free = free & nonzero
    return jnp.broadcast_to(free, coef.shape)


def _penalty_gradient(penalty, coef, free):
    """:math:`\\nabla \\tilde P` on ``free`` (0 elsewhere), evaluated away from kinks."""
    safe = jnp.where(free, coef, 1.0)
    return jnp.where(free, jax.grad(lambda w: penalty.value(w))(safe), 0.0)


def _penalty_curvature(penalty, coef, free):
    r"""Diagonal of :math:`\nabla^2 \tilde P` on ``free`` (separable penalties)."""
    safe = jnp.where(free, coef, 1.0)
    _, curvature = jax.jvp(jax.grad(lambda w: penalty.value(w)), (safe,), (jnp.ones_like(safe),))
    return jnp.where(free, curvature, 0.0)


def _weights(sample_weight, n, dtype):
    if sample_weight is None:
        return jnp.ones(n, dtype)
    s = jnp.asarray(sample_weight, dtype)
    return s * (n / jnp.sum(s))


def _target(y, dtype):
    y = jnp.asarray(y)
    return y if jnp.issubdtype(y.dtype, jnp.integer) else y.astype(dtype)


def _zero_tangent(x):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, jax.dtypes.float0)


# --------------------------------------------------------------------------
# Smooth losses
# --------------------------------------------------------------------------


def _smooth_objective(theta, data, fit_intercept):
    w, b = theta
    X = data.X
    n = X.shape[0]
    s = _weights(data.sample_weight, n, X.dtype)
    y = _target(data.y, X.dtype)
    z = _common.predict(X, w, b if fit_intercept else jnp.zeros_like(b))
    return jnp.sum(s * data.loss.value(y, z)) / n + data.penalty.value(w)


def _dense_solve(M, used, rhs):
    """Solve ``M x = rhs`` on ``used`` (identity elsewhere), ``M`` symmetric PSD."""
    factor = _common.masked_cholesky(M, used)

    def solve(_, b):
        return jax.scipy.linalg.cho_solve((factor, True), b)

    def matvec(v):
        return jnp.where(used, M @ jnp.where(used, v, 0.0), v)

    return lax.custom_linear_solve(matvec, jnp.where(used, rhs, 0.0), solve, symmetric=True)


def _sample_hessian(loss, y, z):
    """Per-sample Hessian of the loss in ``z``: (n,) for 1-D ``z``, (n, K, K) else."""
    grad = lambda zz: loss.grad(y, zz)  # noqa: E731
    if z.ndim == 1:
        return jax.jvp(grad, (z,), (jnp.ones_like(z),))[1]
    K = z.shape[1]
    eye = jnp.eye(K, dtype=z.dtype)
    columns = jax.vmap(lambda e: jax.jvp(grad, (z,), (jnp.broadcast_to(e, z.shape),))[1])(eye)
    return jnp.transpose(columns, (1, 2, 0))   # (n, K_out, K_in)


def _smooth_dense(coef, intercept, data, g_dot, free_w, free_b, fit_intercept, k):
    """Gathered dense solve of :math:`M\\dot\\theta = r` (see the module docstring)."""
    X, loss, penalty = data.X, data.loss, data.penalty
    n, p = X.shape
    K = 1 if coef.ndim == 1 else coef.shape[1]
    y = _target(data.y, X.dtype)
    s = _weights(data.sample_weight, n, X.dtype)
    z = _common.predict(X, coef, intercept if fit_intercept else jnp.zeros_like(intercept))
    hz = _sample_hessian(loss, y, z)
    hz = hz.reshape(n, 1, 1) if coef.ndim == 1 else hz
    d = p * K
    free_flat = free_w.reshape(d)
    if k < d:
        _, index = lax.top_k(free_flat.astype(X.dtype), k)
    else:
        index = jnp.arange(d)
    features, classes = index // K, index % K
    columns = jnp.concatenate([X[:, features], jnp.ones((n, K), X.dtype)], axis=1)  # (n, k+K)
    labels = jnp.concatenate([classes, jnp.arange(K)])
    used = jnp.concatenate([free_flat[index], jnp.broadcast_to(free_b, (K,))])
    weight = s / n
    H = jnp.zeros((k + K, k + K), X.dtype)
    for c in range(K):
        left = jnp.where(labels[None, :] == c, columns, 0.0)
        for c2 in range(K):
            right = jnp.where(labels[None, :] == c2, columns, 0.0)
            H = H + left.T @ ((weight * hz[:, c, c2])[:, None] * right)
    curvature = _penalty_curvature(penalty, coef, free_w).reshape(d)[index]
    H = H + jnp.diag(jnp.concatenate([curvature, jnp.zeros(K, X.dtype)]))
    if isinstance(loss, _losses.MultinomialLoss) and fit_intercept:
        # Softmax is invariant under b -> b + c 1: pin that direction (r is orthogonal to it).
        gamma = jnp.maximum(jnp.max(jnp.abs(jnp.diagonal(H))), jnp.finfo(X.dtype).tiny)
        block = jnp.zeros((k + K, k + K), X.dtype).at[k:, k:].set(gamma / K)
        H = H + block
    gw_dot, gb_dot = g_dot
    rhs = -jnp.concatenate([gw_dot.reshape(d)[index], jnp.reshape(gb_dot, (K,))])
    x = _dense_solve(H, used, rhs)
    coef_dot = jnp.zeros(d, X.dtype).at[index].set(jnp.where(used[:k], x[:k], 0.0),
                                                   unique_indices=True)
    intercept_dot = jnp.where(used[k:], x[k:], 0.0)
    return coef_dot.reshape(coef.shape), intercept_dot.reshape(jnp.shape(intercept))


def _smooth_cg(theta, data, g_dot, free, fit_intercept):
    """Conjugate gradients on :math:`M` (Hessian-vector products of the objective)."""

    def hvp(v):
        grad = lambda th: jax.grad(_smooth_objective)(th, data, fit_intercept)  # noqa: E731
        return jax.jvp(grad, (theta,), (v,))[1]

    def matvec(v):
        masked = jax.tree_util.tree_map(lambda a, m: jnp.where(m, a, 0.0), v, free)
        out = hvp(masked)
        return jax.tree_util.tree_map(lambda a, b, m: jnp.where(m, a, b), out, v, free)

    rhs = jax.tree_util.tree_map(lambda g, m: jnp.where(m, -g, 0.0), g_dot, free)
    size = sum(a.size for a in jax.tree_util.tree_leaves(rhs))
    x, _ = jax.scipy.sparse.linalg.cg(matvec, rhs, tol=1e-12, maxiter=2 * size + 10)
    return jax.tree_util.tree_map(lambda a, m: jnp.where(m, a, 0.0), x, free)


def _smooth_tangent(coef, intercept, data, data_dot, fit_intercept):
    theta = (coef, intercept)
    _, g_dot = jax.jvp(
        lambda d: jax.grad(_smooth_objective)(theta, d, fit_intercept), (data,), (data_dot,))
    free_w = free_mask(data.penalty, coef)
    free_b = jnp.asarray(bool(fit_intercept))
    n, p = data.X.shape
    K = 1 if coef.ndim == 1 else coef.shape[1]
    if isinstance(data.penalty, _SEPARABLE):
        k = p * K
        if isinstance(data.penalty, _L1_TYPE):
            k = min(k, n * K)
        if k <= DENSE_MAX:
            return _smooth_dense(coef, intercept, data, g_dot, free_w, free_b, fit_intercept, k)
    free = (free_w, jnp.broadcast_to(free_b, jnp.shape(intercept)))
    return _smooth_cg(theta, data, g_dot, free, fit_intercept)


# --------------------------------------------------------------------------
# The Gram form (squared loss from GramStatistics, as coordinate descent's paths)
# --------------------------------------------------------------------------


def _gram_tangent(coef, stats, penalty, stats_dot, penalty_dot):
    r"""Tangent of :math:`w^\star = \operatorname{argmin} \frac12 w^\top G w - c^\top w + P(w)`.

    and of :math:`b^\star = \bar y_s - \bar x_s^\top w^\star`.
    """
    dtype = jnp.result_type(stats.gram)
    free = free_mask(penalty, coef)

    def grad(stats, penalty):
        G = jnp.asarray(stats.gram, dtype)
        return G @ coef - jnp.asarray(stats.xty, dtype) + _penalty_gradient(penalty, coef, free)

    _, g_dot = jax.jvp(grad, (stats, penalty), (stats_dot, penalty_dot))
    H = jnp.asarray(stats.gram, dtype) + jnp.diag(_penalty_curvature(penalty, coef, free))
    coef_dot = _dense_solve(H, free, -g_dot)
    coef_dot = jnp.where(free, coef_dot, 0.0)
    intercept, intercept_dot = jax.jvp(
        lambda st, w: jnp.asarray(st.y_mean, dtype) - jnp.vdot(jnp.asarray(st.x_mean, dtype), w),
        (stats, coef), (stats_dot, coef_dot))
    return coef_dot, intercept_dot


# --------------------------------------------------------------------------
# Absolute and quantile losses
# --------------------------------------------------------------------------


def _nonsmooth_tangent(coef, intercept, data, data_dot, fit_intercept):
    X, loss, penalty = data.X, data.loss, data.penalty
    if coef.ndim != 1:
        raise NotImplementedError("Differentiating absolute/quantile fits needs a 1-D y.")
    if not isinstance(penalty, _SEPARABLE):
        raise NotImplementedError(
            f"Implicit differentiation of {type(loss).__name__} with "
            f"{type(penalty).__name__} is not implemented (separable penalties only).")
    n, p = X.shape
    dtype = X.dtype
    y = _target(data.y, dtype)
    s = _weights(data.sample_weight, n, dtype)
    b0 = intercept if fit_intercept else jnp.zeros_like(intercept)
    # Interior-point solutions leave ~1e-14 where the LP's vertex has exact
    # zeros: below _LP_ZERO times the largest coefficient counts as zero.
    coef = jnp.where(jnp.abs(coef) > _LP_ZERO * jnp.max(jnp.abs(coef)), coef, 0.0)
    r = y - (X @ coef + b0)
    free = free_mask(penalty, coef)
    polyhedral = isinstance(penalty, _POLYHEDRAL)
    k_s = min(p, n) if polyhedral else p
    k_e = min(n, k_s + 1)
    _, features = lax.top_k(free.astype(dtype), k_s) if k_s < p else (None, jnp.arange(p))
    used_s = free[features]
    # Samples by |r| (zero-weight samples last): the interpolated ones first.
    key = jnp.where(s > 0, -jnp.abs(r), -jnp.inf)
    _, rows = lax.top_k(key, k_e)
    if polyhedral:
        used_e = jnp.arange(k_e) < jnp.sum(used_s) + int(bool(fit_intercept))
    else:
        spread = jnp.sum(s * jnp.abs(y - jnp.sum(s * y) / n)) / n
        used_e = jnp.abs(r[rows]) <= 1e-7 * jnp.maximum(spread, jnp.finfo(dtype).tiny)
    used_e = used_e & (s[rows] > 0)
    positive_r = r > 0

    def conditions(d, u_e):
        """(stationarity on S, intercept, scaled interpolation on E) at the solution."""
        Xd = d.X
        sd = _weights(d.sample_weight, n, dtype)
        yd = _target(d.y, dtype)
        lo, hi = d.loss.dual_bounds(yd)
        u = jnp.where(positive_r, jnp.broadcast_to(lo, r.shape), jnp.broadcast_to(hi, r.shape))
        u = u.at[rows].set(jnp.where(used_e, u_e, u[rows]), unique_indices=True)
        stationarity = (Xd[:, features].T @ (sd * u)) / n + _penalty_gradient(
            d.penalty, coef, free)[features]
        g1 = jnp.where(used_s, stationarity, 0.0)
        g2 = jnp.where(fit_intercept, jnp.sum(sd * u) / n, 0.0)
        interpolation = (sd[rows] / n) * (Xd[rows] @ coef + b0 - yd[rows])
        g3 = jnp.where(used_e, interpolation, 0.0)
        return jnp.concatenate([g1, g2[None], g3])

    weight = s[rows] / n
    A = jnp.where(used_e[:, None] & used_s[None, :], weight[:, None] * X[rows][:, features], 0.0)
    a = jnp.where(used_e & fit_intercept, weight, 0.0)
    curvature = _penalty_curvature(penalty, coef, free)[features]
    size = k_s + 1 + k_e
    M = jnp.zeros((size, size), dtype)
    M = M.at[:k_s, :k_s].set(jnp.diag(jnp.where(used_s, curvature, 1.0)))
    M = M.at[k_s, k_s].set(jnp.where(fit_intercept, 0.0, 1.0))
    M = M.at[k_s + 1:, k_s + 1:].set(jnp.diag(jnp.where(used_e, 0.0, 1.0)))
    M = M.at[k_s + 1:, :k_s].set(A).at[:k_s, k_s + 1:].set(A.T)
    M = M.at[k_s + 1:, k_s].set(a).at[k_s, k_s + 1:].set(a)
    factor = jax.scipy.linalg.lu_factor(M)
    # The free subgradients u_E at the solution: the conditions are affine in
    # u_E, and (w, b) already satisfy the interpolation rows.
    c0 = conditions(data, jnp.zeros(k_e, dtype)).at[k_s + 1:].set(0.0)
    u_e = jax.scipy.linalg.lu_solve(factor, -c0)[k_s + 1:]
    _, c_dot = jax.jvp(lambda d: conditions(d, u_e), (data,), (data_dot,))

    def solve(_, b):
        return jax.scipy.linalg.lu_solve(factor, b)

    x = lax.custom_linear_solve(lambda v: M @ v, -c_dot, solve, symmetric=True)
    coef_dot = jnp.zeros(p, dtype).at[features].set(jnp.where(used_s, x[:k_s], 0.0),
                                                     unique_indices=True)
    intercept_dot = jnp.where(fit_intercept, x[k_s], 0.0).reshape(jnp.shape(intercept))
    return coef_dot, intercept_dot.astype(dtype)


# --------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------


def solution_tangent(coef, intercept, X, y, sample_weight, loss, penalty, tangents, *,
                     fit_intercept=True):
    r"""Directional derivative of the minimiser :math:`(w^\star, b^\star)`.

    Implicit differentiation of the optimality condition at the solution
    ``(coef, intercept)`` (see the module docstring for the linear systems).

    Parameters
    ----------
    coef, intercept : arrays
        A minimiser (exact zeros off the support, as the solvers return).
    X, y, sample_weight, loss, penalty
        The problem.
    tangents : tuple ``(X_dot, y_dot, sample_weight_dot, loss_dot, penalty_dot)``
        Tangents shaped like the inputs (``float0`` for integer ``y``).
    fit_intercept : bool, default=True

    Returns
    -------
    (coef_dot, intercept_dot) : arrays shaped like ``coef``, ``intercept``
    """
    data = _Data(X, y, sample_weight, loss, penalty)
    data_dot = _Data(*tangents)
    if getattr(loss, "smooth", False):
        return _smooth_tangent(coef, intercept, data, data_dot, fit_intercept)
    return _nonsmooth_tangent(coef, intercept, data, data_dot, fit_intercept)


def implicit_solve(solver, X, y, loss, penalty, sample_weight, init, tol, gram=None, *,
                   fit_intercept=True, options=()):
    r"""``solver(X, y, loss, penalty, ...)`` with the implicit derivative of its solution.

    The same :class:`~jaxreg.solvers.Solution` as the solver, computed the same
    way; under :func:`jax.jvp`, :func:`jax.grad` and their relatives the
    tangents of ``coef`` and ``intercept`` come from
    :func:`solution_tangent` (``init`` and ``tol`` get none: the minimiser
    does not depend on them). With ``gram=`` (coordinate descent's
    :class:`~jaxreg.solvers.cd.GramStatistics`) the squared-loss system is
    :math:`(G + \nabla^2\tilde P)_{SS}\,\dot w_S = -\partial_\eta(Gw - c +
    \nabla\tilde P)_S\,\dot\eta`, differentiable in the statistics.

    Parameters
    ----------
    solver : callable
        A function of :mod:`jaxreg.solvers`.
    X, y, loss, penalty, sample_weight, init, tol
        As in :func:`jaxreg.solve` (``X`` and ``y`` may be None with ``gram``).
    gram : GramStatistics or None
    fit_intercept : bool, default=True
    options : tuple of (name, value) pairs
        Passed on to the solver.

    Returns
    -------
    Solution
    """
    options = dict(options)

    @jax.custom_jvp
    def run(X, y, loss, penalty, sample_weight, init, tol, gram):
        extra = dict(options) if gram is None else dict(options, gram=gram)
        return solver(X, y, loss, penalty, fit_intercept=fit_intercept,
                      sample_weight=sample_weight, init=init, tol=tol, **extra)

    @run.defjvp
    def run_jvp(primals, tangents):
        X, y, loss, penalty, sample_weight, init, tol, gram = primals
        X_dot, y_dot, loss_dot, penalty_dot, sample_weight_dot, _, _, gram_dot = tangents
        solution = run(*primals)
        if gram is not None:
            coef_dot, intercept_dot = _gram_tangent(solution.coef, gram, penalty, gram_dot,
                                                    penalty_dot)
        else:
            coef_dot, intercept_dot = solution_tangent(
                solution.coef, solution.intercept, X, y, sample_weight, loss, penalty,
                (X_dot, y_dot, sample_weight_dot, loss_dot, penalty_dot),
                fit_intercept=fit_intercept)
        tangent = jax.tree_util.tree_map(_zero_tangent, solution)
        tangent = tangent._replace(coef=coef_dot.astype(solution.coef.dtype),
                                   intercept=jnp.asarray(intercept_dot, solution.intercept.dtype))
        return solution, tangent

    return run(X, y, loss, penalty, sample_weight, init, jnp.asarray(tol), gram)


# --------------------------------------------------------------------------
# Unrolled differentiation
# --------------------------------------------------------------------------


def unrolled_solve(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None, init=None,
                   tol=1e-4, max_iter=1000, accelerated=True):
    r"""``max_iter`` FISTA steps on :math:`F(w, b)`, differentiable by autodiff.

    The iteration of :func:`~jaxreg.solvers.fista` without restart or early
    stopping (a :func:`jax.lax.scan` of exactly ``max_iter`` steps of size
    :math:`1/L`, :math:`L` held constant under differentiation), so that
    :func:`jax.grad` differentiates the iterates themselves ("unrolled"
    differentiation). Reverse mode stores every iterate: memory grows as
    ``max_iter * (n_features + n_samples)``.

    Returns
    -------
    Solution
        ``n_iter = max_iter``; ``dual_gap`` at the last iterate (not
        differentiated), ``converged`` whether it is at most ``tol * P_null``.
    """
    if not getattr(loss, "smooth", False):
        raise TypeError(f"differentiation='unrolled' needs a smooth loss, not "
                        f"{type(loss).__name__}; use differentiation='implicit'.")
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    out_shape = _common.output_shape(problem, loss)
    coef, intercept = _common.initial_point(problem, loss, init, out_shape)
    step = 1.0 / lax.stop_gradient(_common.datafit_lipschitz(problem, loss))
    n = problem.X.shape[0]
    Xd = problem.X
    s = problem.s

    def gradients(w, b):
        z = _common.predict(Xd, w, b)
        u = loss.grad(problem.y, z)
        su = _common._expand(s, u) * u
        return Xd.T @ su / n, jnp.sum(su, axis=0) / n

    def one_step(carry, _):
        w, b, vw, vb, t = carry
        gw, gb = gradients(vw, vb)
        w_new = penalty.prox(vw - step * gw, step)
        b_new = vb - step * gb if fit_intercept else vb
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t**2)) if accelerated else t
        beta = (t - 1.0) / t_new if accelerated else 0.0
        return (w_new, b_new, w_new + beta * (w_new - w), b_new + beta * (b_new - b),
                t_new), None

    one = jnp.ones((), Xd.dtype)
    (coef, intercept, _, _, _), _ = lax.scan(
        one_step, (coef, intercept, coef, intercept, one), None, length=max_iter)
    certificate = _common.make_certificate(problem, loss, penalty)
    gap = _common.duality_gap(problem, loss, penalty, certificate, lax.stop_gradient(coef),
                              lax.stop_gradient(intercept))
    gap = lax.stop_gradient(gap)
    return _common.Solution(coef, intercept, jnp.asarray(max_iter, jnp.int32), gap,
                            gap <= tol * lax.stop_gradient(certificate.scale))


def differentiable_solve(solver, X, y, loss, penalty, sample_weight, init, tol, gram=None, *,
                         fit_intercept=True, options=(), differentiation="implicit"):
    """Dispatch on ``differentiation``: :func:`implicit_solve` or :func:`unrolled_solve`."""
    if differentiation == "implicit":
        return implicit_solve(solver, X, y, loss, penalty, sample_weight, init, tol, gram,
                              fit_intercept=fit_intercept, options=options)
    if differentiation == "unrolled":
        keep = {k: v for k, v in dict(options).items() if k in ("max_iter", "accelerated")}
        return unrolled_solve(X, y, loss, penalty, fit_intercept=fit_intercept,
                              sample_weight=sample_weight, init=init, tol=tol, **keep)
    raise ValueError(f"differentiation must be 'implicit' or 'unrolled'; got {differentiation!r}.")
