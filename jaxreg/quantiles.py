r"""The quantile process: quantile regression at many quantiles in one compiled call.

For quantiles :math:`\tau_1, \dots, \tau_m` in (0, 1) the process is the map

.. math::
    \tau \mapsto (w(\tau), b(\tau)) = \operatorname*{argmin}_{w, b}
    \frac1n \sum_i s_i\,\rho_\tau(y_i - x_i^\top w - b) + P(w),
    \qquad \rho_\tau(r) = \max(\tau r, (\tau - 1) r),

solved by the interior point of :mod:`jaxreg.solvers.interior_point` (no
penalty, ``L1``, ``WeightedL1``, ``L2`` or ``ElasticNetPenalty``). Every point
carries its own duality gap.

Strategies (``DESIGN.md``, "Measured facts"):

``"warm"``
    one :func:`jax.lax.scan` over the quantiles, sorted, from the one nearest
    the median outwards in both directions: the first point starts cold, each
    other one from its neighbour's coefficients (the interior point's warm
    start: the best intercept for them, every row put on the central path).
    On CPU this is what wins: a vmapped ``while_loop`` runs every quantile
    for as many steps as the slowest.
``"batched"``
    :func:`jax.vmap` over the quantiles, each from the cold start: the
    products of every step become batched matrix products (accelerators).
``"auto"``
    "warm" on CPU, "batched" elsewhere.
"""

from __future__ import annotations

import functools
import importlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _solve
from jaxreg import _validation
from jaxreg import hypergrad as _hypergrad
from jaxreg import losses as _losses
from jaxreg import penalties as _penalties

__all__ = ["QuantileProcess", "quantile_process", "quantile_process_core"]

_STRATEGIES = ("auto", "warm", "batched")

# The module, not the function of the same name that jaxreg.solvers exports.
_ip = importlib.import_module("jaxreg.solvers.interior_point")


class QuantileProcess(NamedTuple):
    """Solutions at a set of quantiles (batch axis first, in the order given).

    Attributes
    ----------
    quantiles : array of shape (n_quantiles,)
    coefs : array of shape (n_quantiles, n_features)
    intercepts : array of shape (n_quantiles,)
    dual_gaps : array of shape (n_quantiles,)
        Duality gap at each returned point (absolute, not relative): a bound
        on its suboptimality.
    n_iter : array of shape (n_quantiles,)
        Newton (predictor–corrector) steps of each point.
    converged : array of shape (n_quantiles,), bool
        ``dual_gaps <= tol * P_null`` (:math:`P_{\\text{null}}` at that quantile).
    """

    quantiles: jax.Array
    coefs: jax.Array
    intercepts: jax.Array
    dual_gaps: jax.Array
    n_iter: jax.Array
    converged: jax.Array


class _WarmInit(NamedTuple):
    """What the scan hands the solver: a start and whether to use it."""

    coef: jax.Array   # (p,)
    warm: jax.Array   # () bool: warm start from coef (else the cold start)


def _warm_solver(X, y, loss, penalty, *, init, **options):
    return _ip._interior_point(X, y, loss, penalty, init=init.coef, warm=init.warm, **options)


def _scan_order(quantiles):
    """Indices into ``quantiles`` in the order of the warm scan, and for each
    step whether it restarts from the first point (the one nearest 0.5): the
    quantiles above it in increasing order, then those below in decreasing
    order."""
    order = np.argsort(quantiles, kind="stable")
    sorted_q = quantiles[order]
    mid = int(np.argmin(np.abs(sorted_q - 0.5)))
    sequence = np.concatenate([order[mid:], order[:mid][::-1]]).astype(np.int32)
    from_first = np.zeros(len(sequence), bool)
    if 0 < mid < len(sequence):
        from_first[len(sequence) - mid] = True
    return sequence, from_first


