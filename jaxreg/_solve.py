r"""``jaxreg.solve``: one entry point that checks its input and picks a solver."""

from __future__ import annotations

import functools
import importlib
import warnings

import jax
import numpy as np

from jaxreg import _validation
from jaxreg import hypergrad as _hypergrad
from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg import sparse as _sparse

__all__ = ["solve", "ConvergenceWarning", "SOLVERS", "choose_solver"]

#: solver name -> (module in jaxreg.solvers, function)
SOLVERS = {
    "fista": ("prox_grad", "fista"),
    "ista": ("prox_grad", "ista"),
    "cd": ("cd", "coordinate_descent"),
    "ridge": ("ridge", "ridge"),
    "primal_dual": ("primal_dual", "primal_dual"),
    "interior_point": ("interior_point", "interior_point"),
}

#: Above this many features ``"auto"`` leaves the interior point (a
#: (p+1) x (p+1) factorisation per step) for the first-order ``"primal_dual"``.
INTERIOR_POINT_MAX_FEATURES = 1000


class ConvergenceWarning(UserWarning):
    """A solver stopped on ``max_iter`` before its duality gap reached ``tol``."""


def warn_unconverged_grid(converged, gaps, grid, tol, name, *, label, noun, advice):
    """One :class:`ConvergenceWarning` for a grid of solutions (a path, a
    quantile process) some of which did not converge: how many, and the worst
    gap with the grid value (``label``) where it was reached."""
    converged = np.asarray(converged)
    if converged.all():
        return
    gaps = np.asarray(gaps)
    worst = int(np.argmax(np.where(converged, -np.inf, gaps)))
    warnings.warn(
        f"{name}: {int((~converged).sum())} of {converged.size} {noun} did not converge; "
        f"worst duality gap {gaps[worst]:.3e} at {label}={float(np.asarray(grid)[worst]):.4g} "
        f"(tol {float(tol):.1e} x P_null). {advice}", ConvergenceWarning, stacklevel=4)


def _solver_function(name):
    module, function = SOLVERS[name]
    return getattr(importlib.import_module(f"jaxreg.solvers.{module}"), function)


_SEPARABLE = (_penalties.L1, _penalties.ElasticNetPenalty, _penalties.WeightedL1)


def _is_zero_penalty(penalty):
    """A concrete alpha = 0 (or all-zero weights): the unpenalized problem.

    Its certificate needs the projection of :class:`~jaxreg.penalties.NoPenalty`
    (a zero-radius dual ball cannot be reached by scaling). Under ``vmap`` a
    zero ``alpha`` stays as given and its gap may stay loose.
    """
    values = getattr(penalty, "alpha", getattr(penalty, "weights", None))
    if values is None or getattr(penalty, "positive", False):
        return False
    if not _validation.is_concrete(values):
        return False
    return bool(np.all(np.asarray(values) == 0))


def _resolve_loss(loss, y):
    """``MultinomialLoss()`` with its number of classes read off concrete labels."""
    if isinstance(loss, _losses.MultinomialLoss) and loss.n_classes is None:
        if not _validation.is_concrete(y):
            raise ValueError("Under jit, give MultinomialLoss(n_classes=k).")
        loss = _losses.MultinomialLoss(n_classes=int(np.max(np.asarray(y))) + 1)
    return loss


def choose_solver(X, y, loss, penalty):
    """The solver ``solver="auto"`` picks for this (loss, penalty) pair and shape.

    - absolute and quantile losses with no penalty, ``L1``, ``WeightedL1``,
      ``L2`` or ``ElasticNetPenalty`` (not ``positive``) and at most
      ``INTERIOR_POINT_MAX_FEATURES`` (1000) features: ``"interior_point"``
      (Frisch–Newton: exact to round-off in 10–50 steps of cost
      :math:`O(np^2 + p^3)` each);
    - the other absolute and quantile problems (group lasso, ``positive``, or
      more features, where a :math:`p\times p` factorisation per step costs
      more than thousands of :math:`O(np)` first-order steps): ``"primal_dual"``;
    - squared loss with ``L2`` or no penalty: ``"ridge"`` (closed form);
    - squared loss, 1-D ``y``, separable L1-type penalty: ``"cd"``
      (coordinate descent; Gram form when ``n_samples >= n_features``);
    - every other pair: ``"fista"``.
    """
    if not getattr(loss, "smooth", False):
        from jaxreg.solvers.interior_point import supports

        if (supports(loss, penalty)
                and np.shape(X)[1] <= INTERIOR_POINT_MAX_FEATURES):
            return "interior_point"
        return "primal_dual"
    if isinstance(loss, _losses.SquaredLoss):
        if isinstance(penalty, (_penalties.L2, _penalties.NoPenalty)) and not getattr(
            penalty, "positive", False
        ):
            return "ridge"
        if isinstance(penalty, _SEPARABLE) and np.ndim(y) == 1:
            return "cd"
    return "fista"


@functools.partial(jax.jit, static_argnames=("solver", "fit_intercept", "options",
                                             "differentiation"))
