r"""What every solver shares: the `Solution`, the weighted datafit, step sizes and
the duality-gap certificate.

Every solver minimises

.. math::
    F(w, b) = \frac1n \sum_{i=1}^n s_i\, \ell(y_i, x_i^\top w + b) + P(w),
    \qquad \sum_i s_i = n,

and certifies its answer with the Fenchel dual

.. math::
    D(u) = -\frac1n \sum_i s_i\, \ell^*(y_i, u_i)
           - P^*\!\Big(-\frac1n X^\top (s \odot u)\Big),
    \qquad \sum_i s_i u_i = 0 \text{ (with an intercept)},

so that :math:`F(w, b) - D(u) \ge F^\star - D^\star = 0` bounds the
suboptimality of :math:`(w, b)` for every feasible :math:`u`. The dual point is
built from :math:`u = \partial\ell/\partial z` at the primal point (or from the
solver's own dual iterate) and made feasible by projection (the intercept and
unpenalized features) and scaling (the loss's conjugate domain and the
penalty's dual ball).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxreg import losses as _losses


class Solution(NamedTuple):
    """Result of a solver.

    Attributes
    ----------
    coef : array of shape (n_features,) or (n_features, n_outputs)
    intercept : array of shape () or (n_outputs,)
    n_iter : array of shape (), int32
        Iterations (epochs for coordinate descent) performed.
    dual_gap : array of shape ()
        Duality gap :math:`F(w, b) - D(u)` at the returned ``(coef, intercept)``:
        an upper bound on its suboptimality.
    converged : array of shape (), bool
        ``dual_gap <= tol * P_null`` (see :func:`null_objective`).
    state : pytree or None
        Solver-specific extra state (e.g. a dual variable), for warm starts.
    """

    coef: jax.Array
    intercept: jax.Array
    n_iter: jax.Array
    dual_gap: jax.Array
    converged: jax.Array
    state: Any = None


class Problem(NamedTuple):
    """Data of one problem, with weights normalised to sum to ``n_samples``."""

    X: jax.Array          # (n, p)
    y: jax.Array          # (n,) or (n, k)
    s: jax.Array          # (n,), sum = n
    fit_intercept: bool
    Xt: jax.Array         # (p, n) contiguous transposed copy, for X^T v products


def make_problem(X, y, sample_weight=None, fit_intercept=True):
    """Pack ``X, y`` and the normalised weights :math:`s` (:math:`\\sum s = n`).

    A sparse :class:`~jaxreg.sparse.CSCDesign` ``X`` is kept as is, with
    ``Xt`` its transpose as an operator (``Xt @ v`` is a sparse product).
    """
    from jaxreg.sparse import CSCDesign

    if isinstance(X, CSCDesign):
        y = jnp.asarray(y)
        if not jnp.issubdtype(y.dtype, jnp.integer):
            y = y.astype(X.dtype)
        n = X.shape[0]
        s = (jnp.ones(n, X.dtype) if sample_weight is None else
             jnp.asarray(sample_weight, X.dtype) * (n / jnp.sum(jnp.asarray(sample_weight, X.dtype))))
        return Problem(X, y, s, bool(fit_intercept), X.T)
    X = jnp.asarray(X)
    y = jnp.asarray(y)
    n = X.shape[0]
    if sample_weight is None:
        s = jnp.ones(n, X.dtype)
    else:
        s = jnp.asarray(sample_weight, X.dtype)
        s = s * (n / jnp.sum(s))
    if not jnp.issubdtype(y.dtype, jnp.integer):
        y = y.astype(X.dtype)
    # XLA on CPU computes X.T @ v on a row-major X ~20x slower than with a
    # contiguous transposed copy (DESIGN.md); the barrier makes it materialise.
    Xt = lax.optimization_barrier(X.T)
    return Problem(X, y, s, bool(fit_intercept), Xt)


def _expand(s, a):
    """Weights (n,) broadcast against a (n,) or (n, k) array."""
    return s.reshape(s.shape + (1,) * (a.ndim - 1))


def output_shape(problem, loss):
    """Trailing shape of ``coef`` and ``intercept``: () or (k,)."""
    if isinstance(loss, _losses.MultinomialLoss):
        if loss.n_classes is None:
            raise ValueError(
                "MultinomialLoss needs n_classes under jit: use "
                "MultinomialLoss(n_classes=k)."
            )
        return (loss.n_classes,)
    return problem.y.shape[1:]


def predict(X, coef, intercept):
    """Linear predictor :math:`z = X w + b`."""
    z = X @ coef
    return z + jnp.expand_dims(intercept, tuple(range(z.ndim - jnp.ndim(intercept))))


def datafit(problem, loss, z):
    r"""Weighted mean loss :math:`\frac1n \sum_i s_i \ell(y_i, z_i)`."""
    n = problem.X.shape[0]
    return jnp.sum(problem.s * loss.value(problem.y, z)) / n


def primal_objective(problem, loss, penalty, coef, intercept):
    """:math:`F(w, b)`."""
    z = predict(problem.X, coef, intercept)
    return datafit(problem, loss, z) + penalty.value(coef)


def datafit_grad(problem, loss, z):
    """Gradients of the datafit in ``(w, b)`` from ``z = Xw + b``.

    Returns ``(grad_coef, grad_intercept, u)`` with ``u = dl/dz`` per sample.
    """
    n = problem.X.shape[0]
    u = loss.grad(problem.y, z)
    su = _expand(problem.s, u) * u
    return problem.Xt @ su / n, jnp.sum(su, axis=0) / n, u


# --------------------------------------------------------------------------
# The null model and the best intercept for a given offset
# --------------------------------------------------------------------------


def _weighted_quantile(values, s, quantile, steps=64):
    """Smallest ``v`` among ``values`` with weight of ``{values <= v}`` at least
    ``quantile * sum(s)``.

    It minimises :math:`\\sum_i s_i \\rho_\\tau(v_i - b)` over ``b``. Found by
    bisection on :math:`[\\min v, \\max v]` (the weight below ``b`` is
    non-decreasing in ``b``), then snapped to the largest value at or below
    the bracket's upper end, so that it is one of ``values`` (and its
    derivative is that value's). Each halving costs O(n): at n = 20000 on CPU
    0.5 ms against 7-10 ms for sorting ``values`` with XLA.
    """
    target = quantile * jnp.sum(s) * (1 - 1e-12)

    def halve(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        enough = jnp.sum(jnp.where(values <= mid, s, 0.0)) >= target
        return jnp.where(enough, lo, mid), jnp.where(enough, mid, hi)

    hi = lax.fori_loop(0, steps, halve, (jnp.min(values), jnp.max(values)))[1]
    return jnp.max(jnp.where(values <= hi, values, -jnp.inf))


def _huber_location(r, s, delta, n_bisect=100):
    """argmin_b sum_i s_i h_delta(r_i - b): bisection on the monotone derivative."""

    def body(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        slope = jnp.sum(s * jnp.clip(mid - r, -delta, delta))
        return jnp.where(slope > 0, lo, mid), jnp.where(slope > 0, mid, hi)

    lo, hi = lax.fori_loop(0, n_bisect, body, (jnp.min(r), jnp.max(r)))
    return 0.5 * (lo + hi)


def best_intercept(problem, loss, offset):
    r"""Best intercept for a fixed offset :math:`z_0 = X w`, where it is cheap.

    :math:`\operatorname{argmin}_b \sum_i s_i \ell(y_i, z_{0,i} + b)`: the
    weighted mean of :math:`y - z_0` for the squared loss, its weighted quantile
    for the absolute and quantile losses, a bisection for Huber's. Returns
    ``None`` for the logistic losses (their solvers fit ``b`` directly).
    """
    if isinstance(loss, (_losses.LogisticLoss, _losses.MultinomialLoss)):
        return None
    r = problem.y - offset
    s = problem.s
    if isinstance(loss, _losses.SquaredLoss):
        return jnp.sum(_expand(s, r) * r, axis=0) / jnp.sum(s)
    if isinstance(loss, _losses.AbsoluteLoss):
        return _weighted_quantile(r, s, 0.5)
    if isinstance(loss, _losses.QuantileLoss):
        return _weighted_quantile(r, s, loss.quantile)
    if isinstance(loss, _losses.HuberLoss):
        return _huber_location(r, s, loss.delta)
    return None


def null_objective(problem, loss):
    r"""Objective of the null model, :math:`P_{\text{null}} = \min_b F(0, b)`.

    (:math:`b = 0` without an intercept.) It is the scale of ``tol``: a solver
    stops when ``dual_gap <= tol * P_null``. For the squared loss
    :math:`P_{\text{null}} = \|y - \bar y_s\|_s^2 / (2n)`, so scikit-learn's
    gap test :math:`\text{gap} \le \text{tol}\,\|y_c\|^2/n` is ``2 tol`` here.
    """
    out = output_shape(problem, loss)
    zero = jnp.zeros((problem.X.shape[1],) + out, problem.X.dtype)
    return datafit(problem, loss, predict(problem.X, zero, null_intercept(problem, loss)))


def null_intercept(problem, loss):
    """The intercept of the null model (``w = 0``): zeros without an intercept.

    Closed forms for the logistic losses (log-odds of the weighted class
    frequencies), :func:`best_intercept` for the others.
    """
    y, s = problem.y, problem.s
    out = output_shape(problem, loss)
    dtype = problem.X.dtype
    zero = jnp.zeros((y.shape[0],) + out, dtype)
    if not problem.fit_intercept:
        return jnp.zeros(out, dtype)
    if isinstance(loss, _losses.LogisticLoss):
        p = jnp.clip(jnp.sum(s * (y > 0)) / jnp.sum(s), 1e-300, 1.0)
        q = jnp.clip(1.0 - p, 1e-300, 1.0)
        return (jnp.log(p) - jnp.log(q)).astype(dtype)
    if isinstance(loss, _losses.MultinomialLoss):
        freq = jnp.sum(s[:, None] * jax.nn.one_hot(y, out[0], dtype=s.dtype), axis=0)
        return jnp.log(jnp.maximum(freq / jnp.sum(s), jnp.finfo(s.dtype).tiny)).astype(dtype)
    return best_intercept(problem, loss, zero).astype(dtype)


# --------------------------------------------------------------------------
# Step sizes
# --------------------------------------------------------------------------


def design_norm_squared(problem, n_power=100, intercept_scale=1.0):
    r"""Largest eigenvalue of :math:`\tilde X^\top S \tilde X`, :math:`\tilde X = [X, c\,1]`.

    (:math:`X` alone without an intercept; ``c`` is ``intercept_scale``.) From
    ``n_power`` power iterations and a final Rayleigh quotient, enlarged by
    1 % to cover their error from below.
    """
    X, s = problem.X, problem.s
    root = jnp.sqrt(s)
    intercept = intercept_scale if problem.fit_intercept else 0.0

    def apply(v):  # v = (w (p,), b ())
        z = root * (X @ v[0] + intercept * v[1])
        return problem.Xt @ (root * z), intercept * jnp.sum(root * z)

    def body(_, v):
        w, b = apply(v)
        norm = jnp.sqrt(jnp.sum(w**2) + b**2)
        return w / norm, b / norm

    p = X.shape[1]
    v0 = (jnp.ones(p, X.dtype) / jnp.sqrt(p + 1.0), jnp.asarray(intercept, X.dtype))
    w, b = lax.fori_loop(0, n_power, body, v0)
    aw, ab = apply((w, b))
    return 1.01 * (jnp.vdot(w, aw) + b * ab) / (jnp.sum(w**2) + b**2)


def datafit_lipschitz(problem, loss):
    r"""Lipschitz constant of the datafit gradient in :math:`(w, b)`.

    :math:`L = \ell''_{\max} \cdot \lambda_{\max}(\tilde X^\top S \tilde X) / n`
    (:func:`design_norm_squared`).
    """
    return loss.lipschitz * design_norm_squared(problem) / problem.X.shape[0]


# --------------------------------------------------------------------------
# The certificate
# --------------------------------------------------------------------------


def _shift_and_clip(u, s, lo, hi, n_bisect=64):
    r"""A point of :math:`\{v: \sum_i s_i v_i = 0, lo \le v \le hi\}` near ``u``.

    :math:`v_i = \operatorname{clip}(u_i - c, lo_i, hi_i)` with ``c`` found by
    bisection on the decreasing map :math:`c \mapsto \sum_i s_i v_i(c)`, then an
    exact final correction that moves every entry towards the bound that
    reduces the remainder, in proportion to its room. The box contains 0.
    """
    lo = jnp.broadcast_to(lo, u.shape)
    hi = jnp.broadcast_to(hi, u.shape)

    def total(c):
        return jnp.sum(s * jnp.clip(u - c, lo, hi))

    def body(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        positive = total(mid) > 0
        return jnp.where(positive, mid, a), jnp.where(positive, b, mid)

    a0 = jnp.min(jnp.where(s > 0, u - hi, jnp.inf))
    b0 = jnp.max(jnp.where(s > 0, u - lo, -jnp.inf))
    a, b = lax.fori_loop(0, n_bisect, body, (a0, b0))
    v = jnp.clip(u - 0.5 * (a + b), lo, hi)
    # Remove what bisection left of sum(s v) exactly, in proportion to the room
    # each entry has towards the side that reduces it (0 is in the box, so the
    # room always suffices).
    excess = jnp.sum(s * v)
    room = jnp.where(excess > 0, v - lo, hi - v) * (s > 0)
    total_room = jnp.sum(s * room)
    fraction = jnp.where(total_room > 0, excess / jnp.where(total_room > 0, total_room, 1.0), 0.0)
    return jnp.clip(v - fraction * room, lo, hi)


class _Projector(NamedTuple):
    """Weighted least-squares projection onto :math:`A^\\top (s \\odot u) = 0`.

    ``A`` holds the intercept column and the unpenalized columns of ``X``.
    """

    A: jax.Array          # (n, m)
    cholesky: jax.Array   # (m, m) factor of A^T S A (+ 1 on unused columns)


def _make_projector(problem, penalty):
    mask = penalty.unpenalized()
    if mask is None:
        return None
    X, s = problem.X, problem.s
    p = X.shape[1]
    mask = jnp.broadcast_to(jnp.asarray(mask), (p,))
    columns = [X * mask[None, :]]
    used = [mask]
    if problem.fit_intercept:
        columns.insert(0, jnp.ones((X.shape[0], 1), X.dtype))
        used.insert(0, jnp.ones(1, bool))
    A = jnp.concatenate(columns, axis=1)
    used = jnp.concatenate(used)
    gram = A.T @ (s[:, None] * A)
    return _Projector(A, masked_cholesky(gram, used))


def masked_cholesky(gram, used):
    r"""Cholesky factor of a Gram matrix restricted to the columns in ``used``.

    Rows and columns outside ``used`` are replaced by the identity; inside,
    a relative ridge :math:`\max(10^{-13}, 16\,\varepsilon)\,\max_j G_{jj}`
    keeps duplicated (rank-deficient) columns factorisable in both float64
    and float32, while the solve stays exact to round-off on the range of
    the used columns.
    """
    dtype = gram.dtype
    outer = used[:, None] & used[None, :]
    scale = jnp.maximum(jnp.max(jnp.where(used, jnp.abs(jnp.diagonal(gram)), 0.0)),
                        jnp.finfo(dtype).tiny)
    ridge = jnp.maximum(1e-13, 16 * jnp.finfo(dtype).eps) * scale
    H = jnp.where(outer, gram, 0.0) + jnp.diag(jnp.where(used, ridge, 1.0))
    return jnp.linalg.cholesky(H)


def _project(projector, s, u):
    rhs = projector.A.T @ (_expand(s, u) * u)
    c = jax.scipy.linalg.cho_solve((projector.cholesky, True), rhs)
    return u - projector.A @ c


class Certificate(NamedTuple):
    """What the duality gap needs, computed once per problem (outside loops)."""

    scale: jax.Array              # () P_null, the scale of tol
    projector: Any                # _Projector or None


def make_certificate(problem, loss, penalty):
    """Precompute :math:`P_{\\text{null}}` and the projection of the dual point."""
    return Certificate(null_objective(problem, loss), _make_projector(problem, penalty))


def dual_point(problem, loss, penalty, certificate, u):
    r"""Make ``u`` (e.g. :math:`\partial\ell/\partial z`) a feasible dual point.

    Returns ``(u, v)`` with :math:`v = -X^\top(s\odot u)/n`, where ``u`` satisfies
    the intercept constraint :math:`\sum_i s_i u_i = 0`, the unpenalized
    features' :math:`x_j^\top(s\odot u) = 0`, lies in the domain of
    :math:`\ell^*` and ``v`` in the domain of :math:`P^*`.
    """
    X, y, s = problem.X, problem.y, problem.s
    n = X.shape[0]
    u = jnp.where(_expand(s, u) > 0, u, 0.0)
    if certificate.projector is not None:
        u = _project(certificate.projector, s, u)
    elif problem.fit_intercept:
        bounds = loss.dual_bounds(y)
        if bounds is None:
            su = _expand(s, u) * u
            u = u - (jnp.sum(su, axis=0, keepdims=True) / jnp.sum(s))
        else:
            u = _shift_and_clip(u, s, *bounds)
    u = jnp.where(_expand(s, u) > 0, u, 0.0)
    u = u * loss.dual_scale(y, jnp.where(_expand(s, u) > 0, u, 0.0))
    v = -(problem.Xt @ (_expand(s, u) * u)) / n
    mask = penalty.unpenalized()
    if mask is not None:
        v = jnp.where(_expand(jnp.broadcast_to(mask, v.shape[:1]), v), 0.0, v)
    t = penalty.dual_scale(v)
    return u * t, v * t


def dual_objective(problem, loss, penalty, u, v):
    """:math:`D(u)` at a feasible dual point ``(u, v)`` from :func:`dual_point`."""
    n = problem.X.shape[0]
    conj = loss.conjugate(problem.y, u)
    conj = jnp.where(problem.s > 0, problem.s * conj, 0.0)
    return -jnp.sum(conj) / n - penalty.conjugate(v)


def duality_gap(problem, loss, penalty, certificate, coef, intercept, u=None):
    r"""Duality gap :math:`F(w, b) - D(u)` at ``(coef, intercept)``.

    ``u`` defaults to :math:`\partial\ell/\partial z` at :math:`z = Xw + b`
    (smooth losses); non-smooth solvers pass their dual iterate.
    """
    z = predict(problem.X, coef, intercept)
    primal = datafit(problem, loss, z) + penalty.value(coef)
    if u is None:
        u = loss.grad(problem.y, z)
    u, v = dual_point(problem, loss, penalty, certificate, u)
    gap = primal - dual_objective(problem, loss, penalty, u, v)
    # A dual point off the intercept's constraint would not bound anything:
    # refuse to certify rather than report a gap that may be too small.
    if problem.fit_intercept:
        su = _expand(problem.s, u) * u
        residual = jnp.max(jnp.abs(jnp.sum(su, axis=0)))
        # Round-off leaves ~eps * (sum |s u| + n); that shifts D by ~|b| eps n.
        size = jnp.sum(jnp.abs(su)) + jnp.sum(problem.s)
        gap = jnp.where(residual <= 1e3 * jnp.finfo(su.dtype).eps * size, gap, jnp.inf)
    return jnp.where(jnp.isnan(gap), jnp.inf, gap)


# --------------------------------------------------------------------------
# Optimality condition (smooth losses)
# --------------------------------------------------------------------------


def optimality(coef, intercept, X, y, sample_weight, loss, penalty, *, fit_intercept=True):
    r"""Fixed-point residual of proximal gradient: zero exactly at a minimiser.

    .. math::
        R(w, b) = \Big(w - \operatorname{prox}_{P}\big(w - \nabla_w f(w, b)\big),
                  \ \nabla_b f(w, b)\Big)

    for a smooth loss, with :math:`f` the weighted datafit (the intercept part
    is zero without an intercept). It is the optimality condition of every
    smooth solver (FISTA, ISTA, coordinate descent, ridge), a pure function of
    its inputs for implicit differentiation.

    Returns
    -------
    (residual_coef, residual_intercept) : arrays shaped like coef, intercept
    """
    problem = make_problem(X, y, sample_weight, fit_intercept)
    z = predict(problem.X, coef, intercept)
    grad_coef, grad_intercept, _ = datafit_grad(problem, loss, z)
    residual_coef = coef - penalty.prox(coef - grad_coef, 1.0)
    if not fit_intercept:
        grad_intercept = jnp.zeros_like(grad_intercept)
    return residual_coef, grad_intercept


def initial_point(problem, loss, init, out_shape):
    """Starting ``(coef, intercept)`` from ``init`` (coef, Solution or None)."""
    p = problem.X.shape[1]
    dtype = problem.X.dtype
    intercept = jnp.zeros(out_shape, dtype)
    if init is None:
        coef = jnp.zeros((p,) + out_shape, dtype)
        offset = jnp.zeros(problem.y.shape[:1] + out_shape, dtype)
        b = best_intercept(problem, loss, offset) if problem.fit_intercept else None
        return coef, (intercept if b is None else b.astype(dtype))
    if isinstance(init, Solution):
        coef = jnp.asarray(init.coef, dtype)
        intercept = jnp.asarray(init.intercept, dtype)
        return coef, intercept
    else:
        coef = jnp.asarray(init, dtype)
    if problem.fit_intercept:
        b = best_intercept(problem, loss, problem.X @ coef)
        if b is not None:
            intercept = b.astype(dtype)
    return coef, intercept