def quantile_process_core(X, y, quantiles, penalty=None, *, sample_weight=None, tol=1e-4,
                          max_iter=100, fit_intercept=True, strategy="warm", order=None):
    """The pure computation behind :func:`quantile_process` (no checks, no warnings).

    ``strategy`` is "warm" or "batched"; ``order`` is ``(sequence,
    from_first)`` of the warm scan (:func:`quantile_process` computes it from
    concrete quantiles; by default the quantiles are taken to be sorted
    increasingly and the scan starts at the middle one). ``penalty`` is
    ``NoPenalty()`` or a penalty that :func:`jaxreg.solvers.interior_point`
    supports. Works under ``jit``; the coefficients are differentiable (by the
    implicit rule of :mod:`jaxreg.hypergrad`) in ``X``, ``y``, the weights
    and the penalty.
    """
    X = jnp.asarray(X)
    quantiles = jnp.asarray(quantiles, X.dtype)
    m = quantiles.shape[0]
    penalty = _penalties.NoPenalty() if penalty is None else penalty
    options = (("max_iter", int(max_iter)),)

    def solve_one(tau, init, solver):
        return _hypergrad.implicit_solve(solver, X, y, _losses.QuantileLoss(tau), penalty,
                                         sample_weight, init, tol,
                                         fit_intercept=fit_intercept, options=options)

    if strategy == "batched":
        solutions = jax.vmap(lambda tau: solve_one(tau, None, _ip.interior_point))(quantiles)
    elif strategy == "warm":
        if order is None:
            mid = m // 2
            sequence = np.concatenate([np.arange(mid, m), np.arange(mid)[::-1]]).astype(np.int32)
            from_first = np.zeros(m, bool)
            if 0 < mid:
                from_first[m - mid] = True
        else:
            sequence, from_first = order
        sequence = jnp.asarray(sequence, jnp.int32)
        first = jnp.arange(m) == 0
        p = X.shape[1]

        def step(carry, xs):
            previous, anchor = carry          # coefficients (p,) each
            tau, is_first, restart = xs
            start = jnp.where(restart, anchor, previous)
            solution = solve_one(tau, _WarmInit(start, ~is_first), _warm_solver)
            anchor = jnp.where(is_first, solution.coef, anchor)
            return (solution.coef, anchor), solution

        zeros = jnp.zeros(p, X.dtype)
        _, solutions = jax.lax.scan(step, (zeros, zeros),
                                    (quantiles[sequence], first, jnp.asarray(from_first)))
        # Back to the order given.
        inverse = jnp.argsort(sequence)
        solutions = jax.tree_util.tree_map(lambda a: a[inverse], solutions)
    else:
        raise ValueError(f"Unknown strategy {strategy!r}; choose 'warm' or 'batched'.")
    return QuantileProcess(quantiles, solutions.coef, solutions.intercept, solutions.dual_gap,
                           solutions.n_iter, solutions.converged)


@functools.partial(jax.jit, static_argnames=("strategy", "fit_intercept", "max_iter", "order"))
def _process_jit(X, y, quantiles, penalty, sample_weight, tol, *, strategy, fit_intercept,
                 max_iter, order):
    order = None if order is None else (np.asarray(order[0], np.int32),
                                        np.asarray(order[1], bool))
    return quantile_process_core(X, y, quantiles, penalty, sample_weight=sample_weight, tol=tol,
                                 max_iter=max_iter, fit_intercept=fit_intercept,
                                 strategy=strategy, order=order)


def _choose_strategy(strategy):
    if strategy != "auto":
        return strategy
    return "warm" if jax.default_backend() == "cpu" else "batched"