def _solve_jit(X, y, loss, penalty, sample_weight, init, tol, *, solver, fit_intercept, options,
               differentiation="implicit"):
    # hypergrad: the solver's own result, with the implicit-differentiation
    # rule (custom_jvp) attached; it adds nothing to the primal computation.
    return _hypergrad.differentiable_solve(
        _solver_function(solver), X, y, loss, penalty, sample_weight, init, tol,
        fit_intercept=fit_intercept, options=options, differentiation=differentiation)


def solve(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None, solver="auto",
          init=None, max_iter=None, tol=1e-4, differentiation="implicit", **solver_options):
    r"""Minimise :math:`\frac1n\sum_i s_i\,\ell(y_i, x_i^\top w + b) + P(w)`.

    The weights :math:`s` are rescaled to sum to ``n_samples``; the intercept
    :math:`b` is never penalized.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or sparse
        A ``scipy.sparse`` matrix or array (any format; never densified), a
        :class:`jax.experimental.sparse.BCOO` or a
        :class:`jaxreg.sparse.CSCDesign` is solved by
        :func:`jaxreg.solvers.sparse_cd.sparse_coordinate_descent` (squared
        loss with ``L1``, ``L2``, ``ElasticNetPenalty`` or ``WeightedL1``)
        or by FISTA with sparse products (other smooth losses: Huber,
        logistic, multinomial); absolute and quantile losses and
        unpenalized fits raise :class:`NotImplementedError`.
    y : array of shape (n_samples,) or (n_samples, n_outputs)
        Targets; labels in {-1, +1} for :class:`~jaxreg.losses.LogisticLoss`,
        integer classes for :class:`~jaxreg.losses.MultinomialLoss`.
    loss : a loss of :mod:`jaxreg.losses`
    penalty : a penalty of :mod:`jaxreg.penalties`, or None
        ``None`` fits an unpenalized model.
    fit_intercept : bool, default=True
    sample_weight : array of shape (n_samples,), default=None
    solver : {"auto", "fista", "ista", "cd", "ridge", "primal_dual", "interior_point"}, default="auto"
        See :func:`choose_solver` for what "auto" picks.
    init : array or Solution, default=None
        Warm start.
    max_iter : int, default=None
        The solver's own default when None.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol * P_null``, the objective of
        the best intercept-only model (:func:`jaxreg.solvers._common.null_objective`).
    differentiation : {"implicit", "unrolled"}, default="implicit"
        How :func:`jax.grad`, :func:`jax.jvp` and their relatives differentiate
        the solution (:mod:`jaxreg.hypergrad`): "implicit" differentiates the
        optimality condition at the returned solution (the solver is
        unchanged); "unrolled" replaces the solver by ``max_iter`` (default
        1000) FISTA steps and differentiates through them (smooth losses only).
    **solver_options
        Passed on to the solver (e.g. ``check_every``).

    Returns
    -------
    Solution
        ``coef``, ``intercept``, ``n_iter``, ``dual_gap``, ``converged``.

    Raises
    ------
    ValueError
        On non-finite, empty or mis-shaped input, or out-of-range
        hyperparameters (negative ``alpha``, ``quantile`` outside (0, 1),
        ``delta <= 0``, logistic labels other than ±1).

    Warns
    -----
    ConvergenceWarning
        When called outside ``jit`` and the gap did not reach ``tol``.

    Notes
    -----
    ``solve`` works under :func:`jax.jit`, :func:`jax.vmap` (e.g. over a grid
    of ``alpha``) and does not recompile for new data of the same shape and
    dtype. Checks on values and the warning happen only on concrete inputs.
    :func:`jax.grad`, :func:`jax.jvp` and their relatives differentiate
    ``coef`` and ``intercept`` with respect to ``X``, ``y``, ``sample_weight``
    and the leaves of ``loss`` and ``penalty`` by implicit differentiation
    (:mod:`jaxreg.hypergrad`, ``docs/hypergrad.md``).
    The computation runs in the dtype of ``X``: in float32 the reachable gap
    is about ``1e-5 * P_null`` (use ``tol >= 1e-5``).

    Examples
    --------
    >>> from jaxreg.losses import SquaredLoss
    >>> from jaxreg.penalties import L1
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> sol = solve(X, jnp.array([1.0, 2.0, 3.0]), SquaredLoss(), L1(0.1), tol=1e-10)
    >>> bool(sol.converged)
    True
    """
    concrete = _validation.is_concrete(X, y, loss, penalty, sample_weight, init)
    if _sparse.is_sparse(X):
        return _solve_sparse(X, y, loss, penalty, fit_intercept=fit_intercept,
                             sample_weight=sample_weight, solver=solver, init=init,
                             max_iter=max_iter, tol=tol, differentiation=differentiation,
                             concrete=concrete, options=solver_options)
    if solver not in ("auto", *SOLVERS):
        raise ValueError(f"Unknown solver {solver!r}; choose one of {('auto', *SOLVERS)}.")
    _validation.check_solve_inputs(X, y, loss, penalty, sample_weight, init, max_iter, tol)
    if penalty is None or _is_zero_penalty(penalty):
        penalty = _penalties.NoPenalty()
    loss = _resolve_loss(loss, y)
    if solver == "auto":
        solver = choose_solver(X, y, loss, penalty)
    options = dict(solver_options)
    if max_iter is not None:
        options["max_iter"] = max_iter
    X = jax.numpy.asarray(X)
    if not jax.numpy.issubdtype(X.dtype, jax.numpy.floating):
        X = X.astype(jax.numpy.result_type(float))
    if differentiation not in ("implicit", "unrolled"):
        raise ValueError("differentiation must be 'implicit' or 'unrolled'; "
                         f"got {differentiation!r}.")
    solution = _solve_jit(X, y, loss, penalty, sample_weight, init, tol, solver=solver,
                          fit_intercept=bool(fit_intercept), options=tuple(sorted(options.items())),
                          differentiation=differentiation)
    if concrete and not bool(solution.converged):
        warnings.warn(
            f"jaxreg.solve ({solver}) did not converge in {int(solution.n_iter)} iterations: "
            f"duality gap {float(solution.dual_gap):.3e} > tol {float(tol):.1e} x P_null. "
            "Increase max_iter, standardise X, or increase alpha.",
            ConvergenceWarning, stacklevel=2)
    return solution


