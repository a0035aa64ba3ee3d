r"""Ridge regression and minimum-norm least squares in closed form.

Both functions minimise

.. math::
    F(W, b) = \frac{1}{2n}\sum_{i=1}^n s_i \|y_i - W^\top x_i - b\|^2
              + \frac{\alpha}{2}\|W\|_F^2,
    \qquad \sum_i s_i = n,

(``SquaredLoss`` with ``L2(alpha)``; ``NoPenalty`` is :math:`\alpha = 0`, where
the minimiser closest to 0 is returned). ``y`` is (n_samples,) or
(n_samples, n_outputs), and then ``W`` is (n_features, n_outputs).

With an intercept, ``X`` and ``y`` are centred by their ``s``-weighted means
:math:`\bar x_s, \bar y_s` and :math:`b = \bar y_s - W^\top \bar x_s`. Writing

.. math:: A = S^{1/2} X_c / \sqrt n, \qquad c = S^{1/2} y_c / \sqrt n ,

the problem is :math:`\min_W \tfrac12\|c - AW\|^2 + \tfrac\alpha2\|W\|^2`, whose
solution is, equivalently,

.. math::
    W = (A^\top A + \alpha I_p)^{-1} A^\top c
      = A^\top (A A^\top + \alpha I_n)^{-1} c
      = V \operatorname{diag}\!\Big(\frac{\sigma_j}{\sigma_j^2 + \alpha}\Big) U^\top c

with :math:`A = U \operatorname{diag}(\sigma) V^\top` the thin SVD. :func:`ridge`
uses a Cholesky factor of the smaller of the two systems for one ``alpha``;
:func:`ridge_path` uses one SVD for a whole grid of ``alpha``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy import linalg as _linalg

from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg.solvers import _common
from jaxreg.solvers._common import Solution, optimality

__all__ = ["ridge", "ridge_path", "RidgePath", "optimality"]

_METHODS = ("auto", "cholesky", "svd")


class RidgePath(NamedTuple):
    """Result of :func:`ridge_path` (batch axis first)."""

    coefs: jax.Array        # (n_alphas, n_features) or (n_alphas, n_features, n_outputs)
    intercepts: jax.Array   # (n_alphas,) or (n_alphas, n_outputs)
    dual_gaps: jax.Array    # (n_alphas,)


# --------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------


def _check(loss, penalty):
    """The closed form covers exactly SquaredLoss with L2 (not positive) or no penalty."""
    if penalty is None:
        penalty = _penalties.NoPenalty()
    if not isinstance(loss, _losses.SquaredLoss):
        raise TypeError(
            f"ridge solves the squared loss in closed form, but got {type(loss).__name__}; "
            "use solvers.fista for other smooth losses with an L2 penalty.")
    if not isinstance(penalty, (_penalties.L2, _penalties.NoPenalty)):
        raise TypeError(
            f"ridge solves L2 or no penalty in closed form, but got {type(penalty).__name__}; "
            "use solvers.coordinate_descent or solvers.fista.")
    if getattr(penalty, "positive", False):
        raise TypeError(
            "ridge has no closed form for L2(positive=True); use solvers.fista or "
            "solvers.coordinate_descent.")
    return penalty


def _is_concrete_zero(alpha):
    """A concrete ``alpha`` equal to 0 (never true for a tracer)."""
    if isinstance(alpha, jax.core.Tracer):
        return False
    return bool(np.all(np.asarray(alpha) == 0))


def _expand(s, a):
    return s.reshape(s.shape + (1,) * (a.ndim - 1))


def _scaled(problem):
    r"""Scaled, centred data ``(A, c, x_mean, y_mean)``.

    :math:`A = S^{1/2}X_c/\sqrt n`, :math:`c = S^{1/2}y_c/\sqrt n`.
    """
    X, y, s = problem.X, problem.y, problem.s
    n = X.shape[0]
    if problem.fit_intercept:
        total = jnp.sum(s)
        x_mean = s @ X / total
        y_mean = jnp.tensordot(s, y, axes=1) / total
    else:
        x_mean = jnp.zeros(X.shape[1:], X.dtype)
        y_mean = jnp.zeros(y.shape[1:], X.dtype)
    root = jnp.sqrt(s / n)
    A = root[:, None] * (X - x_mean[None, :])
    c = _expand(root, y) * (y - y_mean[None])
    return A, c, x_mean, y_mean


def _intercept(x_mean, y_mean, coef):
    return y_mean - jnp.tensordot(x_mean, coef, axes=1)


def _cholesky_coef(A, c, alpha):
    r"""Solve the smaller normal system by Cholesky.

    :math:`(A^\top A + \alpha I_p) W = A^\top c` when ``n >= p``, else
    :math:`W = A^\top (A A^\top + \alpha I_n)^{-1} c` (the dual, kernel form).
    """
    n, p = A.shape
    if n >= p:
        gram = A.T @ A + alpha * jnp.eye(p, dtype=A.dtype)
        return _linalg.cho_solve(_linalg.cho_factor(gram, lower=True), A.T @ c)
    kernel = A @ A.T + alpha * jnp.eye(n, dtype=A.dtype)
    return A.T @ _linalg.cho_solve(_linalg.cho_factor(kernel, lower=True), c)


class _Spectrum(NamedTuple):
    """Thin SVD :math:`A = U\\operatorname{diag}(\\sigma)V^\\top`, kept as what the grid needs."""

    sigma: jax.Array      # (r,), r = min(n, p)
    Vt: jax.Array         # (r, p)
    projected: jax.Array  # (r,) or (r, k): U^T c
    cutoff: jax.Array     # () singular values at or below it are round-off


def _spectrum(A, c):
    r"""Thin SVD of ``A`` and :math:`U^\top c`, without forming ``U`` for tall ``A``.

    For ``n >= 2 (p + k)`` a QR factorisation of the augmented
    :math:`[A, c] = Q\,[[R, Q^\top c], [0, \cdot]]` comes first and the SVD is of
    the p x p factor, :math:`R = U_R \Sigma V^\top`, so that :math:`U = Q U_R`
    and :math:`U^\top c = U_R^\top (Q^\top c)` (what LAPACK's ``gesdd`` does
    for tall matrices; on CPU, 0.8 s instead of 1.3 s for XLA at 10000 x 1000).
    """
    n, p = A.shape
    matrix = c[:, None] if c.ndim == 1 else c
    k = matrix.shape[1]
    if n >= 2 * (p + k):
        R = jnp.linalg.qr(jnp.concatenate([A, matrix], axis=1), mode="r")
        U, sigma, Vt = jnp.linalg.svd(R[:p, :p], full_matrices=False)
        projected = U.T @ R[:p, p:]
    else:
        U, sigma, Vt = jnp.linalg.svd(A, full_matrices=False)
        projected = U.T @ matrix
    projected = projected[:, 0] if c.ndim == 1 else projected
    # numpy.linalg.lstsq's default rcond: eps * max(n, p), relative to sigma_max.
    cutoff = jnp.finfo(A.dtype).eps * max(n, p) * jnp.max(sigma, initial=0.0)
    return _Spectrum(sigma, Vt, projected, cutoff)


def _spectral_coef(spectrum, alpha):
    r""":math:`W(\alpha) = V\operatorname{diag}(\sigma/(\sigma^2+\alpha))U^\top c`."""
    sigma = spectrum.sigma
    kept = sigma > spectrum.cutoff
    factor = jnp.where(kept, sigma / jnp.where(kept, sigma**2 + alpha, 1.0), 0.0)
    return spectrum.Vt.T @ (_expand(factor, spectrum.projected) * spectrum.projected)


def _certify(problem, loss, penalty, coef, intercept):
    certificate = _common.make_certificate(problem, loss, penalty)
    gap = _common.duality_gap(problem, loss, penalty, certificate, coef, intercept)
    return gap, certificate.scale


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------


def ridge(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None, init=None,
          tol=1e-4, max_iter=None, method="auto"):
    r"""Minimise the ridge objective (or least squares, minimum norm) in closed form:

    .. math::
        \min_{W, b}\ \frac{1}{2n}\sum_i s_i\|y_i - W^\top x_i - b\|^2
                     + \frac{\alpha}{2}\|W\|_F^2

    With :math:`A = S^{1/2}X_c/\sqrt n` and :math:`c = S^{1/2}y_c/\sqrt n`
    (weighted centring, see :mod:`jaxreg.solvers.ridge`):

    - ``"cholesky"``, ``n >= p``: :math:`(X_c^\top S X_c/n + \alpha I_p)\,W = X_c^\top S y_c/n`,
      i.e. :math:`(A^\top A + \alpha I_p) W = A^\top c`, a p x p Cholesky;
    - ``"cholesky"``, ``p > n``: the dual system
      :math:`(S^{1/2}X_cX_c^\top S^{1/2}/n + \alpha I_n)\,\theta = c`,
      :math:`W = A^\top\theta`, an n x n Cholesky;
    - ``"svd"``: :math:`W = V\operatorname{diag}(\sigma/(\sigma^2+\alpha))U^\top c`
      from the thin SVD of ``A`` (as :func:`ridge_path`); singular values
      below :math:`\varepsilon\max(n, p)\,\sigma_{\max}` count as 0, so that
      :math:`\alpha = 0` gives the minimum-norm least-squares solution
      :math:`W = A^+ c`, exact also for ``p > n`` or duplicated columns;

    then :math:`b = \bar y_s - W^\top \bar x_s` (0 without an intercept).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,) or (n_samples, n_outputs)
    loss : SquaredLoss
    penalty : L2, NoPenalty or None
        ``L2(alpha)`` is :math:`(\alpha/2)\|W\|_F^2`; ``NoPenalty()`` or
        ``None`` is least squares (minimum-norm solution).
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,) or None
        Rescaled to sum to ``n_samples``.
    init : ignored
        Accepted for the common solver signature (closed form: nothing to warm-start).
    tol : float, default=1e-4
        ``converged`` is ``dual_gap <= tol * P_null``.
    max_iter : ignored
        Accepted for the common solver signature; ``n_iter`` is always 1.
    method : {"auto", "cholesky", "svd"}, default="auto"
        "auto" is "cholesky" for ``L2`` and "svd" for ``NoPenalty`` (or a
        concrete ``L2(0)``). Static: not traced.

    Returns
    -------
    Solution
        ``coef`` of shape (n_features,) or (n_features, n_outputs),
        ``intercept`` () or (n_outputs,), ``n_iter = 1``, ``dual_gap`` (the
        certificate of :func:`~jaxreg.solvers._common.duality_gap`) and
        ``converged``, all in the dtype of ``X``.

    Raises
    ------
    TypeError
        For a loss other than SquaredLoss, a penalty other than L2/NoPenalty,
        or ``L2(positive=True)`` (checked at trace time).

    Notes
    -----
    scikit-learn's ``Ridge(alpha=a)`` minimises :math:`\|y - Xw - b\|^2 + a\|w\|^2`
    (with weights :math:`\sum_i s^{raw}_i (y_i - x_i^\top w - b)^2 + a\|w\|^2`),
    which is ``L2(a / n_samples)`` here, ``L2(a / sum(sample_weight))`` with
    weights; ``NoPenalty`` is ``LinearRegression``.

    Works under :func:`jax.jit` and :func:`jax.vmap` over ``alpha`` (the Gram
    or SVD does not depend on ``alpha`` and is computed once per batch), and
    :func:`jax.grad` with respect to ``alpha``, ``X`` and ``y`` (use
    ``method="cholesky"`` for ``X``: the SVD's derivative is undefined at
    repeated singular values). Under ``vmap`` a zero ``alpha`` is not
    detected: the Cholesky factor of a singular system (``p > n`` or
    duplicated columns) is then NaN; use ``method="svd"``.

    Accuracy: the Cholesky forms solve a system of condition number
    :math:`\kappa = (\sigma_{\max}^2 + \alpha)/(\sigma_{\min}^2 + \alpha)`, so the
    coefficients' relative error is bounded by about :math:`u\,\kappa`, with
    :math:`u` the unit round-off (1.1e-16 in float64, 6e-8 in float32); "svd"
    does not square the conditioning. Measured in float32 on the test problems
    (tall, wide correlated, duplicated columns; :math:`\kappa` up to 1e4):
    Cholesky within 4e-6 of the float64 answer (relative to :math:`\max|W|`),
    "svd" within 1e-6; :math:`|\text{gap}|` stays below 1e-7 :math:`P_{\text{null}}`
    (use ``tol >= 1e-6`` in float32).

    Examples
    --------
    >>> from jaxreg.losses import SquaredLoss
    >>> from jaxreg.penalties import L2
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> sol = ridge(X, jnp.array([1.0, 2.0, 4.0]), SquaredLoss(), L2(0.0), fit_intercept=False)
    >>> sol.coef
    Array([1.33333333, 2.33333333], dtype=float64)
    """
    del init, max_iter  # closed form
    penalty = _check(loss, penalty)
    if method not in _METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {_METHODS}.")
    if isinstance(penalty, _penalties.L2) and _is_concrete_zero(penalty.alpha):
        penalty = _penalties.NoPenalty()   # its certificate projects; see NoPenalty
    unpenalized = isinstance(penalty, _penalties.NoPenalty)
    if method == "auto":
        method = "svd" if unpenalized else "cholesky"
    if method == "cholesky" and unpenalized:
        raise ValueError("method='cholesky' needs alpha > 0; use method='svd' for least squares.")
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    dtype = problem.X.dtype
    alpha = jnp.zeros((), dtype) if unpenalized else jnp.asarray(penalty.alpha, dtype)
    A, c, x_mean, y_mean = _scaled(problem)
    if method == "cholesky":
        coef = _cholesky_coef(A, c, alpha)
    else:
        coef = _spectral_coef(_spectrum(A, c), alpha)
    intercept = _intercept(x_mean, y_mean, coef)
    gap, scale = _certify(problem, loss, penalty, coef, intercept)
    return Solution(coef, intercept, jnp.ones((), jnp.int32), gap, gap <= tol * scale)


def ridge_path(X, y, alphas, *, fit_intercept=True, sample_weight=None):
    r"""Ridge solutions for a whole grid of ``alphas`` from one thin SVD.

    Minimises :math:`\frac{1}{2n}\sum_i s_i\|y_i - W^\top x_i - b\|^2 + \frac{\alpha}{2}\|W\|_F^2`
    for every ``alpha`` of the grid. With the thin SVD of the weighted centred
    design, :math:`S^{1/2} X_c / \sqrt n = U \operatorname{diag}(\sigma) V^\top`,
    computed once,

    .. math::
        W(\alpha) = V \operatorname{diag}\!\Big(\frac{\sigma_j}{\sigma_j^2 + \alpha}\Big)
                    U^\top S^{1/2} y_c / \sqrt n,
        \qquad b(\alpha) = \bar y_s - W(\alpha)^\top \bar x_s,

    so that each further ``alpha`` costs O(p min(n, p)) (O(p min(n, p) k) with k
    outputs). Singular values below :math:`\varepsilon\max(n, p)\sigma_{\max}`
    count as 0, so that ``alpha = 0`` gives the minimum-norm least-squares
    solution. Each solution is certified by the duality gap of
    :func:`~jaxreg.solvers._common.duality_gap` (vmapped over the grid).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,) or (n_samples, n_outputs)
    alphas : array of shape (n_alphas,)
        ``L2(alpha)`` strengths, :math:`(\alpha/2)\|W\|^2`, each >= 0.
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,) or None
        Rescaled to sum to ``n_samples``.

    Returns
    -------
    RidgePath
        ``coefs`` of shape (n_alphas, n_features) or (n_alphas, n_features,
        n_outputs), ``intercepts`` (n_alphas,) or (n_alphas, n_outputs),
        ``dual_gaps`` (n_alphas,), in the dtype of ``X``.

    Notes
    -----
    scikit-learn's ``Ridge(alpha=a)`` is ``alpha = a / n_samples`` here
    (``a / sum(sample_weight)`` with weights). For tall ``X`` the SVD is taken
    of the triangular factor of a QR factorisation of :math:`[S^{1/2}X_c, S^{1/2}y_c]`
    (``U`` is never formed). The gap of an ``alpha = 0`` member is a true
    but loose bound: the conjugate of ``L2(0)`` is the indicator of
    :math:`\{0\}`, so its dual point is scaled to :math:`\theta = 0`; the
    unpenalized dual needs :math:`X_c^\top S u = 0` exactly, which
    ``ridge(..., NoPenalty())`` certifies by projection. Accuracy: as ``ridge(..., method="svd")``
    (see its Notes). The cost is the SVD, O(n p min(n, p)), plus the
    certificate, two products of ``X`` with an (n_features, n_alphas) matrix.

    Examples
    --------
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> path = ridge_path(X, jnp.array([1.0, 2.0, 4.0]), jnp.array([1.0, 0.0]),
    ...                   fit_intercept=False)
    >>> path.coefs
    Array([[0.79166667, 1.04166667],
           [1.33333333, 2.33333333]], dtype=float64)
    """
    loss = _losses.SquaredLoss()
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    dtype = problem.X.dtype
    A, c, x_mean, y_mean = _scaled(problem)
    spectrum = _spectrum(A, c)
    # P_null and the (absent) projector do not depend on alpha: computed once.
    certificate = _common.make_certificate(problem, loss, _penalties.L2(jnp.ones((), dtype)))

    def one(alpha):
        coef = _spectral_coef(spectrum, alpha)
        intercept = _intercept(x_mean, y_mean, coef)
        gap = _common.duality_gap(problem, loss, _penalties.L2(alpha), certificate, coef,
                                  intercept)
        return coef, intercept, gap

    return RidgePath(*jax.vmap(one)(jnp.asarray(alphas, dtype)))
