r"""Regularization paths: a whole grid of ``alpha`` in one compiled call.

For a loss :math:`\ell` and a penalty family :math:`P_\alpha` (``L1``,
``L2``, ``ElasticNetPenalty``, ``WeightedL1``, ``GroupLassoPenalty``), the
path is the map

.. math::
    \alpha \mapsto (w(\alpha), b(\alpha)) = \operatorname*{argmin}_{w, b}
    \frac1n \sum_i s_i\,\ell(y_i, x_i^\top w + b) + P_\alpha(w)

on a decreasing geometric grid :math:`\alpha_{\max} = \alpha_1 > \dots >
\alpha_m = \varepsilon\,\alpha_{\max}`, where :math:`\alpha_{\max}` is the
smallest :math:`\alpha` with :math:`w = 0` optimal. Every point of the path
carries its own duality gap.

Strategies (``DESIGN.md``, "Measured facts"):

``"warm"``
    :func:`jax.lax.scan` along the grid, each solve started from the previous
    solution (glmnet's pathwise strategy). On CPU this is what wins: the
    solution moves little between neighbouring ``alpha``. Coordinate descent
    starts from a secant prediction of the solution from the two previous
    points (exact while the support and signs do not change).
``"batched"``
    :func:`jax.vmap` over the grid: matrix-vector products become
    matrix-matrix products (accelerators); a vmapped ``while_loop`` runs until
    its slowest member has converged.
``"chunked"``
    the grid cut into chunks of ``chunk_size``; chunks are vmapped and each is
    warm-started from the last solution of the previous one.
``"auto"``
    "warm" on CPU, "chunked" with chunks of 10 on accelerators. Ridge
    (``SquaredLoss`` with ``L2``) always uses one decomposition for the grid.

For the squared loss the coordinate-descent solver runs on the Gram matrix
:math:`X^\top S X / n` whenever ``n_samples >= n_features``: it is formed once
for the whole grid (in NumPy's BLAS when the data are concrete NumPy arrays,
as scikit-learn does; XLA's float64 product is ~2x slower on CPU).
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _solve
from jaxreg import hypergrad as _hypergrad
from jaxreg import _validation
from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg import sharding as _sharding
from jaxreg import sparse as _sparse
from jaxreg.solvers import _common
from jaxreg.solvers import cd as _cd
from jaxreg.solvers import sparse_cd as _sparse_cd
from jaxreg.solvers.ridge import ridge_path as _ridge_path

__all__ = ["Path", "alpha_max", "alpha_grid", "penalty_at", "path", "lasso_path", "enet_path"]

_STRATEGIES = ("auto", "warm", "batched", "chunked")

# Gram form of coordinate descent on a path when n >= p, up to this many
# features (a p x p float64 matrix of 3000^2 is 72 MB).
_PATH_GRAM_MAX_FEATURES = 3000
# ... and Anderson extrapolation in the Gram form up to this many features.
_PATH_ANDERSON_MAX_GRAM_FEATURES = 64


class Path(NamedTuple):
    """Solutions along a grid of ``alpha`` (batch axis first).

    Attributes
    ----------
    alphas : array of shape (n_alphas,)
    coefs : array of shape (n_alphas, n_features) or (n_alphas, n_features, k)
    intercepts : array of shape (n_alphas,) or (n_alphas, k)
    dual_gaps : array of shape (n_alphas,)
        Duality gap at each returned point (absolute, not relative).
    n_iter : array of shape (n_alphas,)
        Iterations (epochs for coordinate descent; 1 for ridge) of each point.
    converged : array of shape (n_alphas,), bool
        ``dual_gaps <= tol * P_null``.
    """

    alphas: jax.Array
    coefs: jax.Array
    intercepts: jax.Array
    dual_gaps: jax.Array
    n_iter: jax.Array
    converged: jax.Array


# --------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------


def penalty_at(penalty, alpha):
    """``penalty`` with its strength set to ``alpha``.

    ``L1``, ``L2``, ``ElasticNetPenalty`` and ``GroupLassoPenalty`` get
    ``alpha`` as their ``alpha``; ``WeightedL1`` has its weights multiplied by
    ``alpha`` (the weights give the relative strengths, as glmnet's
    ``penalty.factor``).
    """
    if isinstance(penalty, _penalties.WeightedL1):
        weights = jnp.asarray(penalty.weights)
        return dataclasses.replace(penalty, weights=weights * jnp.asarray(alpha, weights.dtype))
    if hasattr(penalty, "alpha"):
        return dataclasses.replace(penalty, alpha=alpha)
    raise ValueError(f"{type(penalty).__name__} has no strength to put on a path; "
                     "use L1, L2, ElasticNetPenalty, WeightedL1 or GroupLassoPenalty.")


def _dual_norm(penalty, v):
    r"""The smallest :math:`\alpha` with ``v`` in the dual ball of ``penalty_at(penalty, alpha)``."""
    if isinstance(penalty, _penalties.GroupLassoPenalty):
        ids = jnp.asarray(penalty.groups)
        n_groups = max(penalty.groups) + 1
        v2 = jnp.sum(v.reshape(v.shape[0], -1) ** 2, axis=1)
        norms = jnp.sqrt(jax.ops.segment_sum(v2, ids, n_groups))
        sizes = jnp.asarray(np.bincount(np.asarray(penalty.groups), minlength=n_groups), v.dtype)
        return jnp.max(norms / jnp.sqrt(sizes))
    bound = jnp.maximum(v, 0.0) if getattr(penalty, "positive", False) else jnp.abs(v)
    if isinstance(penalty, _penalties.WeightedL1):
        weights = jnp.asarray(penalty.weights, v.dtype)
        weights = weights.reshape(weights.shape + (1,) * (v.ndim - 1))
        return jnp.max(bound / weights)
    norm = jnp.max(bound)
    if isinstance(penalty, _penalties.ElasticNetPenalty):
        return norm / penalty.l1_ratio
    return norm


def _alpha_max(problem, loss, penalty):
    out = _common.output_shape(problem, loss)
    n = problem.X.shape[0]
    z = _common.predict(problem.X, jnp.zeros((problem.X.shape[1],) + out, problem.X.dtype),
                        _common.null_intercept(problem, loss))
    # A (sub)gradient of the loss at the null model; jax.grad picks one at kinks.
    u = jax.grad(lambda z: jnp.sum(loss.value(problem.y, z)))(z)
    s = problem.s
    u = jnp.where(_common._expand(s, u) > 0, u, 0.0)
    if problem.fit_intercept and getattr(loss, "smooth", False):
        # sum_i s_i u_i = 0 at the best intercept; remove its round-off.
        su = _common._expand(s, u) * u
        u = u - jnp.sum(su, axis=0, keepdims=True) / jnp.sum(s)
    elif problem.fit_intercept:
        # Non-smooth (absolute, quantile): u must stay a subgradient at the null
        # model, so only the residuals tied at the quantile (r = 0) may move;
        # they take the common value that restores sum_i s_i u_i = 0.
        tie = jnp.abs(problem.y - z) <= 16 * jnp.finfo(z.dtype).eps * jnp.max(jnp.abs(problem.y))
        tie_weight = jnp.sum(jnp.where(tie, s, 0.0))
        rest = jnp.sum(jnp.where(tie, 0.0, s * u))
        lo, hi = loss.dual_bounds(problem.y)
        share = jnp.clip(-rest / jnp.maximum(tie_weight, jnp.finfo(z.dtype).tiny), lo, hi)
        u = jnp.where(tie, share, u)
    # The sign of jaxreg.solvers._common.dual_point: v = -X^T (s u) / n.
    v = -(problem.Xt @ (_common._expand(s, u) * u)) / n
    return _dual_norm(penalty, v)


def _check_family(penalty):
    if penalty is None or isinstance(penalty, _penalties.NoPenalty):
        raise ValueError("A path needs a penalty family: L1, L2, ElasticNetPenalty, "
                         "WeightedL1 or GroupLassoPenalty (its alpha is ignored).")
    if isinstance(penalty, _penalties.ElasticNetPenalty) and _validation.is_concrete(
            penalty.l1_ratio) and float(penalty.l1_ratio) <= 0:
        raise ValueError("alpha_max does not exist for l1_ratio = 0 (ridge); give alphas "
                         "explicitly or use L2.")
    if isinstance(penalty, _penalties.WeightedL1) and _validation.is_concrete(
            penalty.weights) and np.any(np.asarray(penalty.weights) == 0):
        raise ValueError("alpha_max with unpenalized features (zero weights) is not "
                         "implemented: give alphas explicitly.")


def alpha_max(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None):
    r"""The smallest ``alpha`` at which :math:`w = 0` is optimal.

    .. math::
        \alpha_{\max} = \big\| X^\top (s \odot u) / n \big\|_*,

    where :math:`u = \partial\ell/\partial z` at the null model (best
    intercept, :math:`w = 0`), centred (or shifted and clipped into the
    conjugate's domain) so that :math:`\sum_i s_i u_i = 0`, and
    :math:`\|\cdot\|_*` is the dual norm of the penalty at unit strength:
    :math:`\|\cdot\|_\infty` for ``L1`` (its positive part with
    ``positive=True``), divided by ``l1_ratio`` for ``ElasticNetPenalty``,
    :math:`\max_j |v_j| / \lambda_j` for ``WeightedL1``,
    :math:`\max_g \|v_g\|_2 / \sqrt{|g|}` for ``GroupLassoPenalty``.
    For the squared loss this is scikit-learn's
    :math:`\max_j |x_j^\top (y - \bar y)| / n` (divided by ``l1_ratio``).

    Exact for smooth losses. For the absolute and quantile losses :math:`u`
    is the subgradient at the null model whose entries at the residuals tied
    at its quantile share the value that makes :math:`\sum_i s_i u_i = 0`:
    an upper bound (``w = 0`` is optimal from it on), exact when one residual
    ties.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,) or (n_samples, n_outputs)
    loss : a loss of :mod:`jaxreg.losses`
    penalty : L1, ElasticNetPenalty, WeightedL1 or GroupLassoPenalty
        The family; its own ``alpha`` is ignored.
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,) or None

    Returns
    -------
    array of shape ()

    Examples
    --------
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    >>> y = jnp.array([1.0, 0.0, 2.0, -1.0])
    >>> float(alpha_max(X, y, _losses.SquaredLoss(), _penalties.L1(1.0)))
    0.5
    """
    _check_family(penalty)
    if isinstance(penalty, _penalties.L2):
        raise ValueError("w = 0 is optimal for L2 only as alpha -> inf: give alphas explicitly.")
    loss = _solve._resolve_loss(loss, y)
    return _alpha_max_jit(X, y, loss, penalty, sample_weight, fit_intercept=bool(fit_intercept))


@partial(jax.jit, static_argnames=("fit_intercept",))
def _alpha_max_jit(X, y, loss, penalty, sample_weight, *, fit_intercept):
    return _alpha_max(_common.make_problem(X, y, sample_weight, fit_intercept), loss, penalty)


def _default_eps(eps, rule, n_samples, n_features):
    if eps is not None:
        return float(eps)
    if rule == "sklearn":
        return 1e-3
    if rule == "glmnet":
        return 1e-2 if n_features > n_samples else 1e-4
    raise ValueError(f"rule must be 'sklearn' or 'glmnet'; got {rule!r}.")


def alpha_grid(X, y, loss, penalty, *, n_alphas=100, eps=None, rule="sklearn",
               fit_intercept=True, sample_weight=None):
    r"""A decreasing geometric grid from :func:`alpha_max` to ``eps * alpha_max``.

    .. math:: \alpha_k = \alpha_{\max}\,\varepsilon^{(k-1)/(m-1)}, \quad k = 1..m .

    Parameters
    ----------
    n_alphas : int, default=100
    eps : float or None
        ``None``: scikit-learn's 1e-3 (``rule="sklearn"``), or glmnet's
        ``lambda.min.ratio`` (``rule="glmnet"``): 1e-2 when
        ``n_features > n_samples``, 1e-4 otherwise.
    rule : {"sklearn", "glmnet"}, default="sklearn"

    Other parameters are those of :func:`alpha_max`.

    Returns
    -------
    array of shape (n_alphas,)

    Examples
    --------
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    >>> y = jnp.array([1.0, 0.0, 2.0, -1.0])
    >>> alpha_grid(X, y, _losses.SquaredLoss(), _penalties.L1(1.0), n_alphas=3, eps=0.01)
    Array([0.5  , 0.05 , 0.005], dtype=float64)
    """
    eps = _grid_eps(n_alphas, eps, rule, np.shape(X))
    top = alpha_max(X, y, loss, penalty, fit_intercept=fit_intercept,
                    sample_weight=sample_weight)
    return _geometric(top, n_alphas, eps)


def _grid_eps(n_alphas, eps, rule, shape):
    """The checked ``eps`` of a grid of ``n_alphas`` points for data of ``shape``."""
    if not isinstance(n_alphas, (int, np.integer)) or n_alphas < 1:
        raise ValueError(f"n_alphas must be a positive integer; got {n_alphas!r}.")
    eps = _default_eps(eps, rule, *shape)
    if not 0 < eps <= 1:
        raise ValueError(f"eps must be in (0, 1]; got {eps!r}.")
    return eps


def _geometric(top, n_alphas, eps):
    top = jnp.asarray(top)
    if n_alphas == 1:
        return top[None]
    return top * jnp.asarray(eps, top.dtype) ** jnp.linspace(0.0, 1.0, n_alphas, dtype=top.dtype)


# --------------------------------------------------------------------------
# Solving along the grid
# --------------------------------------------------------------------------


def _choose_strategy(strategy):
    if strategy != "auto":
        return strategy
    return "warm" if jax.default_backend() == "cpu" else "chunked"


def _numpy_gram(X, y, sample_weight, fit_intercept):
    """:class:`~jaxreg.solvers.cd.GramStatistics` formed with NumPy's BLAS (concrete data).

    Non-finite data give non-finite statistics, silently: :func:`_check_finite`
    reports them.
    """
    with np.errstate(all="ignore"):
        return _numpy_statistics(np.asarray(X), y, sample_weight, fit_intercept)


def _numpy_statistics(X, y, sample_weight, fit_intercept):
    y = np.asarray(y, X.dtype)
    n = X.shape[0]
    s = np.ones(n, X.dtype) if sample_weight is None else np.asarray(sample_weight, X.dtype)
    s = s * (n / s.sum())
    if fit_intercept:
        x_mean, y_mean = s @ X / n, s @ y / n
        Xc, yc = X - x_mean, y - y_mean
    else:
        x_mean, y_mean = np.zeros(X.shape[1], X.dtype), np.zeros((), X.dtype)
        Xc, yc = X, y
    # (S^1/2 X)^T (S^1/2 X) with np.dot: NumPy runs BLAS's symmetric rank-k
    # kernel when both operands are the same array; on a C-ordered X the
    # matmul operator took 1.3-1.6x as long as np.dot (medians on BENCHMARKS.md
    # (b) and (d)).
    Xr = Xc * np.sqrt(s)[:, None] if sample_weight is not None else Xc
    return _cd.GramStatistics(np.dot(Xr.T, Xr) / n, np.dot(Xc.T, s * yc) / n,
                              np.dot(yc, s * yc) / n, x_mean, y_mean)


def _solver_call(solver, X, y, loss, sample_weight, fit_intercept, tol, options, gram):
    function = _solve._solver_function(solver)
    options = tuple(options)

    def solve_one(penalty, init):
        # The solver's own result, differentiable by the implicit rule of
        # jaxreg.hypergrad (in the Gram statistics when they are given); the
        # warm start gets no derivative (the minimiser does not depend on it).
        return _hypergrad.implicit_solve(function, X, y, loss, penalty, sample_weight, init,
                                         tol, gram, fit_intercept=fit_intercept, options=options)

    return solve_one


def _warm(solve_one, penalty, alphas, start, extrapolate=False):
    """One :func:`jax.lax.scan` over the whole grid, each solve started from
    the previous solution and the first from ``start`` (the solver's own
    default start): the solver appears once in the program, which halves
    its compilation against solving the first ``alpha`` apart.

    With ``extrapolate``, from the third ``alpha`` on the start is the
    secant prediction of :func:`_predict` instead of the previous solution.
    """
    def step(carry, alpha):
        previous, before, alpha_previous, alpha_before, k = carry
        init = previous
        if extrapolate:
            init = previous._replace(coef=_predict(previous.coef, before.coef, alpha,
                                                   alpha_previous, alpha_before, k >= 2))
        solution = solve_one(penalty_at(penalty, alpha), init)
        return (solution, previous, alpha, alpha_previous, k + 1), solution

    zero = jnp.zeros((), alphas.dtype)
    carry = (start, start, zero, zero, jnp.zeros((), jnp.int32))
    return jax.lax.scan(step, carry, alphas)[1]


def _predict(w1, w0, alpha, alpha1, alpha0, ready):
    r"""Secant prediction of :math:`w(\alpha)` from the solutions ``w1`` at
    ``alpha1`` and ``w0`` at ``alpha0`` (the two previous points of the grid).

    .. math::
        \hat w = w_1 + \frac{\alpha - \alpha_1}{\alpha_1 - \alpha_0}\,(w_1 - w_0),

    kept only on the support of ``w1`` and where it keeps the sign of
    ``w1`` (a coordinate predicted to cross zero starts at zero). Between
    two changes of the support and signs, the lasso and elastic-net paths
    are affine in :math:`\alpha` (:math:`w_A = (G_{AA} + \alpha(1-\rho) I)^{-1}
    (c_A - \alpha\rho\, s_A)` is affine for the lasso, smooth for the
    elastic net), so the prediction is exact or close and coordinate descent
    has only the support changes left to do: measured on BENCHMARKS.md
    (a), (b), (d), the path's epochs fell from 1520, 479 and 225 to 690, 350
    and 143. Before the third point (``ready`` false) it is ``w1``.
    """
    step = alpha1 - alpha0
    ratio = jnp.where(ready & (step != 0), (alpha - alpha1) / jnp.where(step != 0, step, 1.0), 0.0)
    guess = w1 + ratio * (w1 - w0)
    return jnp.where((w1 != 0) & (jnp.sign(guess) == jnp.sign(w1)), guess, 0.0).astype(w1.dtype)


def _default_start(solve_one, penalty, alphas, X, y, loss, sample_weight, fit_intercept,
                   solver, n_features):
    """A :class:`~jaxreg.solvers.Solution` holding the solvers' start for ``init=None``:
    zero coefficients and the best intercept of the null model.

    Its structure is read off the solver (:func:`jax.eval_shape`, no
    computation): the absolute/quantile solvers' solutions also carry their
    dual point, which the scan's carry must hold too. Coordinate descent
    states its own (:func:`~jaxreg.solvers.cd.solution_shapes`): tracing it
    once more for its shapes was ~0.2 s of every first call (BENCHMARKS.md (b)).
    """
    if solver == "cd":
        shapes = _cd.solution_shapes(n_features, alphas.dtype)
    else:
        shapes = jax.eval_shape(lambda: solve_one(penalty_at(penalty, alphas[0]), None))
    start = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    if X is None:       # Gram form: coordinate descent reads only `coef` from init
        return start
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    coef, intercept = _common.initial_point(problem, loss, None, shapes.intercept.shape)
    return start._replace(coef=coef.astype(shapes.coef.dtype),
                          intercept=intercept.astype(shapes.intercept.dtype))


def _batched(solve_one, penalty, alphas):
    return jax.vmap(lambda a: solve_one(penalty_at(penalty, a), None))(alphas)


def _chunked(solve_one, penalty, alphas, chunk_size):
    m = alphas.shape[0]
    n_chunks = -(-m // chunk_size)
    padded = jnp.concatenate([alphas, jnp.repeat(alphas[-1:], n_chunks * chunk_size - m)])
    chunks = padded.reshape(n_chunks, chunk_size)
    first = jax.vmap(lambda a: solve_one(penalty_at(penalty, a), None))(chunks[0])

    def step(previous, chunk):
        start = jax.tree_util.tree_map(lambda a: a[-1], previous)
        solutions = jax.vmap(lambda a: solve_one(penalty_at(penalty, a), start))(chunk)
        return solutions, solutions

    _, rest = jax.lax.scan(step, first, chunks[1:])
    joined = jax.tree_util.tree_map(
        lambda a, b: jnp.concatenate([a, b.reshape((-1,) + b.shape[2:])])[:m], first, rest)
    return joined


def _ridge_grid(X, y, alphas, sample_weight, fit_intercept, tol, loss):
    result = _ridge_path(X, y, alphas, fit_intercept=fit_intercept,
                               sample_weight=sample_weight)
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    limit = tol * _common.null_objective(problem, loss)
    return _common.Solution(result.coefs, result.intercepts,
                            jnp.ones(alphas.shape, jnp.int32), result.dual_gaps,
                            result.dual_gaps <= limit)


@partial(jax.jit, static_argnames=("solver", "strategy", "fit_intercept", "chunk_size", "options"))
def _path_jit(X, y, loss, penalty, alphas, sample_weight, tol, gram, *, solver, strategy,
              fit_intercept, chunk_size, options):
    return path_core(X, y, loss, penalty, alphas, sample_weight=sample_weight, tol=tol,
                     gram=gram, solver=solver, strategy=strategy, fit_intercept=fit_intercept,
                     chunk_size=chunk_size, options=options)


def _sharded_path(mesh, shard, X, y, loss, penalty, alphas, sample_weight, tol, gram, **static):
    """:func:`_path_jit` across the devices of ``mesh`` (:mod:`jaxreg.sharding`)."""
    given, mesh = mesh, _sharding.auto_mesh(mesh)
    with jax.set_mesh(mesh):     # in place of an ambient mesh with explicit axes
        if shard == "rows":
            X, y, sample_weight = _sharding.shard_rows(mesh, X, y, sample_weight)
            length = alphas.shape[0]
            alphas = _sharding.put_replicated(np.asarray(alphas), mesh)
        else:
            padded, length = _sharding.dealt(alphas, mesh.size)
            alphas = _sharding.put_split(padded, mesh)
            X, y, sample_weight, gram = _sharding.put_replicated((X, y, sample_weight, gram),
                                                                 mesh)
        result = _sharded_path_jit(X, y, loss, penalty, alphas, sample_weight, tol, gram,
                                   mesh=mesh, shard=shard, length=length, **static)
    return _sharding.put_replicated(result, given)


@partial(jax.jit, static_argnames=("mesh", "shard", "length", "solver", "strategy",
                                   "fit_intercept", "chunk_size", "options"))
def _sharded_path_jit(X, y, loss, penalty, alphas, sample_weight, tol, gram, *, mesh, shard,
                      length, **static):
    def core(X, y, loss, penalty, alphas, sample_weight, tol, gram):
        return path_core(X, y, loss, penalty, alphas, sample_weight=sample_weight, tol=tol,
                         gram=gram, **static)

    args = (X, y, loss, penalty, alphas, sample_weight, tol, gram)
    if shard == "rows":         # XLA partitions the products and reduces X^T r
        result = core(*args)
    else:                       # a share of the grid per device (dealt round-robin)
        whole, block = jax.sharding.PartitionSpec(), _sharding.split(mesh)
        result = jax.shard_map(core, mesh=mesh, in_specs=(whole,) * 4 + (block,) + (whole,) * 3,
                               out_specs=block, check_vma=False)(*args)
        result = jax.tree_util.tree_map(
            lambda a: _sharding.undeal(a, mesh.size, length), result)
    return _sharding.replicate(result, mesh)


def path_core(X, y, loss, penalty, alphas, *, sample_weight=None, tol=1e-4, gram=None,
              solver="cd", strategy="warm", fit_intercept=True, chunk_size=10, options=()):
    """The pure path computation behind :func:`path` (no checks, no warnings).

    ``solver`` and ``strategy`` are resolved names (not "auto"); ``gram`` is an
    optional precomputed :class:`~jaxreg.solvers.cd.GramStatistics` for
    ``solver="cd"`` (then ``X`` and ``y`` may be None). Works under ``jit``, ``vmap`` (e.g. over CV folds given
    as ``sample_weight`` masks) and ``grad``.
    """
    alphas = jnp.asarray(alphas, (X if X is not None else gram.gram).dtype)
    if solver == "ridge":
        solutions = _ridge_grid(X, y, alphas, sample_weight, fit_intercept, tol, loss)
    else:
        if solver == "cd" and gram is None and dict(options).get("mode") == "gram":
            gram = _cd.gram_statistics(X, y, sample_weight=sample_weight,
                                       fit_intercept=fit_intercept)
        options = tuple((k, v) for k, v in options if k != "mode" or gram is None)
        solve_one = _solver_call(solver, X, y, loss, sample_weight, fit_intercept, tol,
                                 options, gram)
        solutions = _along_grid(
            solve_one, penalty, alphas, strategy, chunk_size, solver,
            lambda: _default_start(solve_one, penalty, alphas, X, y, loss, sample_weight,
                                   fit_intercept, solver,
                                   (X if X is not None else gram.gram).shape[1]))
    return Path(alphas, solutions.coef, solutions.intercept, solutions.dual_gap,
                solutions.n_iter, solutions.converged)


def _along_grid(solve_one, penalty, alphas, strategy, chunk_size, solver, start):
    """The solutions at every ``alpha`` by ``strategy`` (resolved); ``start()``
    gives the warm path's first start."""
    if strategy == "warm":
        # The secant start for coordinate descent (squared loss: the path is
        # piecewise affine); other solvers carry more state (dual points)
        # than the coefficients it predicts.
        return _warm(solve_one, penalty, alphas, start(), extrapolate=solver == "cd")
    if strategy == "batched":
        return _batched(solve_one, penalty, alphas)
    return _chunked(solve_one, penalty, alphas, chunk_size)


