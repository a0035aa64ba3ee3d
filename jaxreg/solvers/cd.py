r"""Cyclic coordinate descent for the squared loss with a separable penalty.

Minimises

.. math::
    F(w, b) = \frac{1}{2n}\sum_i s_i (y_i - x_i^\top w - b)^2 + \sum_j P_j(w_j),
    \qquad \sum_i s_i = n,

for :class:`~jaxreg.penalties.L1`, :class:`~jaxreg.penalties.L2`,
:class:`~jaxreg.penalties.ElasticNetPenalty` and
:class:`~jaxreg.penalties.WeightedL1` (``positive`` variants too; a zero weight
leaves its feature unpenalized). With an intercept, ``X`` and ``y`` are centred
by their ``s``-weighted means :math:`\bar x_s, \bar y_s`, and
:math:`b = \bar y_s - \bar x_s^\top w` is the exact minimiser in ``b``.

One coordinate update is the exact minimisation in :math:`w_j`,

.. math::
    w_j \leftarrow \operatorname{prox}_{P_j / H_{jj}}\big(w_j - g_j / H_{jj}\big),
    \qquad H_{jj} = \tfrac1n \textstyle\sum_i s_i \tilde x_{ij}^2,

with :math:`g_j` the partial derivative of the datafit and :math:`\tilde x` the
centred column (a column that is constant after centring keeps
:math:`w_j = 0`). Two forms (``DESIGN.md``, "Measured facts"):

- **Gram** (``mode="auto"``: ``n_samples >= n_features`` and at most 500
  features): :math:`G = \tilde X^\top S \tilde X / n`
  and :math:`c = \tilde X^\top S \tilde y / n` are formed once
  (:func:`gram_statistics`); the vector :math:`q = G w` is kept up to date, so
  an update costs O(p), and so does the duality gap.
- **residual** (otherwise): the centred residual
  :math:`r = \tilde y - \tilde X w` is kept; columns are read as rows of the
  contiguous copy :math:`X^\top` that :func:`~jaxreg.solvers._common.make_problem`
  makes (a column of a row-major ``X`` is ~20x slower to read on CPU); an update
  costs O(n). Centring is applied on the fly, so ``X`` is never copied centred.

Above 100 features both sweep only a working set between two gap checks:
the non-zero coordinates and the worst KKT violators (residual form) or all
of them (Gram form), chosen first at the start point. In the residual form
the set's subproblem is solved to a fraction of the last gap, judged by its
own gap, before the next full check (``inner_tol``).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg.solvers import _common
from jaxreg.solvers._common import Solution, masked_cholesky, optimality

__all__ = ["coordinate_descent", "gram_statistics", "GramStatistics", "optimality",
           "solution_shapes"]


# mode="auto" uses the Gram form up to this many features (and n >= p). Forming
# G costs ~n p^2 flops, an epoch of the residual form ~n p: on CPU the Gram pays
# for itself after roughly p / 20 epochs, so for large p a single fit is faster
# in residual form (a path, which reuses G over many fits, may pass `gram=`).
_GRAM_MAX_FEATURES = 500

# Epochs between two recomputations of the maintained vector (q = G w or the
# residual) from w, by dtype: each costs about one full epoch (more than a
# working-set sweep), and float64 drifts ~1e8 times less than float32.
_REFRESH_EPOCHS = {4: 16, 8: 256}

# Working sets: on above this many features; in the residual form capped
# (the non-zero coordinates and at most as many violators, at least
# _WORKING_SET_MIN, chosen by a bisection), in the Gram form uncapped
# (the non-zero coordinates and every violator). Below, the set costs more
# compile time (0.2-0.4 s on BENCHMARKS.md (a)) than it saves. There a coordinate costs a
# rank-one update of length p whether it moves or not, and the capped set's
# bisection over p priorities at every gap check cost more than it saved:
# measured on BENCHMARKS.md (d) (p = 200), the path's sweeps took 11 ms with
# the capped set, 6 ms with none (same iterates: a coordinate outside the set
# does not move) and 6 ms with the uncapped one; on (b) (p = 1000) 136 ms
# with none, 129 ms capped, 100-127 ms uncapped.
_WORKING_SET_MIN_FEATURES = 100
_WORKING_SET_MIN = 10


class GramStatistics(NamedTuple):
    r"""Sufficient statistics of a squared-loss problem, for the Gram form.

    With :math:`\tilde X = X - 1\bar x_s^\top`, :math:`\tilde y = y - \bar y_s`
    (no centring without an intercept) and weights :math:`s` summing to ``n``:
    ``gram`` is :math:`G = \tilde X^\top S \tilde X / n`, ``xty`` is
    :math:`c = \tilde X^\top S \tilde y / n`, ``yty`` is
    :math:`\tilde y^\top S \tilde y / n = 2 P_{\text{null}}`, ``x_mean`` and
    ``y_mean`` are :math:`\bar x_s, \bar y_s` (zeros without an intercept).
    Built by :func:`gram_statistics`, or by hand, e.g. per CV fold from the
    full Gram minus the held-out rows' part.
    """

    gram: jax.Array      # (p, p) G = X~^T S X~ / n
    xty: jax.Array       # (p,)   c = X~^T S y~ / n
    yty: jax.Array       # ()     y~^T S y~ / n = 2 P_null
    x_mean: jax.Array    # (p,)   weighted column means (zeros without intercept)
    y_mean: jax.Array    # ()     weighted mean of y (0 without intercept)


class _Carry(NamedTuple):
    coef: jax.Array       # (p,)
    aux: jax.Array        # Gram form: q = G w (p,); residual form: r = y~ - X~ w (n,)
    n_iter: jax.Array     # () int32 epochs
    gap: jax.Array        # () duality gap at coef (exact whenever the loop may stop)
    intercept: jax.Array  # () intercept at which `gap` was certified
    v: jax.Array          # (p,) correlations at the last check (working sets), else 0


def _sweep(update, w, aux, order, size):
    """One pass of ``update(j, w_j, aux) -> (w_j, aux)`` over ``order[:size]``.

    Each coordinate is visited once per pass, so its old value is read from
    the ``w`` of the start of the pass and the new values are written to a
    separate buffer that the loop never reads, then scattered once. Writing
    ``w[j]`` in the loop that also reads ``w`` made XLA copy all of ``w`` at
    every coordinate (measured on CPU: 2.4 us instead of 0.23 us per
    coordinate at p = 5000).
    """
    p = w.shape[0]

    def body(i, carry):
        new, aux = carry
        j = order[i]
        w_j, aux = update(j, w[j], aux)
        return new.at[i].set(w_j), aux

    new, aux = lax.fori_loop(0, size, body, (jnp.zeros_like(w), aux))
    index = jnp.where(jnp.arange(p) < size, order, p)      # p: out of range, dropped
    return w.at[index].set(new, mode="drop"), aux


def _extrapolate(penalty, objective, recompute, history, aux_history, w, aux):
    r"""Anderson extrapolation of the last iterates, kept if it lowers the objective.

    With :math:`U` the differences of the ``K + 1`` iterates in ``history``,
    :math:`z = (U U^\top)^{-1} 1`, :math:`c = z / 1^\top z`, the candidate is
    :math:`\sum_k c_k w_{k+1}` (Bertrand & Massias, 2021, as in skglm and
    celer). The maintained vector (``q = G w``, or the residual, affine in
    ``w``) is the same combination of ``aux_history`` since
    :math:`\sum_k c_k = 1`: no product with ``G`` or ``X``, except with
    ``positive=True``, where the candidate is clipped and ``recompute`` gives
    it. Coordinate descent stays monotone because a candidate that does not
    lower the objective is dropped.
    """
    U = jnp.diff(history, axis=0)
    K = U.shape[0]
    M = U @ U.T
    M = M + (1e-10 * jnp.trace(M) + jnp.finfo(M.dtype).tiny) * jnp.eye(K, dtype=M.dtype)
    z = _spd_solve(M, jnp.ones(K, M.dtype))
    weights = z / jnp.sum(z)
    candidate = weights @ history[1:]
    if getattr(penalty, "positive", False):
        candidate = jnp.maximum(candidate, 0.0)
        candidate_aux = recompute(candidate)
    else:
        candidate_aux = weights @ aux_history[1:]
    better = objective(candidate, candidate_aux) < objective(w, aux)
    better = better & jnp.all(jnp.isfinite(candidate))
    return jnp.where(better, candidate, w), jnp.where(better, candidate_aux, aux)


def _working_set(penalty, w, v, mask, minimum, capped=True):
    """Coordinates to sweep next: the non-zero (and unpenalized) ones and the
    worst KKT violators, at most ``max(n_active, minimum)`` of them (the set
    at most doubles, as in celer and skglm), in index order, then the rest.
    With ``capped=False``: all the violators (the Gram form, where a
    coordinate costs O(p) either way and the cap's bisection cost more than
    it saved).

    Only speed depends on it: the loop stops on the gap over all coordinates.
    The violators are those whose distance to the subdifferential reaches a
    threshold found by bisection (:func:`_top_threshold`), and the order is a
    stable partition (a prefix sum and a scatter): all O(p). A sort of the
    ``p`` priorities cost ~1.1 ms at p = 5000 on CPU, three working-set
    sweeps' worth.
    """
    p = w.shape[0]
    active = w != 0
    if mask is not None:
        active = active | mask
    distance = jnp.where(active, 0.0, penalty.subdiff_distance(w, -v))
    if capped:
        n_active = jnp.sum(active, dtype=jnp.int32)
        n_violating = jnp.sum(distance > 0, dtype=jnp.int32)
        grow = jnp.minimum(n_violating, jnp.maximum(n_active, minimum))
        threshold = _top_threshold(distance, grow)
        chosen = active | ((distance >= threshold) & (distance > 0) & (grow > 0))
    else:
        chosen = active | (distance > 0)
    first = jnp.cumsum(chosen, dtype=jnp.int32)
    size = first[-1]
    rest = size + jnp.arange(1, p + 1, dtype=jnp.int32) - first
    position = jnp.where(chosen, first, rest) - 1
    order = jnp.zeros(p, jnp.int32).at[position].set(jnp.arange(p, dtype=jnp.int32),
                                                     unique_indices=True)
    return order, jnp.maximum(size, 1)


def _top_threshold(values, k, steps=60):
    """A ``t`` with at most ``k`` (at least one, for ``k >= 1``) of the
    non-negative ``values`` at or above it: bisection on ``[0, max]``.

    ``count(values >= hi) <= k < count(values >= lo)`` is kept, until the
    count at ``hi`` is ``k`` or after ``steps`` halvings (the bracket is then
    at the round-off of ``max``, where only ties keep the count below ``k``).
    """
    top = jnp.max(values)

    def halve(state):
        lo, hi, at_hi, i = state
        mid = 0.5 * (lo + hi)
        count = jnp.sum(values >= mid, dtype=jnp.int32)
        fits = count <= k
        return (jnp.where(fits, lo, mid), jnp.where(fits, mid, hi),
                jnp.where(fits, count, at_hi), i + 1)

    def going(state):
        return (state[2] != k) & (state[3] < steps)

    start = (jnp.zeros_like(top), top, jnp.sum(values >= top, dtype=jnp.int32), 0)
    return lax.while_loop(going, halve, start)[1]


def _means(problem):
    """s-weighted means of the columns of X and of y (zeros without intercept)."""
    X, y, s = problem.X, problem.y, problem.s
    if not problem.fit_intercept:
        return jnp.zeros(X.shape[1], X.dtype), jnp.zeros((), X.dtype)
    n = X.shape[0]
    return s @ X / n, jnp.vdot(s, y) / n


def _statistics(problem):
    X, y, s = problem.X, problem.y, problem.s
    n = X.shape[0]
    x_mean, y_mean = _means(problem)
    Xc = X - x_mean[None, :] if problem.fit_intercept else X
    yc = y - y_mean
    Xs = Xc * s[:, None]
    return GramStatistics(Xs.T @ Xc / n, Xs.T @ yc / n, jnp.vdot(yc, s * yc) / n,
                          x_mean, y_mean)


def gram_statistics(X, y, *, sample_weight=None, fit_intercept=True):
    r"""The :class:`GramStatistics` of ``(X, y)``, for ``coordinate_descent(gram=...)``.

    Forming :math:`G` costs :math:`n p^2` flops; a path or a grid of ``alpha``
    over the same data forms it once and passes it to every fit.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,)
    sample_weight : array of shape (n_samples,) or None
        Rescaled to sum to ``n_samples``.
    fit_intercept : bool, default=True
        Centre by the weighted means.

    Returns
    -------
    GramStatistics

    Examples
    --------
    >>> stats = gram_statistics(jnp.array([[1.0], [3.0]]), jnp.array([0.0, 4.0]))
    >>> stats.gram, stats.xty, stats.yty
    (Array([[1.]], dtype=float64), Array([2.], dtype=float64), Array(4., dtype=float64))
    """
    return _statistics(_common.make_problem(X, y, sample_weight, fit_intercept))


def solution_shapes(n_features, dtype):
    """The structure (:class:`jax.ShapeDtypeStruct` leaves) of the
    :class:`~jaxreg.solvers.Solution` that :func:`coordinate_descent` returns
    for ``n_features`` features of floating ``dtype``, without tracing it
    (a path's warm-start carry needs it before the solver is traced)."""
    dtype = jnp.dtype(dtype)
    scalar = jax.ShapeDtypeStruct((), dtype)
    return Solution(jax.ShapeDtypeStruct((n_features,), dtype), scalar,
                    jax.ShapeDtypeStruct((), jnp.int32), scalar,
                    jax.ShapeDtypeStruct((), jnp.bool_))


def _coordinate_step(penalty, j, w_j, gradient_j, step_j):
    """w_j <- prox_{step_j P_j}(w_j - step_j gradient_j), ``step_j = 1 / H_jj``;
    0 for an empty column (``step_j = 0``, :func:`_steps`)."""
    new = penalty.coordinate(j).prox(w_j - gradient_j * step_j, step_j)
    return jnp.where(step_j > 0, new, jnp.zeros_like(new))


def _steps(diag, x_mean):
    """``1 / H_jj`` per coordinate, 0 for empty columns (:func:`_empty_columns`).

    Formed once per fit: inside the coordinate loop the division and its
    guard were separate kernels on CPU (~0.4 us per coordinate at n = 200).
    """
    empty = _empty_columns(diag, x_mean)
    return jnp.where(empty, 0.0, 1.0 / jnp.where(empty, 1.0, diag))


def _empty_columns(diag, x_mean):
    """Columns constant after centring, up to the round-off of centring.

    A constant column centres to ~eps * |x| rather than 0; its ``H_jj`` is then
    ~eps^2 x^2, and dividing by it would blow up unpenalized coordinates.
    """
    eps = jnp.finfo(diag.dtype).eps
    return diag <= eps * (diag + x_mean**2)


def _squared_gap(penalty, w, rr, v, rr_excess=0.0):
    r"""Duality gap of the centred squared loss, free of cancellation.

    With the residual :math:`r = \tilde y - \tilde X w` (after the projection
    of the dual point for unpenalized features, :math:`r'`): ``rr`` is
    :math:`r'^\top S r' / n`, ``v`` is :math:`\tilde X^\top S r' / n` and
    ``rr_excess`` is :math:`(r^\top S r - r'^\top S r')/n`. The dual point is
    :math:`u = -t r'` with ``t`` from the penalty's dual ball: the point of
    :func:`~jaxreg.solvers._common.dual_point`. Since
    :math:`r'^\top S \tilde y / n = \|r'\|_S^2/n + w^\top v`, the gap is

    .. math::
        \tfrac12 \text{rr\_excess} + \tfrac12 (1 - t)^2\,\text{rr}
        + \big(P(w) - t\, w^\top v + P^*(t v)\big),

    a sum of non-negative terms (the last is a Fenchel-Young gap) that avoids
    subtracting quantities of the size of :math:`\|\tilde y\|^2`: its
    round-off is relative to :math:`|w|\,|v|`, not to :math:`P_{\text{null}}`.
    """
    t = penalty.dual_scale(v)
    fenchel_young = penalty.value(w) - t * jnp.vdot(w, v) + penalty.conjugate(t * v)
    return 0.5 * rr_excess + 0.5 * (1.0 - t) ** 2 * rr + fenchel_young


def _check_arguments(loss, penalty, y, mode):
    if not isinstance(loss, _losses.SquaredLoss):
        raise TypeError(
            f"coordinate_descent solves the squared loss only, got {type(loss).__name__}; "
            "use solvers.fista for other smooth losses and solvers.primal_dual for "
            "absolute and quantile losses.")
    if not callable(getattr(penalty, "coordinate", None)):
        raise TypeError(
            f"coordinate_descent needs a separable penalty (with `coordinate(j)`), got "
            f"{type(penalty).__name__}; use solvers.fista.")
    if y is not None and jnp.ndim(y) != 1:
        raise ValueError(
            f"coordinate_descent takes a 1-D y, got shape {jnp.shape(y)}; use solvers.fista "
            "for several outputs.")
    if mode not in ("auto", "gram", "residual"):
        raise ValueError(f"mode must be 'auto', 'gram' or 'residual', got {mode!r}.")


def coordinate_descent(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None,
                       init=None, max_iter=10000, tol=1e-4, mode="auto", check_every=1,
                       gram=None, working_set="auto", anderson=0, inner_tol=0.3):
    r"""Minimise :math:`\frac{1}{2n}\sum_i s_i (y_i - x_i^\top w - b)^2 + P(w)` by cyclic CD.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or None with ``gram=``
    y : array of shape (n_samples,), or None with ``gram=``
    loss : SquaredLoss
    penalty : L1, L2, ElasticNetPenalty or WeightedL1
        A separable penalty (``penalty.coordinate(j)``); ``positive=True`` and
        zero weights (unpenalized features) are supported.
    fit_intercept : bool, default=True
        Fit the unpenalized intercept :math:`b` (by weighted centring).
    sample_weight : array of shape (n_samples,) or None
        Rescaled to sum to ``n_samples``.
    init : array of shape (n_features,), Solution or None
        Warm start (only the coefficients are used).
    max_iter : int, default=10000
        Maximal number of epochs (passes over all features).
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol * P_null``, with
        :math:`P_{\text{null}} = \|y - \bar y_s\|_s^2 / (2n)`.
    mode : {"auto", "gram", "residual"}, default="auto"
        "auto" is "gram" when ``n_samples >= n_features`` and
        ``n_features <= 500`` (forming the Gram matrix costs
        :math:`n p^2`, about as much as :math:`p / 20` epochs of the residual
        form on CPU), "residual" otherwise.
    check_every : int, default=1
        Epochs between two evaluations of the duality gap.
    gram : GramStatistics or None
        Precomputed :func:`gram_statistics` of the same ``(X, y,
        sample_weight, fit_intercept)``; implies the Gram form and skips
        forming it (for paths and grids that share the data).

    working_set : {"auto", True, False}, default="auto"
        Sweep only a working set between two gap checks: the non-zero
        coordinates and the worst KKT violators (at most as many as are
        non-zero, or 10), re-chosen at every check from the correlations the
        gap needs anyway; in the Gram form all the violators (no bisection
        for the worst). "auto": on for L1-type penalties with more than
        100 features. The stopping test is unchanged (the gap over all
        coordinates).

    anderson : int, default=0
        Sweeps between two Anderson extrapolations of the iterates
        (kept only when they lower the objective); 0 turns it off and then
        the gap is checked every ``check_every`` sweeps, else after each
        extrapolation. ``n_iter`` may then pass ``max_iter`` by less than
        ``anderson``.
    inner_tol : float, default=0.3
        Residual form with working sets (and no unpenalized feature): between
        two full gap evaluations (a product with :math:`X^\top`, O(np)), the
        working set's subproblem is solved until its own duality gap
        (correlations with the set's columns only, O(n |set|)) is at most
        ``inner_tol`` times the last full gap, or half the tolerance (as the
        inner solvers of celer and skglm). 0 checks the full gap after every
        ``check_every`` sweeps or extrapolation. Measured on BENCHMARKS.md
        (c): the path 1.4-1.5 s with 0, 1.05-1.2 s with 0.3.

    Returns
    -------
    Solution
        ``n_iter`` counts epochs (sweeps over the working set, if any); ``dual_gap`` is the gap at the returned
        ``(coef, intercept)``.

    Notes
    -----
    Stopping: every ``check_every`` epochs the gap is evaluated from the
    maintained vector (``q = G w`` or the residual, O(p) resp. O(np)); when it
    passes, at ``max_iter`` and every 16 epochs, that vector is recomputed
    from ``w`` and the gap taken again, so the reported gap is exact at the
    returned point: in the
    residual form it is :func:`~jaxreg.solvers._common.duality_gap` itself, in
    the Gram form the same dual point evaluated from Gram quantities (equal up
    to round-off, including the projection for unpenalized features).

    scikit-learn's ``Lasso(tol=t)`` stops when its gap is at most
    :math:`t\,\|y_c\|^2/n = 2t\,P_{\text{null}}`: ``tol=2t`` here is the same
    test. scikit-learn evaluates it only after an epoch in which no coefficient
    moved by more than ``t * max|w|``, so it often stops at a smaller gap.

    The intercept returned is
    :func:`~jaxreg.solvers._common.best_intercept` at ``coef`` (with ``gram=``:
    :math:`\bar y_s - \bar x_s^\top w`, the same up to round-off).

    Accuracy: float64 reaches gaps of ~1e-15 ``P_null``. float32 (the dtype
    of ``X`` is kept) reaches gaps of about ``1e-6 * P_null`` in the Gram form
    (its gap uses :math:`\|r\|^2 = \tilde y^\top S\tilde y/n - 2c^\top w +
    w^\top G w`, which cancels) and ``2e-7 * P_null`` in the residual form;
    the reported gap is then within ~5e-7 ``P_null`` of the float64
    recomputation (it may be slightly negative), so use ``tol >= 1e-5``.
    Measured on diabetes and on 20 x 80 correlated data: coefficients within
    1e-4 (wide) to 1e-6 (diabetes) of the float64 solution, relative to
    ``max|w|``, at ``tol=1e-6``.

    Under :func:`jax.vmap` (e.g. over ``alpha``) ``G`` or ``X.T`` is formed
    once; the loop runs until the slowest member has converged, each member
    keeping its own result and ``n_iter``.
    """
    _check_arguments(loss, penalty, y, mode)
    if X is None:
        if gram is None:
            raise ValueError("coordinate_descent needs X and y unless gram= is given.")
        # The statistics are all the Gram form needs: a path over NumPy data
        # passes no X, so that it is not copied into the computation.
        problem = None
        dtype = jnp.result_type(gram.gram)
        n = p = jnp.shape(gram.gram)[0]
        coef0 = (jnp.zeros(p, dtype) if init is None else
                 jnp.asarray(init.coef if isinstance(init, Solution) else init, dtype))
    else:
        problem = _common.make_problem(X, y, sample_weight, fit_intercept)
        n, p = problem.X.shape
        dtype = problem.X.dtype
        coef0, _ = _common.initial_point(problem, loss, init, ())
    if gram is not None:
        mode = "gram"
    elif mode == "auto":
        mode = "gram" if n >= p and p <= _GRAM_MAX_FEATURES else "residual"
    mask = penalty.unpenalized()
    if mask is not None:
        mask = jnp.broadcast_to(jnp.asarray(mask), (p,))
    if mode == "gram":
        stats = _statistics(problem) if gram is None else GramStatistics(
            *(jnp.asarray(a, dtype) for a in gram))
        scale = 0.5 * stats.yty
        sweep, cheap_gap, exact, aux0 = _gram_form(stats, penalty, mask, coef0)
        working_gap = None
    else:
        # With unpenalized features and n < p the dual point is projected in
        # sample space (n x n) here; the generic certificate's projector would
        # factor a (p+1) x (p+1) matrix (6x slower at 200 x 5000).
        own_projection = mask is not None and n < p
        if own_projection:
            certificate = None
            scale = _common.null_objective(problem, loss)
        else:
            certificate = _common.make_certificate(problem, loss, penalty)
            scale = certificate.scale
        sweep, cheap_gap, exact, aux0, working_gap = _residual_form(
            problem, loss, penalty, mask, certificate, coef0, init,
            weighted=sample_weight is not None)
    limit = tol * scale
    x_mean, y_mean = (stats.x_mean, stats.y_mean) if mode == "gram" else _means(problem)

    def intercept_of(w):
        return y_mean - jnp.vdot(x_mean, w)

    refresh = _REFRESH_EPOCHS.get(jnp.dtype(dtype).itemsize, 16)
    use_working_set = (working_set is True or (
        working_set == "auto" and p > _WORKING_SET_MIN_FEATURES
        and not isinstance(penalty, _penalties.L2)))

    if mode == "gram":
        def objective(w, aux):
            rr = jnp.maximum(stats.yty - 2.0 * jnp.vdot(stats.xty, w) + jnp.vdot(w, aux), 0.0)
            return 0.5 * rr + penalty.value(w)

        def recompute(w):
            return stats.gram @ w
    else:
        def objective(w, r):
            return 0.5 * jnp.vdot(problem.s * r, r) / n + penalty.value(w)

        def recompute(w):
            z = problem.X @ w
            return problem.y - z - (intercept_of(w) if fit_intercept else 0.0)

    def advance(w, aux, n_iter, order, size):
        """The sweeps between two gap evaluations: ``(w, aux, n_iter)``."""
        def epoch(_, carry):
            return sweep(*carry, order, size)

        if anderson:
            # `anderson` sweeps, then one extrapolation of their iterates.
            def record(carry, _):
                carry = epoch(None, carry)
                return carry, carry

            (w_new, aux_new), (history, aux_history) = lax.scan(record, (w, aux), None,
                                                                length=anderson)
            w_new, aux_new = _extrapolate(penalty, objective, recompute,
                                          jnp.concatenate([w[None], history]),
                                          jnp.concatenate([aux[None], aux_history]),
                                          w_new, aux_new)
            return w_new, aux_new, n_iter + anderson
        epochs = jnp.minimum(check_every, max_iter - n_iter)
        w, aux = lax.fori_loop(0, epochs, epoch, (w, aux))
        return w, aux, n_iter + epochs

    # Residual form with working sets: between two full gap evaluations
    # (O(np) each), solve the working set's subproblem to `inner_tol` times
    # the last full gap, judged by the subproblem's own gap (O(n |set|)).
    inner = (use_working_set and inner_tol and working_gap is not None
             and mask is None)

    def body(c):
        if use_working_set:
            order, size = _working_set(penalty, c.coef, c.v, mask, _WORKING_SET_MIN,
                                       capped=mode == "residual")
        else:
            order, size = jnp.arange(p, dtype=jnp.int32), p
        if inner:
            target = jnp.maximum(inner_tol * c.gap, 0.5 * limit)

            def inner_body(state):
                w, aux, n_iter, _ = state
                w, aux, n_iter = advance(w, aux, n_iter, order, size)
                return w, aux, n_iter, working_gap(w, aux, order, size)

            def inner_cond(state):
                # At least one pass (c.gap is inf before the first check).
                return (state[2] == c.n_iter) | ((state[3] > target) & (state[2] < max_iter))

            w, aux, n_iter, _ = lax.while_loop(inner_cond, inner_body,
                                               (c.coef, c.aux, c.n_iter, c.gap))
        else:
            w, aux, n_iter = advance(c.coef, c.aux, c.n_iter, order, size)
        gap, v = cheap_gap(w, aux)
        # Confirm on a fresh `aux`: rank-one updates drift by round-off, and
        # the gap that stops the loop must be exact at w. Refresh it every
        # `refresh` epochs too: in float32 the drift would otherwise
        # steer long runs off the minimiser (seen: gap 1e-4 after 2000 epochs).
        due = (n_iter // refresh) != (c.n_iter // refresh)
        aux, gap, b = _if((gap <= limit) | (n_iter >= max_iter) | due,
                          lambda: exact(w, aux, gap), (aux, gap, c.intercept))
        return _Carry(w, aux, n_iter, gap, b, v if use_working_set else c.v)

    def cond(c):
        return (c.n_iter < max_iter) & (c.gap > limit)

    # No certificate before the first epoch: it would cost about an epoch.
    # With working sets the first one is chosen from the correlations at the
    # start point (one product with X^T, or O(p) with G): a warm start's
    # first sweeps then run on its support and violators, not on all p
    # coordinates (on BENCHMARKS.md (c) those full sweeps were half the path).
    v0 = cheap_gap(coef0, aux0)[1] if use_working_set else jnp.zeros(p, dtype)
    start = _Carry(coef0, aux0, jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf, dtype),
                   jnp.zeros((), dtype), v0)
    out = lax.while_loop(cond, body, start)
    if mode == "gram" and gram is None and fit_intercept:
        intercept = _common.best_intercept(problem, loss, problem.X @ out.coef)
    elif mode == "gram":
        intercept = intercept_of(out.coef)
    else:   # certified in the loop (max_iter = 0: no loop)
        intercept = jnp.where(out.n_iter > 0, out.intercept, intercept_of(out.coef))
    gap = jnp.where(jnp.isnan(out.gap), jnp.inf, out.gap)
    return Solution(out.coef, intercept.astype(dtype), out.n_iter, gap, gap <= limit)


def _if(pred, compute, default):
    """``compute()`` if ``pred`` else ``default``: a branch that stays lean under vmap.

    Written as a loop of at most one pass rather than :func:`jax.lax.cond`:
    under :func:`jax.vmap` with a batched ``pred``, ``cond`` becomes a select
    that first broadcasts every operand, including the arrays the branches
    close over, to the batch: the exact gap's branch closes over ``G`` (or
    ``X``), so a batched path held a copy of it per ``alpha`` (memory
    O(n_alphas p^2)). A batched ``while_loop`` keeps unbatched operands
    unbatched and selects only its carry.
    """
    return lax.while_loop(lambda c: c[0], lambda c: (jnp.zeros_like(c[0]), compute()),
                          (pred, default))[1]


def _gram_form(stats, penalty, mask, coef0):
    """Sweep, cheap gap (and v), exact gap and start of the Gram form (carry q = G w)."""
    G, c, yy = stats.gram, stats.xty, stats.yty
    steps = _steps(jnp.diagonal(G), stats.x_mean)

    def sweep(w, q, order, size):
        return _gram_sweep(penalty, G, c, steps, w, q, order, size)

    project = None if mask is None else _gram_projector(G, mask)

    def gap(w, q):
        # r = y~ - X~ w:  r'S y~/n = yy - c.w,  r'S r/n = yy - 2 c.w + w.Gw,
        # X~'S r/n = c - q.  O(p).
        rr = jnp.maximum(yy - 2.0 * jnp.vdot(c, w) + jnp.vdot(w, q), 0.0)
        v = c - q
        if project is None:
            return _squared_gap(penalty, w, rr, v), v
        # Unpenalized features: the dual point is r projected onto
        # {X~_U' S r = 0}, r' = r - X~_U a, as in _common.dual_point.
        a = project(v)
        Ga = G @ a
        excess = jnp.maximum(2.0 * jnp.vdot(a, v) - jnp.vdot(a, Ga), 0.0)
        v_p = jnp.where(mask, 0.0, v - Ga)
        return _squared_gap(penalty, w, jnp.maximum(rr - excess, 0.0), v_p, excess), v

    def exact(w, q, _):
        q = G @ w
        return q, gap(w, q)[0], stats.y_mean - jnp.vdot(stats.x_mean, w)

    return sweep, gap, exact, G @ coef0


def _gram_sweep(penalty, G, c, steps, w, q, order, size):
    r"""One cyclic pass over ``order[:size]`` in the Gram form, keeping :math:`q = G w`.

    The coordinate update is that of :func:`_sweep`, with two changes that
    matter on CPU, where each pass over ``q`` costs as much as reading a row
    of ``G``:

    - no branch on "the coordinate did not move": a :func:`jax.lax.cond`
      made XLA copy ``q`` at every coordinate (the branch's operand aliases
      the loop carry), and most swept coordinates move anyway (the working
      set holds the non-zero ones);
    - the gradient :math:`q_j - c_j` of the next coordinate is read right
      after the rank-one update :math:`q \mathrel{+}= \delta_j G_{j,:}`
      and carried as a scalar, so that nothing else reads ``q`` and the
      update is done in place (otherwise XLA copied ``q`` before it).

    Measured on BENCHMARKS.md (b) (p = 1000): 0.64 -> 0.50 us per coordinate
    for the second change; the first took the path's sweeps from 326 to 250 ms.
    """
    p = w.shape[0]

    def gradient(q, i):
        j = order[jnp.minimum(i, p - 1)]
        return q[j] - c[j]

    def body(i, carry):
        new, q, g = carry                       # g = q_j - c_j for j = order[i]
        j = order[i]
        w_j = _coordinate_step(penalty, j, w[j], g, steps[j])
        q = q + (w_j - w[j]) * G[j]
        return new.at[i].set(w_j), q, gradient(q, i + 1)

    new, q, _ = lax.fori_loop(0, size, body, (jnp.zeros_like(w), q, gradient(q, 0)))
    index = jnp.where(jnp.arange(p) < size, order, p)      # p: out of range, dropped
    return w.at[index].set(new, mode="drop"), q


def _gram_projector(G, mask):
    """v -> a with a_U = G_UU^{-1} v_U, a = 0 elsewhere (U = unpenalized).

    One Cholesky factor of the masked Gram matrix
    (:func:`~jaxreg.solvers._common.masked_cholesky`).
    """
    factor = masked_cholesky(G, mask)

    def project(v):
        return jax.scipy.linalg.cho_solve((factor, True), jnp.where(mask, v, 0.0))

    return project


def _residual_form(problem, loss, penalty, mask, certificate, coef0, init, *, weighted):
    """Update, cheap gap (and v), exact gap and start of the residual form (carry r).

    ``certificate`` is None when the dual point is projected here, in sample
    space (unpenalized features and n < p); otherwise the exact gap is
    :func:`~jaxreg.solvers._common.duality_gap` itself.
    """
    X, Xt, y, s = problem.X, problem.Xt, problem.y, problem.s
    n = X.shape[0]
    centre = problem.fit_intercept
    x_mean, y_mean = _means(problem)
    yc = y - y_mean

    # H_jj = x~_j' S x~_j / n, once per fit (one pass over X^T).
    steps = _steps(jnp.sum(s[None, :] * ((Xt - x_mean[:, None]) ** 2 if centre else Xt**2),
                           axis=1) / n, x_mean)

    def update(j, old, r):
        # With an intercept r stays S-centred (sum_i s_i r_i = 0: it starts so
        # and moves along centred columns), so x~_j' S r = x_j' S r and the
        # centred column x~_j = x_j - xbar_j is never formed. Each operation
        # in this loop is a separate kernel on CPU (~0.3-0.8 us each at
        # n = 200, more than its arithmetic): no sum(S r) per coordinate, and
        # no branch on delta == 0. The gap is always certified on an r
        # recomputed from w, so round-off in sum(S r) can slow, not falsify.
        x_j = Xt[j]
        correlation = jnp.vdot(x_j, s * r if weighted else r)
        w_j = _coordinate_step(penalty, j, old, -correlation / n, steps[j])
        delta = w_j - old
        return w_j, r - delta * x_j + (delta * x_mean[j] if centre else 0.0)

    def intercept(w):
        return y_mean - jnp.vdot(x_mean, w)

    def correlations(sr):
        """X~^T sr / n, from the contiguous X^T (centring applied afterwards)."""
        return (Xt @ sr - x_mean * jnp.sum(sr)) / n

    project = None if mask is None or certificate is not None else _sample_projector(
        problem, x_mean, mask)

    def own_gap(w, r):
        """(gap, v): v = X~^T S r' / n at the (projected) dual residual r'."""
        sr = s * r
        rr = jnp.vdot(sr, r) / n
        if project is None:
            v = correlations(sr)
            return _squared_gap(penalty, w, rr, v), v
        # Dual point: r projected onto {X~_U^T S r = 0} (as _common.dual_point).
        rp = project(r)
        srp = s * rp
        v = jnp.where(mask, 0.0, correlations(srp))
        excess = jnp.vdot(s * (r - rp), r + rp) / n
        return _squared_gap(penalty, w, jnp.vdot(srp, rp) / n, v, excess), v

    def cheap_gap(w, r):
        if mask is not None and project is None:
            # Unpenalized features with n >= p: the generic, projected
            # certificate (its projector is (p+1) x (p+1)) at every check.
            gap = _common.duality_gap(problem, loss, penalty, certificate, w, intercept(w))
            return gap, correlations(s * r)
        return own_gap(w, r)

    def exact(w, r, gap):
        z = X @ w
        b = _common.best_intercept(problem, loss, z) if centre else jnp.zeros((), z.dtype)
        # y - Xw - b: the centred residual y~ - X~w, computed afresh.
        r = y - z - b
        if project is not None or mask is None:
            return r, own_gap(w, r)[0], b
        return r, _common.duality_gap(problem, loss, penalty, certificate, w, b), b

    aux0 = yc if init is None else y - X @ coef0 - intercept(coef0)
    def working_gap(w, r, order, size):
        """Gap of the subproblem on ``order[:size]`` (``w`` is zero elsewhere):
        correlations with the set's columns only, O(n size)."""
        sr = s * r if weighted else r
        total = jnp.sum(sr) if centre else 0.0

        def correlate(i, v):
            j = order[i]
            return v.at[j].set(jnp.vdot(Xt[j], sr) - (x_mean[j] * total if centre else 0.0))

        v = lax.fori_loop(0, size, correlate, jnp.zeros_like(w)) / n
        return _squared_gap(penalty, w, jnp.vdot(sr, r) / n, v)

    return partial(_sweep, update), cheap_gap, exact, aux0, working_gap


def _sample_projector(problem, x_mean, mask):
    r"""r -> r - X~_U a, the S-weighted projection onto :math:`\{\tilde X_U^\top S r = 0\}`.

    For n < p: from one eigendecomposition of the n x n matrix
    :math:`K = S^{1/2} \tilde X_U \tilde X_U^\top S^{1/2}` (rank by NumPy's
    ``matrix_rank`` rule), :math:`S^{1/2} r' = (I - \Pi_K) S^{1/2} r`. Columns of
    :math:`\tilde X` are centred, so :math:`\sum_i s_i r_i = 0` is kept.
    """
    X, s = problem.X, problem.s
    n = X.shape[0]
    Z = jnp.where(mask[None, :], X - x_mean[None, :], 0.0)
    root = jnp.sqrt(s)
    K = root[:, None] * (Z @ Z.T) * root[None, :]
    values, vectors = jnp.linalg.eigh(K)
    keep = values > n * jnp.finfo(K.dtype).eps * jnp.max(jnp.abs(values))
    safe_root = jnp.where(s > 0, root, 1.0)

    def project(r):
        d = vectors @ jnp.where(keep, vectors.T @ (root * r), 0.0)
        return r - jnp.where(s > 0, d / safe_root, 0.0)

    return project


def _spd_solve(M, b):
    """``M^{-1} b`` for a small symmetric positive definite ``M`` (Anderson's
    ``K x K`` system), by :func:`jax.lax.linalg.cholesky` and
    :func:`jax.scipy.linalg.cho_solve` (LAPACK calls on CPU).

    Measured on BENCHMARKS.md: the Cholesky unrolled in Python (~100 scalar
    operations) took ~0.15 s more XLA compilation per path on (a) and (c),
    for ~4 us less per solve (0.5 ms over the 140 extrapolations of the (a)
    path); ``jnp.linalg.solve`` (LU with its differentiation rules) cost
    0.27 s more tracing and lowering. A matrix that is not numerically
    definite gives NaN, and the candidate is dropped.
    """
    return jax.scipy.linalg.cho_solve((lax.linalg.cholesky(M), True), b)
