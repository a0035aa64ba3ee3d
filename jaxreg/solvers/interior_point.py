r"""Primal–dual interior point (Frisch–Newton) for the absolute and quantile losses.

Minimises

.. math::
    F(w, b) = \frac1n \sum_i s_i\, \rho(y_i - x_i^\top w - b) + P(w),
    \qquad P(w) = \sum_j \lambda_j |w_j| + \frac{\gamma}{2}\|w\|_2^2,

for :class:`~jaxreg.losses.QuantileLoss` (:math:`\rho = \rho_\tau`, the pinball
loss) and :class:`~jaxreg.losses.AbsoluteLoss` (:math:`\rho = |\cdot|`), with
no penalty, ``L1``, ``WeightedL1``, ``L2`` or ``ElasticNetPenalty`` (then
:math:`\lambda_j = \alpha\rho`, :math:`\gamma = \alpha(1-\rho)`) and an
unpenalized intercept: a linear program (a convex quadratic program with the
ridge part), solved to high accuracy in a few tens of Newton steps, each a
:math:`(p+1)\times(p+1)` linear system.

The program
-----------
Both the samples and the :math:`\ell_1` penalty are rows of one
piecewise-linear sum (the penalty as extra rows with zero response, as in
quantreg's ``rq.fit.lasso``): with :math:`\beta = (w, b)`,

.. math::
    \tilde A = \begin{pmatrix} X & \mathbf 1 \\ I_p & 0 \end{pmatrix}, \quad
    \tilde y = \begin{pmatrix} y \\ 0 \end{pmatrix}, \quad
    n F(\beta) = \sum_k \max\big(h_k r_k,\ -g_k r_k\big)
               + \tfrac12 \beta^\top Q \beta, \quad r = \tilde y - \tilde A\beta,

where a sample has :math:`(h_i, g_i) = s_i(\tau, 1-\tau)` (:math:`s_i(1, 1)`
for the absolute loss), the penalty row of feature :math:`j` has
:math:`h_j = g_j = n\lambda_j` (so that its term is :math:`n\lambda_j|w_j|`)
and :math:`Q = n\gamma\,\mathrm{diag}(1_p, 0)`. Rows with :math:`h_k = g_k =
0` (zero sample weights, unpenalized features) are dropped. Splitting
:math:`r = u - v` gives the primal

.. math::
    \min_{\beta, u \ge 0, v \ge 0}\ h^\top u + g^\top v + \tfrac12\beta^\top Q\beta
    \quad\text{s.t.}\quad \tilde A\beta + u - v = \tilde y,

and its dual, a bounded-variable program in the multipliers :math:`d`,

.. math::
    \max_{d}\ \tilde y^\top d - \tfrac12\beta^\top Q\beta
    \quad\text{s.t.}\quad \tilde A^\top d = Q\beta,\quad -g \le d \le h .

On the samples :math:`d_i = s_i \rho'(r_i)`: the dual point of
:mod:`jaxreg.solvers._common` is :math:`u_i = -d_i / s_i`. With
:math:`z_u = h - d \ge 0`, :math:`z_v = g + d \ge 0` the optimality
conditions are the linear equations above and the complementarity
:math:`u \circ z_u = v \circ z_v = 0`.

The Newton system
-----------------
Replacing complementarity by :math:`u \circ z_u = v \circ z_v = \sigma\mu`
and linearising, the steps :math:`\Delta u, \Delta v, \Delta z` are
eliminated (all diagonal), leaving the normal equations

.. math::
    \big(\tilde A^\top W^{-1} \tilde A + Q\big)\,\Delta\beta
    = r_d + \tilde A^\top W^{-1}(r_p - e), \qquad
    W = \mathrm{diag}\Big(\frac{u}{z_u} + \frac{v}{z_v}\Big),

with :math:`r_p = \tilde y - \tilde A\beta - u + v`,
:math:`r_d = \tilde A^\top d - Q\beta` and ``e`` the eliminated
complementarity terms; then
:math:`\Delta d = W^{-1}(r_p - e - \tilde A\Delta\beta)`. The matrix is
:math:`X^\top W_X^{-1} X` plus a diagonal (the penalty rows and :math:`Q`),
bordered by the intercept: one Gram product of cost :math:`O(np^2)` and a
Cholesky factorisation of cost :math:`O(p^3)` per step, memory :math:`O(np)`.
Each step is Mehrotra's predictor–corrector (an affine-scaling direction,
then a centred and second-order corrected one with the same factorisation,
:math:`\sigma = (\mu_{\text{aff}}/\mu)^3`), with step lengths
:math:`0.99995` of the way to the boundary, separate for the primal
:math:`(\beta, u, v)` and dual :math:`(d, z)` variables on linear programs and
common to both on quadratic ones.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxreg import penalties as _penalties
from jaxreg.solvers import _common
from jaxreg.solvers._common import Solution

__all__ = ["interior_point", "supports"]

_SUPPORTED = (_penalties.NoPenalty, _penalties.L1, _penalties.WeightedL1, _penalties.L2,
              _penalties.ElasticNetPenalty)

#: Fraction of the step to the boundary of the positive orthant (quantreg's ``beta``).
_STEP_FRACTION = 0.99995
#: Steps without a better certificate after which the method has stalled.
_PATIENCE = 8
#: A warm start is centred at mu0 = _WARM_MU * F(beta0), F the objective at the
#: start (measured on the 19-quantile process of benchmarks/bench_quantile.py:
#: 0.02-0.1 give the fewest steps, 0.01 and 0.3 more).
_WARM_MU = 0.05
#: A warm start whose first step is shorter than this is abandoned.
_WARM_MIN_STEP = 0.1


def supports(loss, penalty):
    """Whether :func:`interior_point` solves this (loss, penalty) pair.

    Absolute or quantile loss with no penalty, ``L1``, ``WeightedL1``, ``L2``
    or ``ElasticNetPenalty``, none of them ``positive``.
    """
    penalty = _penalties.NoPenalty() if penalty is None else penalty
    box = not getattr(loss, "smooth", True) and loss.dual_bounds(jnp.zeros(1)) is not None
    return (box and isinstance(penalty, _SUPPORTED)
            and not getattr(penalty, "positive", False))


def _penalty_terms(penalty, p, n, dtype):
    r"""``(l1, ridge)``: :math:`n\lambda` of the penalty rows (None without any)
    and the diagonal :math:`n\gamma` of :math:`Q` on ``w`` (None without any)."""
    ones = jnp.ones(p, dtype)
    if isinstance(penalty, _penalties.L1):
        return n * penalty.alpha * ones, None
    if isinstance(penalty, _penalties.WeightedL1):
        return n * jnp.asarray(penalty.weights, dtype) * ones, None
    if isinstance(penalty, _penalties.L2):
        return None, n * penalty.alpha * ones
    if isinstance(penalty, _penalties.ElasticNetPenalty):
        return (n * penalty.alpha * penalty.l1_ratio * ones,
                n * penalty.alpha * (1.0 - penalty.l1_ratio) * ones)
    return None, None


class _Program(NamedTuple):
    """The rows of the program: samples, then the penalty rows (if any)."""

    X: jax.Array        # (n, p)
    Xt: jax.Array       # (p, n)
    y_tilde: jax.Array  # (m,) responses: y, then zeros; m = n (+ p with penalty rows)
    h: jax.Array        # (m,) slopes of the positive part
    g: jax.Array        # (m,) slopes of the negative part
    active: jax.Array   # (m,) bool: h > 0 and g > 0
    ridge: jax.Array    # (p,) diagonal of Q on w (zeros without a ridge)


def _forward(prog, w, b, with_rows):
    """:math:`\\tilde A \\beta`: the predictions, then ``w`` for the penalty rows."""
    z = prog.X @ w + b
    return jnp.concatenate([z, w]) if with_rows else z


def _adjoint(prog, d, with_rows, fit_intercept):
    """:math:`\\tilde A^\\top d` as ``(on w (p,), on b ())``."""
    n = prog.X.shape[0]
    data = d[:n]
    on_w = prog.Xt @ data
    if with_rows:
        on_w = on_w + d[n:]
    on_b = jnp.sum(data) if fit_intercept else jnp.zeros((), d.dtype)
    return on_w, on_b


def _normal_matrix(prog, winv, with_rows, fit_intercept):
    r""":math:`\tilde A^\top W^{-1}\tilde A + Q`, the intercept last (if fitted)."""
    n, p = prog.X.shape
    data = winv[:n]
    # B^T B with B = sqrt(W^-1) X: measured ~2x faster than X^T (W^-1 X) with
    # XLA on CPU at n = 200000, p = 50.
    B = jnp.sqrt(data)[:, None] * prog.X
    gram = B.T @ B + jnp.diag(prog.ridge + (winv[n:] if with_rows else 0.0))
    if not fit_intercept:
        return gram
    border = prog.Xt @ data
    top = jnp.concatenate([gram, border[:, None]], axis=1)
    bottom = jnp.concatenate([border, jnp.sum(data)[None]])[None, :]
    return jnp.concatenate([top, bottom], axis=0)


def _factor(M):
    r"""Cholesky factor of the Jacobi-scaled :math:`D^{-1/2} M D^{-1/2}`.

    The scaling makes the factorisation independent of the scales of the
    columns and of :math:`W` (whose entries spread over many orders of
    magnitude near the solution); a relative ridge of :math:`16\varepsilon`
    keeps rank-deficient designs (duplicated columns) factorisable.
    """
    diagonal = jnp.diagonal(M)
    tiny = jnp.finfo(M.dtype).tiny
    scale = 1.0 / jnp.sqrt(jnp.where(diagonal > tiny, diagonal, 1.0))
    scaled = M * scale[:, None] * scale[None, :]
    eye = jnp.eye(M.shape[0], dtype=M.dtype)
    factor = jnp.linalg.cholesky(scaled + 16 * jnp.finfo(M.dtype).eps * eye)
    return factor, scale


def _solve(factored, rhs):
    factor, scale = factored
    return scale * jax.scipy.linalg.cho_solve((factor, True), scale * rhs)


def _max_step(x, dx):
    """Largest step ``t`` in [0, 1] keeping ``x + t dx >= 0`` (before the fraction)."""
    ratio = jnp.where(dx < 0, -x / jnp.where(dx < 0, dx, -1.0), jnp.inf)
    return jnp.minimum(1.0, jnp.min(ratio, initial=jnp.inf))


class _Start(NamedTuple):
    """Starting slacks and multipliers, each of shape (m,)."""

    u: jax.Array
    v: jax.Array
    d: jax.Array
    zu: jax.Array
    zv: jax.Array


class _State(NamedTuple):
    w: jax.Array            # (p,) primal beta = (w, b)
    b: jax.Array            # ()
    u: jax.Array            # (m,) positive parts of the residuals
    v: jax.Array            # (m,) negative parts
    d: jax.Array            # (m,) dual multipliers, -g <= d <= h
    zu: jax.Array           # (m,) h - d
    zv: jax.Array           # (m,) g + d
    n_iter: jax.Array       # () int32
    stalled: jax.Array      # () bool: no progress possible (tiny steps, non-finite)
    best_w: jax.Array       # (p,) best certified point
    best_b: jax.Array       # ()
    best_d: jax.Array       # (n,) its multipliers on the samples
    best_gap: jax.Array     # () its duality gap
    best_iter: jax.Array    # () int32, the step that found it
    warm: jax.Array         # () bool: still on the warm start (not yet abandoned)
    w0: jax.Array | None    # (p,) the starting beta, for a cold restart (None: no warm start)
    b0: jax.Array | None    # ()


def interior_point(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None, init=None,
                   max_iter=100, tol=1e-4):
    r"""Minimise :math:`\frac1n\sum_i s_i\,\rho(y_i - x_i^\top w - b) + P(w)` by a
    primal–dual interior-point (Frisch–Newton) method.

    The loss is :class:`~jaxreg.losses.QuantileLoss` (:math:`\rho_\tau`) or
    :class:`~jaxreg.losses.AbsoluteLoss`; the weights :math:`s` are rescaled
    to sum to ``n``; the intercept :math:`b` is not penalized.
    ``QuantileLoss(tau)`` with ``L1(alpha)`` is scikit-learn's
    ``QuantileRegressor(quantile=tau, alpha=alpha)``, and R's
    ``quantreg::rq(method="fn")`` without a penalty.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,)
    loss : AbsoluteLoss or QuantileLoss
    penalty : None, NoPenalty, L1, WeightedL1, L2 or ElasticNetPenalty
        Not ``positive`` (use :func:`~jaxreg.solvers.primal_dual` for those
        and for the group lasso).
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,) or None
        Rescaled to sum to ``n_samples``; zero weights drop samples.
    init : array of shape (n_features,), Solution or None
        Warm start: starting coefficients (a Solution's ``coef``; its
        intercept is replaced by the best one for them). The default is the
        cold start from the weighted least-squares fit (Notes).
    max_iter : int, default=100
        Maximal number of Newton (predictor–corrector) steps; 20–50 reach
        round-off on typical problems.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol * P_null``.

    Returns
    -------
    Solution
        ``coef``, ``intercept``, ``n_iter``, ``dual_gap`` (at the returned
        point), ``converged`` and ``state``: the dual point
        :math:`u = -d/s \in [lo, hi]^n` of shape (n_samples,) (``lo, hi``
        from ``loss.dual_bounds``; a subgradient of the loss at the solution).

    Notes
    -----
    *The method* is the module docstring's: the program in the variables
    :math:`(\beta, u, v, d, z_u, z_v)`, Mehrotra's predictor–corrector on the
    perturbed optimality conditions, one :math:`(p+1)\times(p+1)` Cholesky
    factorisation per step (of the Gram matrix :math:`\tilde A^\top W^{-1}
    \tilde A + Q`, Jacobi-scaled). It starts from the weighted
    least-squares fit :math:`\beta_0` (or ``init``), the multipliers
    :math:`d = 0` (inside the box) and the split :math:`u - v = r(\beta_0)`
    shifted into the interior (Mehrotra's heuristic), so that the linear
    program's iterates are primal and dual feasible from the start.

    *Warm start.* An interior-point method gains little from the optimum of
    a neighbouring problem as it stands: that point lies on the boundary
    (every residual's multiplier at a bound), and the first steps towards
    the new optimum are cut to almost nothing. From ``init`` the start is
    instead :math:`\beta_0` = (``init``'s coefficients, the best intercept for
    them: a weighted quantile of :math:`y - Xw`) with every row put on the
    central path at :math:`\mu_0 = 0.05\,F(\beta_0)`: the split :math:`u - v
    = r(\beta_0)` and the multiplier :math:`d` with :math:`u z_u = v z_v =
    \mu_0` (primal feasible, perfectly centred; only :math:`\tilde A^\top d =
    Q\beta` is violated, by as much as :math:`\beta_0` is off). A warm start
    whose first step is shorter than 0.1 of the way, or that stalls, is
    replaced by the cold start (from least squares). Between
    neighbouring quantiles (:func:`jaxreg.quantile_process`) this takes the
    19-quantile process of ``benchmarks/bench_quantile.py`` from 341 Newton
    steps (cold starts) to 248; a far start costs the steps it took before
    it was abandoned (``init=0`` at the 0.95 quantile of that problem: the
    warm start stalled, and the cold one converged).

    *Stopping and certificate.* After each step the duality gap of
    :func:`~jaxreg.solvers._common.duality_gap` is taken at the iterate
    :math:`(w, b)` with the dual point :math:`u = -d/s` (projected and
    scaled to a feasible dual point), so that it bounds the suboptimality of
    the returned point. The solver stops when it is at most
    ``tol * P_null`` (:math:`P_{\text{null}}` the objective of the best
    constant model, :func:`~jaxreg.solvers._common.null_objective`), when
    ``max_iter`` steps are done, or when the method stalls (8 steps without
    a better certificate, steps below :math:`10^{-10}` or a non-finite
    iterate: past round-off), and returns the best certified point;
    ``converged`` says whether its gap reached the tolerance. Each Newton
    direction gets one step of iterative refinement, with the residual of
    the dual equation computed through :math:`\tilde A` rather than the
    normal matrix: near degenerate solutions (many samples interpolated,
    e.g. repeated rows) the factorisation alone loses the dual feasibility
    that the certificate needs.

    *Which minimiser.* The iterates stay strictly inside the feasible set and
    converge to a point of the relative interior of the optimal face, not to
    a vertex. Where the minimiser is unique (almost surely for continuous
    data without ties), this is the vertex that a simplex method (HiGHS)
    returns, to the accuracy of the gap. Where the solution set is a segment
    or a face (e.g. the median of an even number of points), the point
    returned lies inside it, away from its ends: the centre for symmetric
    problems (2.5 for the median of 1, 2, 3, 4; HiGHS gives the end 2),
    elsewhere a point that depends on the path of the iterates (3.97 for the
    median of 1, 2, 3, 4, 10, 20, whose solution set is [3, 4]); its
    objective is optimal to within ``dual_gap``
    (``benchmarks/robustness.py``, ``docs/robust.md``).

    *Accuracy.* In float64 gaps of about ``1e-13 * P_null`` are reachable;
    in float32 use ``tol >= 1e-5``.

    *Transformations.* Pure, jit-compatible (a ``lax.while_loop`` with fixed
    shapes), and vmappable over ``alpha``, the quantile, ``y`` or the sample
    weights: a whole quantile process in one call. Under :func:`jax.vmap` the
    batch runs until its slowest member stops (typically within a few steps
    of the fastest).

    *Cost.* Each step forms one Gram matrix (:math:`O(np^2)`) and factors it
    (:math:`O(p^3)`); memory is :math:`O(np)`. For many features
    (:math:`p \gg n`, or :math:`p` in the thousands) the first-order
    :func:`~jaxreg.solvers.primal_dual` is cheaper per step
    (:func:`jaxreg.choose_solver`).

    References
    ----------
    Portnoy & Koenker (1997), The Gaussian hare and the Laplacian tortoise:
    computability of squared-error versus absolute-error estimators.
    Statistical Science 12(4).
    Mehrotra (1992), On the implementation of a primal-dual interior point
    method. SIAM J. Optimization 2(4).
    Koenker & Ng (2005), A Frisch-Newton algorithm for sparse quantile
    regression. Acta Mathematicae Applicatae Sinica 21(2).

    Examples
    --------
    Least absolute deviations shrug off the outlier:

    >>> from jaxreg.losses import AbsoluteLoss
    >>> X = jnp.arange(5.0)[:, None]
    >>> y = jnp.array([1.0, 3.0, 5.0, 7.0, 100.0])
    >>> sol = interior_point(X, y, AbsoluteLoss(), None, tol=1e-12)
    >>> bool(sol.converged), jnp.round(sol.coef, 6), jnp.round(sol.intercept, 6)
    (True, Array([2.], dtype=float64), Array(1., dtype=float64))
    """
    warm = None if init is None else True
    return _interior_point(X, y, loss, penalty, fit_intercept=fit_intercept,
                           sample_weight=sample_weight, init=init, warm=warm,
                           max_iter=max_iter, tol=tol)


def _interior_point(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None, init=None,
                    warm=None, max_iter=100, tol=1e-4):
    """:func:`interior_point`, with the choice between the cold and the warm
    start traceable: ``warm`` is None (cold start, ``init`` unused) or a bool
    array (warm start from ``init`` where true, cold start where false), so
    that a :func:`jax.lax.scan` over a quantile process holds one copy of the
    solver for its cold first point and its warm-started others."""
    penalty = _penalties.NoPenalty() if penalty is None else penalty
    if not supports(loss, penalty):
        raise TypeError(
            f"interior_point solves the absolute and quantile losses with no penalty, L1, "
            f"WeightedL1, L2 or ElasticNetPenalty (not positive); got {type(loss).__name__} "
            f"with {type(penalty).__name__}. Use solvers.primal_dual for the others.")
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    X, y, s = problem.X, problem.y, problem.s
    n, p = X.shape
    dtype = X.dtype
    certificate = _common.make_certificate(problem, loss, penalty)
    scale = certificate.scale

    # The rows of the program (module docstring).
    lo, hi = loss.dual_bounds(y)
    h = jnp.broadcast_to(-lo * s, (n,)).astype(dtype)
    g = jnp.broadcast_to(hi * s, (n,)).astype(dtype)
    l1, ridge = _penalty_terms(penalty, p, n, dtype)
    with_rows = l1 is not None
    y_tilde = y
    if with_rows:
        h = jnp.concatenate([h, l1])
        g = jnp.concatenate([g, l1])
        y_tilde = jnp.concatenate([y, jnp.zeros(p, dtype)])
    ridge = jnp.zeros(p, dtype) if ridge is None else ridge
    active = (h > 0) & (g > 0)
    prog = _Program(X, problem.Xt, y_tilde, h, g, active, ridge)
    n_active = jnp.maximum(jnp.sum(active), 1).astype(dtype)
    quadratic = jnp.any(ridge > 0)
    one = jnp.ones((), dtype)

    def dual_of(d):
        return jnp.where(s > 0, -d[:n] / jnp.where(s > 0, s, 1.0), 0.0)

    def certify(w, b, d):
        return _common.duality_gap(problem, loss, penalty, certificate, w, b, u=dual_of(d))

    def residuals(st):
        rp = jnp.where(active, y_tilde - _forward(prog, st.w, st.b, with_rows) - st.u + st.v, 0.0)
        on_w, on_b = _adjoint(prog, st.d, with_rows, fit_intercept)
        rd_w = on_w - ridge * st.w
        rd = jnp.concatenate([rd_w, on_b[None]]) if fit_intercept else rd_w
        ru = jnp.where(active, h - st.d - st.zu, 0.0)
        rv = jnp.where(active, g + st.d - st.zv, 0.0)
        return rp, rd, ru, rv

    def direction(st, factored, winv, res, cu, cv):
        rp, rd, ru, rv = res
        e = (cu - st.u * ru) / st.zu - (cv - st.v * rv) / st.zv
        on_w, on_b = _adjoint(prog, winv * (rp - e), with_rows, fit_intercept)
        rhs = jnp.concatenate([on_w, on_b[None]]) if fit_intercept else on_w
        dbeta = _solve(factored, rd + rhs)
        dw = dbeta[:p]
        db = dbeta[p] if fit_intercept else jnp.zeros((), dtype)
        dd = jnp.where(active, winv * (rp - e - _forward(prog, dw, db, with_rows)), 0.0)
        # One step of iterative refinement: the residual of the dual equation
        # Q dbeta - A^T dd = r_d computed through A (not through the normal
        # matrix, whose factorisation loses accuracy as W^-1 spreads over many
        # orders of magnitude near a degenerate solution).
        on_w, on_b = _adjoint(prog, dd, with_rows, fit_intercept)
        lhs = ridge * dw - on_w
        lhs = jnp.concatenate([lhs, -on_b[None]]) if fit_intercept else lhs
        correction = _solve(factored, rd - lhs)
        dw = dw + correction[:p]
        db_correction = correction[p] if fit_intercept else jnp.zeros((), dtype)
        db = db + db_correction
        dd = dd - jnp.where(active, winv * _forward(prog, correction[:p], db_correction,
                                                    with_rows), 0.0)
        dzu = jnp.where(active, ru - dd, 0.0)
        dzv = jnp.where(active, rv + dd, 0.0)
        du = jnp.where(active, (cu - st.u * dzu) / st.zu, 0.0)
        dv = jnp.where(active, (cv - st.v * dzv) / st.zv, 0.0)
        return dw, db, du, dv, dd, dzu, dzv

    def step_lengths(st, du, dv, dzu, dzv):
        primal = jnp.minimum(_max_step(st.u, du), _max_step(st.v, dv))
        dual = jnp.minimum(_max_step(st.zu, dzu), _max_step(st.zv, dzv))
        # A quadratic program couples beta and d in r_d: one common step.
        common = jnp.minimum(primal, dual)
        return jnp.where(quadratic, common, primal), jnp.where(quadratic, common, dual)

    def body(st):
        res = residuals(st)
        mu = jnp.sum(jnp.where(active, st.u * st.zu + st.v * st.zv, 0.0)) / (2.0 * n_active)
        winv = jnp.where(active, 1.0 / (st.u / st.zu + st.v / st.zv), 0.0)
        factored = _factor(_normal_matrix(prog, winv, with_rows, fit_intercept))
        # Predictor: the affine-scaling direction (sigma = 0).
        affine = direction(st, factored, winv, res, -st.u * st.zu, -st.v * st.zv)
        _, _, du, dv, _, dzu, dzv = affine
        ap, ad = step_lengths(st, du, dv, dzu, dzv)
        mu_affine = jnp.sum(jnp.where(active, (st.u + ap * du) * (st.zu + ad * dzu)
                                      + (st.v + ap * dv) * (st.zv + ad * dzv), 0.0))
        mu_affine = mu_affine / (2.0 * n_active)
        sigma = jnp.clip(mu_affine / jnp.where(mu > 0, mu, 1.0), 0.0, 1.0) ** 3
        # Corrector: centring plus Mehrotra's second-order term, same factorisation.
        cu = sigma * mu - st.u * st.zu - du * dzu
        cv = sigma * mu - st.v * st.zv - dv * dzv
        dw, db, du, dv, dd, dzu, dzv = direction(st, factored, winv, res, cu, cv)
        ap, ad = step_lengths(st, du, dv, dzu, dzv)
        ap, ad = _STEP_FRACTION * ap, _STEP_FRACTION * ad
        new = st._replace(
            w=st.w + ap * dw, b=st.b + ap * db, u=st.u + ap * du, v=st.v + ap * dv,
            d=st.d + ad * dd, zu=st.zu + ad * dzu, zv=st.zv + ad * dzv, n_iter=st.n_iter + 1)
        finite = jnp.all(jnp.isfinite(new.w)) & jnp.isfinite(new.b) & jnp.all(jnp.isfinite(new.d))
        gap = jnp.where(finite, certify(new.w, new.b, new.d), jnp.inf)
        better = gap < st.best_gap
        # Past round-off the iterates only degrade: stop after 8 steps without
        # a better certificate, on tiny steps, or on a non-finite step.
        best_iter = jnp.where(better, st.n_iter + 1, st.best_iter)
        stalled = (~finite | (jnp.maximum(ap, ad) < 1e-10)
                   | (st.n_iter + 1 - best_iter >= _PATIENCE))
        # A non-finite step is not taken.
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(finite, a, b), new,
                                     st._replace(n_iter=st.n_iter + 1))
        new = new._replace(
            stalled=stalled,
            best_w=jnp.where(better, new.w, st.best_w), best_b=jnp.where(better, new.b, st.best_b),
            best_d=jnp.where(better, new.d[:n], st.best_d),
            best_gap=jnp.where(better, gap, st.best_gap), best_iter=best_iter)
        # A warm start too far from this program's central path blocks the
        # steps at once: restart from the cold start (the certified best point
        # is kept).
        if warm is None:    # a cold start only: nothing to abandon
            return new
        abandon = st.warm & (stalled | ((st.n_iter == 0) & (jnp.maximum(ap, ad) < _WARM_MIN_STEP)))

        def restart(new):
            # The genuine cold start (least squares), not the cold heuristic
            # at the warm start's coefficients: from w = 0 at tau = 0.95 that
            # stalled too (gap 0.24 P at 20000 x 20).
            w, b = lsq_start()
            return new._replace(w=w, b=b, **cold_start(w, b)._asdict(),
                                stalled=jnp.zeros((), bool), best_iter=st.n_iter + 1,
                                warm=jnp.zeros((), bool))

        # A cond, not a select: on CPU the restart is computed only when taken.
        return lax.cond(abandon, restart, lambda new: new, new)

    def cond(st):
        return (st.n_iter < max_iter) & (st.best_gap > tol * scale) & ~st.stalled

    # Cold start: weighted least squares, d = 0 (inside the box, z = (h, g)),
    # and u - v = r shifted into the interior by Mehrotra's heuristic; the
    # linear equations hold from the start. Warm start (from init): its
    # coefficients with the best intercept for them, every row put on the
    # central path at mu0 = _WARM_MU * F(beta0) (`_central_start`); a warm
    # start that does not move (first step below _WARM_MIN_STEP) or stalls is
    # replaced by the cold start (`body`).
    def cold_start(w, b, r=None):
        r = y_tilde - _forward(prog, w, b, with_rows) if r is None else r
        u = jnp.maximum(r, 0.0)
        v = jnp.maximum(-r, 0.0)
        products = jnp.sum(jnp.where(active, u * h + v * g, 0.0))
        shift = 0.5 * products / jnp.maximum(jnp.sum(jnp.where(active, h + g, 0.0)),
                                             jnp.finfo(dtype).tiny)
        spread = jnp.sum(jnp.where(active, jnp.abs(r), 0.0)) / n_active
        shift = jnp.maximum(shift, 1e-3 * spread + jnp.finfo(dtype).tiny)
        return _Start(jnp.where(active, u + shift, one), jnp.where(active, v + shift, one),
                      jnp.zeros_like(h), jnp.where(active, h, one), jnp.where(active, g, one))

    def lsq_start():
        lsq = _program_lsq(prog, s, with_rows, fit_intercept)
        return lsq[:p], (lsq[p] if fit_intercept else jnp.zeros((), dtype))

    def init_start():
        w = jnp.asarray(init.coef if isinstance(init, Solution) else init, dtype)
        if not fit_intercept:
            return w, jnp.zeros((), dtype)
        # The best intercept for w: the quantile of the previous problem's fit
        # is not this problem's.
        return w, _common.best_intercept(problem, loss, X @ w).astype(dtype)

    if warm is None:
        use_warm = jnp.zeros((), bool)
        w0, b0 = lsq_start()
    elif warm is True:
        use_warm = jnp.ones((), bool)
        w0, b0 = init_start()
    else:
        use_warm = jnp.asarray(warm, bool)
        w0, b0 = lax.cond(use_warm, init_start, lsq_start)
    r0 = y_tilde - _forward(prog, w0, b0, with_rows)
    cold = cold_start(w0, b0, r0)
    if warm is None:
        first = cold
    else:
        objective = jnp.sum(jnp.where(active, jnp.maximum(h * r0, -g * r0), 0.0)) / n
        mu0 = jnp.maximum(_WARM_MU * objective, 1e-10 * scale + jnp.finfo(dtype).tiny)
        central = _central_start(r0, h, g, mu0, active, one)
        first = jax.tree_util.tree_map(lambda a, b: jnp.where(use_warm, a, b), central, cold)
    # The start is not certified (the first step is): one copy of the
    # certificate in the compiled program, not two (each costs ~1 s to compile).
    start = _State(w0, b0, *first, jnp.zeros((), jnp.int32), jnp.zeros((), bool),
                   w0, b0, first.d[:n], jnp.asarray(jnp.inf, dtype), jnp.zeros((), jnp.int32),
                   use_warm, *((None, None) if warm is None else (w0, b0)))
    out = lax.while_loop(cond, body, start)
    w, gap = out.best_w, out.best_gap
    if with_rows:
        w, gap = _exact_zeros(prog, l1, out.best_d, w, gap, tol * scale,
                              lambda w: certify(w, out.best_b, out.best_d))
    return Solution(w, out.best_b, out.n_iter, gap, gap <= tol * scale, dual_of(out.best_d))


def _central_start(r, h, g, mu, active, one):
    r"""Each row's point of the central path at ``mu``, given its residual ``r``.

    The split :math:`u - v = r`, multiplier :math:`d \in (-g, h)` and slacks
    :math:`z_u = h - d`, :math:`z_v = g + d` with :math:`u z_u = v z_v = \mu`:
    eliminating :math:`u = \mu/z_u`, :math:`v = \mu/z_v`, :math:`d` is the
    root in :math:`(-g, h)` of

    .. math:: -r d^2 + \big(r(h - g) - 2\mu\big) d + r g h + \mu(h - g) = 0,

    (positive at :math:`-g`, negative at :math:`h`: exactly one root there),
    taken in the cancellation-free form of the quadratic formula. Then the
    larger of :math:`u, v` is :math:`|r|` plus the smaller, so that
    :math:`u - v = r` holds to round-off.
    """
    a = -r
    b = r * (h - g) - 2.0 * mu
    c = r * g * h + mu * (h - g)
    q = -0.5 * (b + jnp.where(b >= 0, 1.0, -1.0) * jnp.sqrt(jnp.maximum(b * b - 4.0 * a * c, 0.0)))
    root_c = c / jnp.where(q != 0, q, 1.0)
    root_a = q / jnp.where(a != 0, a, 1.0)
    d = jnp.where((q != 0) & (root_c > -g) & (root_c < h), root_c, root_a)
    width = h + g
    d = jnp.clip(d, -g + 1e-15 * width, h - 1e-15 * width)
    zu = h - d
    zv = g + d
    u = jnp.where(r > 0, r + mu / zv, mu / zu)
    v = jnp.where(r > 0, mu / zv, mu / zu - r)
    return _Start(jnp.where(active, u, one), jnp.where(active, v, one), jnp.where(active, d, 0.0),
                  jnp.where(active, zu, one), jnp.where(active, zv, one))


# A penalized coefficient is set to zero when its dual constraint is slack by
# at least this fraction of its bound (below).
_ZERO_SLACK = 1e-6


def _exact_zeros(prog, l1, d, w, gap, limit, certify):
    r"""Exact zeros for the L1 rows, which an interior point only approaches.

    Stationarity in :math:`w_j` ties the multiplier of penalty row ``j`` to
    :math:`c_j = (X^\top d)_j`, and that multiplier lies in
    :math:`[-n\lambda_j, n\lambda_j]`; where the bound is slack,
    :math:`|c_j| < n\lambda_j`, complementary slackness gives
    :math:`w_j = 0` at the optimum. The iterate holds ~1e-12 there instead:
    those coordinates (slack by at least ``_ZERO_SLACK`` of the bound) are set
    to zero, and the result is kept if its certified gap stays within
    ``max(gap, limit)`` (the change is of the size of the zeroed entries).
    """
    c = prog.Xt @ d
    slack = jnp.abs(c) <= (1.0 - _ZERO_SLACK) * l1
    candidate = jnp.where(slack & (l1 > 0), 0.0, w)
    candidate_gap = certify(candidate)
    keep = jnp.isfinite(candidate_gap) & (candidate_gap <= jnp.maximum(gap, limit))
    return jnp.where(keep, candidate, w), jnp.where(keep, candidate_gap, gap)


def _program_lsq(prog, s, with_rows, fit_intercept):
    r"""Weighted least squares on the samples (plus :math:`Q`): the starting :math:`\beta_0`."""
    n = prog.X.shape[0]
    weights = jnp.where(prog.active[:n], s, 0.0)
    if with_rows:
        weights = jnp.concatenate([weights, jnp.zeros(prog.X.shape[1], s.dtype)])
    M = _normal_matrix(prog, weights, with_rows, fit_intercept)
    on_w, on_b = _adjoint(prog, weights * prog.y_tilde, with_rows, fit_intercept)
    rhs = jnp.concatenate([on_w, on_b[None]]) if fit_intercept else on_w
    # A relative ridge: p > n designs and duplicated columns have no unique fit.
    diagonal = jnp.diagonal(M)
    M = M + jnp.diag(1e-8 * jnp.where(diagonal > 0, diagonal, 1.0))
    return _solve(_factor(M), rhs)