def choose_path_solver(X, y, loss, penalty):
    """The solver and options :func:`path` uses: ``(solver, options)``.

    As :func:`jaxreg.choose_solver`, except that coordinate descent on a path
    uses the Gram form whenever ``n_samples >= n_features`` (up to 3000
    features): forming :math:`X^\\top X` once pays over a whole grid; it
    then checks the gap every ``max(1, min(8, 64 // n_features))`` epochs;
    the residual form checks every 5 (its sweeps run on working sets). Both
    extrapolate the iterates every 5 sweeps (``anderson=5``), except the
    Gram form above 64 features (well-conditioned tall problems, where the
    forced sweeps cost more than they save).
    """
    solver = _solve.choose_solver(X, y, loss, penalty)
    options = {}
    if solver == "cd":
        n, p = np.shape(X)
        options["mode"] = "gram" if n >= p and p <= _PATH_GRAM_MAX_FEATURES else "residual"
        if options["mode"] == "residual" or p <= _PATH_ANDERSON_MAX_GRAM_FEATURES:
            # Anderson extrapolation every 5 sweeps: 5x fewer epochs at the
            # ill-conditioned end of a path (measured on BENCHMARKS.md (c)),
            # and on small correlated designs (diabetes) the gap reaches
            # round-off. Not in the Gram form with many features: the n >= p
            # problems met there (BENCHMARKS.md (b), (d)) are well conditioned
            # and converge in 2-5 epochs per alpha, so 5 forced sweeps per
            # alpha doubled the time of (d) (and its compile time).
            options["anderson"] = 5
        if options["mode"] == "gram":
            # A gap check costs O(p), as much as an epoch in which few
            # coordinates move: with few features, check less often.
            options["check_every"] = max(1, min(8, 64 // p))
        else:
            # A check costs O(np), a working-set sweep O(n |working set|).
            options["check_every"] = 5
    return solver, options


def path(X, y, loss, penalty, alphas=None, *, n_alphas=100, eps=None, fit_intercept=True,
         sample_weight=None, strategy="auto", solver="auto", tol=1e-4, max_iter=None,
         chunk_size=None, mesh=None, shard="auto", **solver_options):
    r"""Solve for every ``alpha`` of a grid in one compiled call.

    .. math::
        (w(\alpha_k), b(\alpha_k)) = \operatorname*{argmin}_{w, b}
        \frac1n \sum_i s_i\,\ell(y_i, x_i^\top w + b) + P_{\alpha_k}(w),
        \qquad k = 1, \dots, m .

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,) or (n_samples, n_outputs)
    loss : a loss of :mod:`jaxreg.losses`
    penalty : L1, L2, ElasticNetPenalty, WeightedL1 or GroupLassoPenalty
        The family (:func:`penalty_at`); its own strength is ignored.
    alphas : array of shape (n_alphas,), optional
        The grid, sorted decreasingly here (warm starts go from sparse to
        dense). ``None``: :func:`alpha_grid` with ``n_alphas`` and ``eps``.
    n_alphas : int, default=100
    eps : float, optional
        See :func:`alpha_grid`.
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,), optional
    strategy : {"auto", "warm", "batched", "chunked"}, default="auto"
        See the module's documentation.
    solver : str, default="auto"
        As in :func:`jaxreg.solve`; "auto" is :func:`choose_path_solver`.
    tol : float, default=1e-4
        Each point stops when its duality gap is at most ``tol * P_null``.
    max_iter : int, optional
        Per point; the solver's default when None.
    chunk_size : int, optional
        For ``strategy="chunked"`` (default 10).
    mesh : jax.sharding.Mesh, optional
        Run across its devices (:mod:`jaxreg.sharding`); default: the ambient
        mesh of :func:`jax.set_mesh` if any, else one device.
    shard : {"auto", "alphas", "rows"}, default="auto"
        What to split across the mesh's devices (:mod:`jaxreg.sharding`).
    **solver_options
        Passed on to the solver.

    Returns
    -------
    Path
        In the order of the (decreasing) grid.

    Warns
    -----
    jaxreg.ConvergenceWarning
        Outside ``jit``, when a point's gap did not reach ``tol``: the warning
        gives the worst reached gap.

    Examples
    --------
    >>> from jaxreg.datasets import load_diabetes
    >>> X, y = load_diabetes()
    >>> result = path(X, y, _losses.SquaredLoss(), _penalties.L1(1.0), n_alphas=5, tol=1e-10)
    >>> np.asarray((result.coefs != 0).sum(axis=1))
    array([ 0,  4,  7,  9, 10])
    >>> bool(result.converged.all())
    True
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; choose one of {_STRATEGIES}.")
    concrete = _validation.is_concrete(X, y, loss, penalty, sample_weight, alphas)
    if _sparse.is_sparse(X):
        _sharding.refuse_sparse(mesh, shard, "jaxreg.path")
        return _sparse_path(X, y, loss, penalty, alphas, n_alphas=n_alphas, eps=eps,
                            fit_intercept=fit_intercept, sample_weight=sample_weight,
                            strategy=strategy, solver=solver, tol=tol, max_iter=max_iter,
                            chunk_size=chunk_size, concrete=concrete, options=solver_options)
    if penalty is None or isinstance(penalty, _penalties.NoPenalty):
        _check_family(penalty)
    # float64 NumPy data: the values of X are checked on X^T X below (a
    # non-finite entry makes its diagonal non-finite) when the Gram matrix is
    # formed, instead of in a pass of their own over X.
    numpy64 = isinstance(X, np.ndarray) and X.dtype == np.float64
    _validation.check_solve_inputs(X, y, loss, penalty, sample_weight, None, max_iter, tol,
                                   finite_X=not numpy64)
    loss = _solve._resolve_loss(loss, y)
    mesh = _sharding.resolve_mesh(mesh)
    shard = _sharding.choose_shard(shard, mesh, *np.shape(X))
    if mesh is not None and not concrete:
        raise ValueError("mesh= places concrete data on devices: call jaxreg.path outside "
                         "jit/grad/vmap (inside them, shard the inputs instead).")
    X = jnp.asarray(X) if not isinstance(X, np.ndarray) else X
    if not np.issubdtype(X.dtype, np.floating):
        X = np.asarray(X, float) if isinstance(X, np.ndarray) else X.astype(jnp.result_type(float))
    if alphas is not None:
        alphas = _checked_grid(alphas)
    if solver == "auto":
        solver, options = choose_path_solver(X, y, loss, penalty)
    else:
        options = {}
    options.update(solver_options)
    if max_iter is not None:
        options["max_iter"] = max_iter
    if solver == "ridge" and not isinstance(penalty, _penalties.L2):
        raise ValueError("solver='ridge' needs SquaredLoss with L2.")
    strategy = _choose_strategy(strategy)
    gram = None
    if (solver == "cd" and options.get("mode") == "gram" and numpy64 and shard != "rows"
            and _validation.is_concrete(y, sample_weight)):
        gram = _numpy_gram(X, y, sample_weight, fit_intercept)
    if numpy64:
        _check_finite(X, gram)
    if alphas is None and gram is not None and not isinstance(penalty, _penalties.L2):
        # alpha_max from the statistics: X^T S y~ / n is c (no pass over X).
        _check_family(penalty)
        eps = _grid_eps(n_alphas, eps, "sklearn", X.shape)
        alphas = _geometric(_dual_norm(penalty, jnp.asarray(gram.xty)), n_alphas, eps)
    elif alphas is None:
        alphas = alpha_grid(X, y, loss, penalty, n_alphas=n_alphas, eps=eps,
                            fit_intercept=fit_intercept, sample_weight=sample_weight)
    dtype = X.dtype
    # With the statistics formed in NumPy, coordinate descent needs neither X
    # nor y: not passing them saves copying X into the computation (~0.1 s
    # for the 160 MB of BENCHMARKS.md (d)).
    data = (None, None) if gram is not None else (jnp.asarray(X), jnp.asarray(y))
    static = dict(solver=solver, strategy=strategy, fit_intercept=bool(fit_intercept),
                  chunk_size=int(chunk_size or 10), options=tuple(sorted(options.items())))
    if mesh is None:
        result = _path_jit(*data, loss, penalty, jnp.asarray(alphas, dtype), sample_weight, tol,
                           gram, **static)
    else:
        if shard == "rows":
            data = (X, y)       # placed by rows straight from the host
        result = _sharded_path(mesh, shard, *data, loss, penalty, np.asarray(alphas, dtype),
                               sample_weight, tol, gram, **static)
    if concrete:
        _warn_unconverged(result, tol, "jaxreg.path")
    return result


# --------------------------------------------------------------------------
# Sparse X
# --------------------------------------------------------------------------


def sparse_alpha_max(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None):
    r""":func:`alpha_max` on a :class:`~jaxreg.sparse.CSCDesign` (pure).

    For the squared loss
    :math:`\alpha_{\max} = \| \tilde X^\top S (y - \bar y_s) / n \|_*
    = \| X^\top (s \odot (y - \bar y_s)) / n \|_*` (the centring of
    :math:`X` drops out since :math:`\sum_i s_i (y_i - \bar y_s) = 0`): one
    :math:`O(\mathrm{nnz})` product, as for every smooth loss.
    """
    return _alpha_max(_common.make_problem(X, y, sample_weight, fit_intercept), loss, penalty)


def sparse_path_core(X, y, loss, penalty, alphas, *, sample_weight=None, tol=1e-4,
                     solver="cd", strategy="warm", fit_intercept=True, chunk_size=10,
                     options=()):
    r"""The pure path computation on a :class:`~jaxreg.sparse.CSCDesign` (no checks).

    ``solver`` is "cd" (:func:`~jaxreg.solvers.sparse_cd.sparse_coordinate_descent`,
    warm starts from the secant prediction) or "fista"/"ista" (sparse
    products); ``strategy`` as in :func:`path_core` (resolved). Memory per
    ``alpha`` being solved is :math:`O(\mathrm{nnz} + n + p)`. Works under
    ``jit`` and ``vmap`` (e.g. over CV folds given as ``sample_weight`` masks).
    """
    alphas = jnp.asarray(alphas, X.dtype)
    options = dict(options)
    function = _solve.sparse_solver_function(solver)

    def solve_one(penalty, init):
        return function(X, y, loss, penalty, fit_intercept=fit_intercept,
                        sample_weight=sample_weight, init=init, tol=tol, **options)

    def start():
        if solver == "cd":
            shapes = _cd.solution_shapes(X.shape[1], X.dtype)
        else:
            shapes = jax.eval_shape(lambda: solve_one(penalty_at(penalty, alphas[0]), None))
        return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    solutions = _along_grid(solve_one, penalty, alphas, strategy, chunk_size, solver, start)
    return Path(alphas, solutions.coef, solutions.intercept, solutions.dual_gap,
                solutions.n_iter, solutions.converged)


@partial(jax.jit, static_argnames=("solver", "strategy", "fit_intercept", "chunk_size",
                                   "options"))
def _sparse_path_jit(X, y, loss, penalty, alphas, sample_weight, tol, *, solver, strategy,
                     fit_intercept, chunk_size, options):
    return sparse_path_core(X, y, loss, penalty, alphas, sample_weight=sample_weight, tol=tol,
                            solver=solver, strategy=strategy, fit_intercept=fit_intercept,
                            chunk_size=chunk_size, options=options)


def sparse_path_options(solver, options, max_iter):
    """Default options of the sparse solvers on a path: coordinate descent checks
    the gap every 5 sweeps (a check costs two O(nnz) products, a working-set
    sweep O(nnz of the set)) and extrapolates every 5 (Anderson)."""
    defaults = {"check_every": _SPARSE_CHECK_EVERY, "anderson": 5} if solver == "cd" else {}
    options = {**defaults, **options}
    if max_iter is not None:
        options["max_iter"] = max_iter
    return tuple(sorted(options.items()))


# Sparse paths check the gap every few sweeps (a check costs two O(nnz)
# products, a working-set sweep O(nnz of the set)).
_SPARSE_CHECK_EVERY = 5


def _sparse_path(X, y, loss, penalty, alphas, *, n_alphas, eps, fit_intercept, sample_weight,
                 strategy, solver, tol, max_iter, chunk_size, concrete, options):
    """:func:`path` on a sparse ``X`` (checked here, never densified)."""
    if penalty is None or isinstance(penalty, _penalties.NoPenalty):
        _check_family(penalty)
    design = _validation.check_sparse_inputs(X, y, loss, penalty, sample_weight, None,
                                             max_iter, tol, owner="jaxreg.path")
    loss = _solve._resolve_loss(loss, y)
    solver = _solve.sparse_solver(loss, penalty, y, solver)
    y = jnp.asarray(y)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        y = y.astype(design.dtype)
    if alphas is not None:
        alphas = _checked_grid(alphas, zero=False)
    else:
        _check_family(penalty)
        if isinstance(penalty, _penalties.L2):
            raise ValueError("w = 0 is optimal for L2 only as alpha -> inf: give alphas "
                             "explicitly.")
        eps = _grid_eps(n_alphas, eps, "sklearn", design.shape)
        top = jax.jit(sparse_alpha_max, static_argnames="fit_intercept")(
            design, y, loss, penalty, fit_intercept=bool(fit_intercept),
            sample_weight=sample_weight)
        alphas = _geometric(top, n_alphas, eps)
    result = _sparse_path_jit(design, y, loss, penalty, jnp.asarray(alphas, design.dtype),
                              sample_weight, tol, solver=solver,
                              strategy=_choose_strategy(strategy),
                              fit_intercept=bool(fit_intercept),
                              chunk_size=int(chunk_size or 10),
                              options=sparse_path_options(solver, options, max_iter))
    if concrete:
        _warn_unconverged(result, tol, "jaxreg.path")
    return result


def _checked_grid(alphas, zero=True):
    """A given grid checked (1-D, non-negative; positive unless ``zero``) and,
    when concrete, sorted decreasingly."""
    _validation.check_array("alphas", alphas, ndim=1)
    if not _validation.is_concrete(alphas):
        return alphas
    values = np.asarray(alphas)
    if (values < 0).any():
        raise ValueError(f"alphas must be non-negative; got {values[values < 0][0]!r}.")
    if not zero and (values == 0).any():
        raise NotImplementedError(
            "alpha = 0 (an unpenalized fit) is not supported on sparse X yet.")
    return np.sort(values)[::-1].copy()


def _check_finite(X, gram):
    """The finiteness check of ``X`` (a float64 NumPy array), on ``X^T X`` when formed.

    A NaN or an infinity in column ``j`` makes :math:`G_{jj}` non-finite, so
    finite statistics prove finite data; otherwise (or without ``gram``) the
    full check runs and names the first bad entry. Finite data whose squares
    overflow get an error of their own.
    """
    if gram is not None and np.isfinite(np.diagonal(gram.gram)).all() and np.isfinite(
            gram.xty).all():
        return
    _validation.check_array("X", X, ndim=2)
    if gram is not None:
        raise ValueError("X^T X overflows float64 (entries of X up to "
                         f"{np.abs(X).max():.3g}): rescale the columns of X, e.g. with "
                         "sklearn.preprocessing.StandardScaler.")


def _warn_unconverged(result, tol, name):
    _solve.warn_unconverged_grid(result.converged, result.dual_gaps, result.alphas, tol, name,
                                 label="alpha", noun="points",
                                 advice="Increase max_iter or use a larger eps.")


# --------------------------------------------------------------------------
# scikit-learn's path functions
# --------------------------------------------------------------------------


def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, n_alphas=100, alphas=None, precompute="auto",
              Xy=None, copy_X=True, coef_init=None, verbose=False, return_n_iter=False,
              positive=False, check_input=True, **params):
    r"""scikit-learn's ``enet_path``: same signature, same objective, same return value.

    .. math::
        \frac{1}{2n}\|y - Xw\|^2 + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|_2^2

    with no intercept (centre ``X`` and ``y`` first, as scikit-learn expects).
    ``tol`` (in ``params``, default 1e-4) is scikit-learn's: stop when the gap is
    at most ``tol * ||y||^2 / n``. ``precompute``, ``Xy``, ``copy_X``,
    ``verbose`` and ``check_input`` are accepted for compatibility; the Gram
    matrix is used whenever ``n_samples >= n_features``. jaxreg's own
    ``strategy``, ``check_every``, ``mesh`` and ``shard`` may be passed too
    (:func:`path`). ``coef_init`` is not supported (the path starts from zero
    at the largest ``alpha``).

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
    coefs : ndarray of shape (n_features, n_alphas) or (n_outputs, n_features, n_alphas)
    dual_gaps : ndarray of shape (n_alphas,)
    n_iters : ndarray of shape (n_alphas,), only with ``return_n_iter=True``
    """
    tol = params.pop("tol", 1e-4)
    max_iter = params.pop("max_iter", 1000)
    params.pop("random_state", None)
    params.pop("selection", None)
    extra = {key: params.pop(key) for key in ("strategy", "check_every", "mesh", "shard")
             if key in params}
    if params:
        raise TypeError(f"Unexpected parameters {sorted(params)}.")
    if coef_init is not None:
        raise ValueError("coef_init is not supported by jaxreg.enet_path.")
    penalty = (_penalties.L1(1.0, positive=positive) if l1_ratio == 1.0 else
               _penalties.ElasticNetPenalty(1.0, l1_ratio, positive=positive))
    if not _sparse.is_sparse(X):
        X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    # scikit-learn stops at gap <= tol ||y||^2 / n = 2 tol P_null (no intercept).
    result = path(X, y, _losses.SquaredLoss(), penalty, alphas, n_alphas=n_alphas, eps=eps,
                  fit_intercept=False, tol=2.0 * tol, max_iter=max_iter, **extra)
    coefs = np.moveaxis(np.asarray(result.coefs), 0, -1)
    if coefs.ndim == 3:
        coefs = np.moveaxis(coefs, 1, 0)
    out = (np.asarray(result.alphas), coefs, np.asarray(result.dual_gaps))
    return out + (np.asarray(result.n_iter),) if return_n_iter else out


def lasso_path(X, y, *, eps=1e-3, n_alphas=100, alphas=None, precompute="auto", Xy=None,
               copy_X=True, coef_init=None, verbose=False, return_n_iter=False, positive=False,
               **params):
    r"""scikit-learn's ``lasso_path``: :func:`enet_path` with ``l1_ratio=1``.

    .. math:: \frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1

    Examples
    --------
    >>> from jaxreg.datasets import load_diabetes
    >>> X, y = load_diabetes()
    >>> X, y = X - X.mean(0), y - y.mean()
    >>> alphas, coefs, gaps = lasso_path(X, y, n_alphas=4, tol=1e-8)
    >>> coefs.shape, bool((gaps <= 1e-8 * (y @ y) / len(y)).all())
    ((10, 4), True)
    """
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas,
                     precompute=precompute, Xy=Xy, copy_X=copy_X, coef_init=coef_init,
                     verbose=verbose, return_n_iter=return_n_iter, positive=positive, **params)