def sparse_solver(loss, penalty, y, solver="auto"):
    """The solver for a sparse ``X``: ``"cd"`` (coordinate descent over the
    columns, :mod:`jaxreg.solvers.sparse_cd`) for the squared loss with a
    1-D ``y`` and a separable penalty, else ``"fista"`` (proximal gradient with
    sparse products) for smooth losses; ``solver`` may ask for "cd", "fista"
    or "ista" explicitly."""
    from jaxreg.solvers import sparse_cd

    cd = sparse_cd.supports(loss, penalty) and np.ndim(y) == 1
    if solver == "auto":
        return "cd" if cd else "fista"
    if solver == "cd" and not cd:
        raise NotImplementedError(
            "solver='cd' on sparse X needs the squared loss, a 1-D y and L1, L2, "
            f"ElasticNetPenalty or WeightedL1; got {type(loss).__name__} with "
            f"{type(penalty).__name__}. Use solver='auto' (FISTA with sparse products).")
    if solver not in ("cd", "fista", "ista"):
        raise NotImplementedError(
            f"solver={solver!r} does not take a sparse X; use 'auto', 'cd', 'fista' or "
            "'ista', or pass a dense X.")
    return solver


def sparse_solver_function(solver):
    """The function behind :func:`sparse_solver`'s name (takes a CSCDesign)."""
    if solver == "cd":
        from jaxreg.solvers.sparse_cd import sparse_coordinate_descent

        return sparse_coordinate_descent
    return _solver_function(solver)


@functools.partial(jax.jit, static_argnames=("fit_intercept", "options", "solver"))
def _sparse_solve_jit(X, y, loss, penalty, sample_weight, init, tol, *, fit_intercept, options,
                      solver):
    return sparse_solver_function(solver)(X, y, loss, penalty, fit_intercept=fit_intercept,
                                          sample_weight=sample_weight, init=init, tol=tol,
                                          **dict(options))


def _solve_sparse(X, y, loss, penalty, *, fit_intercept, sample_weight, solver, init, max_iter,
                  tol, differentiation, concrete, options):
    """:func:`solve` on a sparse ``X``: checks, then a sparse solver (:func:`sparse_solver`)."""
    if differentiation != "implicit":
        raise NotImplementedError("differentiation='unrolled' is not available on sparse X.")
    if penalty is None or _is_zero_penalty(penalty):
        raise NotImplementedError(
            "Unpenalized fits (penalty=None or alpha=0) are not supported on sparse X yet; "
            "give a positive alpha or pass a dense X.")
    design = _validation.check_sparse_inputs(X, y, loss, penalty, sample_weight, init,
                                             max_iter, tol)
    loss = _resolve_loss(loss, y)
    solver = sparse_solver(loss, penalty, y, solver)
    options = dict(options)
    if max_iter is not None:
        options["max_iter"] = max_iter
    y = jax.numpy.asarray(y)
    if not jax.numpy.issubdtype(y.dtype, jax.numpy.integer):
        y = y.astype(design.dtype)
    solution = _sparse_solve_jit(design, y, loss, penalty, sample_weight, init, tol,
                                 fit_intercept=bool(fit_intercept),
                                 options=tuple(sorted(options.items())), solver=solver)
    if concrete and not bool(solution.converged):
        warnings.warn(
            f"jaxreg.solve (sparse {solver}) did not converge in {int(solution.n_iter)} "
            f"iterations: duality gap {float(solution.dual_gap):.3e} > tol {float(tol):.1e} "
            "x P_null. Increase max_iter, or increase alpha.", ConvergenceWarning, stacklevel=3)
    return solution