def quantile_process(X, y, quantiles, *, penalty=None, fit_intercept=True, sample_weight=None,
                     strategy="auto", tol=1e-4, max_iter=100):
    r"""Quantile regression at every quantile of ``quantiles``, in one compiled call.

    .. math::
        (w(\tau_k), b(\tau_k)) = \operatorname*{argmin}_{w, b}
        \frac1n \sum_i s_i\,\rho_{\tau_k}(y_i - x_i^\top w - b) + P(w),
        \qquad k = 1, \dots, m,

    with :math:`\rho_\tau(r) = \max(\tau r, (\tau - 1) r)` (the pinball loss),
    the weights :math:`s` rescaled to sum to ``n_samples`` and the intercept
    :math:`b` unpenalized: at each quantile, scikit-learn's
    ``QuantileRegressor(quantile=tau, alpha=alpha)`` with ``penalty=L1(alpha)``,
    and R's ``quantreg::rq(tau=quantiles, method="fn")`` without a penalty.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,)
    quantiles : array of shape (n_quantiles,)
        Each in the open interval (0, 1), in any order (the results follow
        it; repeats are allowed).
    penalty : None, L1, WeightedL1, L2 or ElasticNetPenalty, default=None
        The same at every quantile; not ``positive``.
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,), default=None
    strategy : {"auto", "warm", "batched"}, default="auto"
        See the module's documentation: "auto" is "warm" on CPU, "batched"
        on accelerators.
    tol : float, default=1e-4
        Each point stops when its duality gap is at most ``tol * P_null``
        (the objective of the best intercept-only model at that quantile).
    max_iter : int, default=100
        Newton steps per quantile.

    Returns
    -------
    QuantileProcess
        ``quantiles``, ``coefs`` (n_quantiles, n_features), ``intercepts``,
        ``dual_gaps``, ``n_iter``, ``converged``, in the order of ``quantiles``.

    Raises
    ------
    ValueError
        On quantiles outside (0, 1), not 1-D, empty or non-finite, and on the
        input errors of :func:`jaxreg.solve`.
    TypeError
        On a penalty that the interior point does not solve (group lasso,
        ``positive``).

    Warns
    -----
    jaxreg.ConvergenceWarning
        Outside ``jit``, when a quantile's gap did not reach ``tol``: the
        warning gives the worst reached gap and its quantile.

    Notes
    -----
    Each point is certified by its own duality gap, whatever its start: the
    warm start changes the number of steps, not the accuracy. On the
    19-quantile process of ``benchmarks/bench_quantile.py`` (n = 20000,
    p = 20, ``tol=1e-10``) the warm scan takes 248 Newton steps against 341
    for 19 cold starts.
    With concrete quantiles the order of the warm scan is computed from their
    values (one compilation per distinct order); traced quantiles are taken
    to be sorted.

    Examples
    --------
    >>> from jaxreg.datasets import load_stackloss
    >>> X, y = load_stackloss()
    >>> result = quantile_process(X, y, [0.75, 0.25, 0.5], tol=1e-10)
    >>> bool(result.converged.all())
    True
    >>> np.round(np.asarray(result.intercepts), 2)   # tau = 0.5: quantreg's -39.69
    array([-54.19, -36.  , -39.69])
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; choose one of {_STRATEGIES}.")
    concrete = _validation.is_concrete(X, y, penalty, sample_weight, quantiles)
    _validation.check_array("quantiles", quantiles, ndim=1)
    order = None
    if _validation.is_concrete(quantiles):
        values = np.asarray(quantiles, float)
        bad = (values <= 0) | (values >= 1)
        if bad.any():
            raise ValueError(f"quantiles must lie in the open interval (0, 1); got "
                             f"{float(values[bad][0])!r} (at position {int(np.argmax(bad))}).")
        sequence, from_first = _scan_order(values)
        order = (tuple(int(k) for k in sequence), tuple(bool(f) for f in from_first))
    _validation.check_solve_inputs(X, y, _losses.QuantileLoss(0.5), penalty, sample_weight,
                                   None, max_iter, tol)
    if penalty is None or _solve._is_zero_penalty(penalty):
        penalty = _penalties.NoPenalty()
    if not _ip.supports(_losses.QuantileLoss(0.5), penalty):
        raise TypeError(f"quantile_process solves no penalty, L1, WeightedL1, L2 or "
                        f"ElasticNetPenalty (not positive); got {type(penalty).__name__}.")
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    strategy = _choose_strategy(strategy)
    result = _process_jit(X, jnp.asarray(y), jnp.asarray(quantiles, X.dtype), penalty,
                          sample_weight, tol, strategy=strategy,
                          fit_intercept=bool(fit_intercept), max_iter=int(max_iter),
                          order=order if strategy == "warm" else None)
    if concrete:
        _warn_unconverged(result, tol)
    return result


def _warn_unconverged(result, tol):
    _solve.warn_unconverged_grid(result.converged, result.dual_gaps, result.quantiles, tol,
                                 "jaxreg.quantile_process", label="quantile", noun="quantiles",
                                 advice="Increase max_iter or standardise X.")
