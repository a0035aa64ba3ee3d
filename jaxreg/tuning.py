r"""Gradient-based tuning of the regularization: :func:`tune`.

Hyperparameters :math:`\lambda` (one ``alpha``, or one :math:`\lambda_j` per
feature of a weighted lasso) are chosen by minimising a held-out criterion

.. math::
    C(\lambda) = \frac1K \sum_{k=1}^K \frac{\sum_{i \in T_k} s_i\,
    \ell(y_i, x_i^\top w_k(\lambda) + b_k(\lambda))}{\sum_{i\in T_k} s_i},
    \qquad (w_k, b_k)(\lambda) = \operatorname*{argmin}_{w,b}
    \frac1n \sum_{i \notin T_k} s_i \ell(y_i, x_i^\top w + b) + P_\lambda(w),

over :math:`\theta = \log\lambda` with an optax optimizer, where
:math:`\nabla_\theta C` comes from the implicit derivative of every fold's
solution (:mod:`jaxreg.hypergrad`: one linear solve on the support per fold,
no differentiation of the solver's iterations). Folds are sample-weight masks
(one compiled, vmapped solve for all of them); each step warm-starts every
fold's solve from its previous solution, so that late steps, which move
:math:`\lambda` little, cost a few epochs each.

The criterion is non-convex and only piecewise smooth in :math:`\lambda` (its
derivative jumps where the support changes, and is zero in the directions
:math:`\lambda_j` of features that stay out of every fold's support), so the
result depends on the start: start from a few points (``init``) or from a
coarse grid's best point.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _solve
from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg import paths as _paths
from jaxreg import crossval as _crossval

__all__ = ["tune", "TuneResult", "default_optimizer"]


class TuneResult(NamedTuple):
    """Result of :func:`tune`.

    Attributes
    ----------
    alpha : array of shape () or (n_features,)
        The hyperparameter with the lowest criterion met (``alpha``, or the
        per-feature weights :math:`\\lambda_j`).
    value : array of shape ()
        The criterion there.
    n_steps : int
        Optimizer steps taken.
    n_iter : int
        Inner solver iterations (epochs for coordinate descent) summed over
        all steps and folds.
    values : array of shape (n_steps,)
        The criterion at every step.
    alphas : array of shape (n_steps,) or (n_steps, n_features)
        The hyperparameter at every step.
    penalty : penalty
        The penalty at ``alpha`` (e.g. ``WeightedL1(alpha)``).
    fold_values : array of shape (n_steps, n_folds)
        Each fold's held-out loss at every step (one column for ``validation``).
    """

    alpha: jax.Array
    value: jax.Array
    n_steps: int
    n_iter: int
    values: np.ndarray
    alphas: np.ndarray
    penalty: object
    fold_values: np.ndarray


@functools.lru_cache(maxsize=None)
def default_optimizer(learning_rate=0.3, decay=0.95):
    r"""Adam on :math:`\log\lambda` with an exponentially decaying step.

    :math:`\eta_t = \eta_0\,\gamma^t`: early steps cross a decade of
    :math:`\lambda` in about ten steps, late ones settle (the total travel is
    bounded by :math:`\eta_0 / (1 - \gamma) = 6` in :math:`\log\lambda`, a factor 400).
    """
    import optax

    return optax.adam(optax.exponential_decay(learning_rate, 1, decay))


def _penalty_of(penalty, theta, per_feature):
    value = jnp.exp(theta)
    if per_feature:
        if isinstance(penalty, _penalties.WeightedL1):
            return dataclasses.replace(penalty, weights=value)
        return _penalties.WeightedL1(value, positive=getattr(penalty, "positive", False))
    return _paths.penalty_at(penalty, value)


def _fold_data(X, y, validation, folds, sample_weight, dtype):
    """(train weights (K, n), test X, test y, test weights (K, m))."""
    n = X.shape[0]
    s = np.ones(n, dtype) if sample_weight is None else np.asarray(sample_weight, dtype)
    if validation is not None:
        X_val, y_val = validation
        m = np.shape(X_val)[0]
        return (s[None, :], jnp.asarray(X_val, dtype), jnp.asarray(y_val),
                jnp.ones((1, m), dtype))
    splits = _crossval.kfold(n, folds) if isinstance(folds, (int, np.integer)) else list(folds)
    train = np.zeros((len(splits), n), dtype)
    test = np.zeros((len(splits), n), dtype)
    for k, (train_rows, test_rows) in enumerate(splits):
        train[k, np.asarray(train_rows, int)] = s[np.asarray(train_rows, int)]
        test[k, np.asarray(test_rows, int)] = s[np.asarray(test_rows, int)]
    return train, jnp.asarray(X), jnp.asarray(y), test


def tune(X, y, loss, penalty, *, validation=None, folds=5, init=None, per_feature=False,
         optimizer=None, max_steps=100, xtol=1e-3, fit_intercept=True, sample_weight=None,
         solver="auto", tol=1e-8, max_iter=None):
    r"""Minimise a held-out or K-fold loss over :math:`\log\alpha` or every :math:`\log\lambda_j`.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Training data (all of it with K folds).
    y : array of shape (n_samples,)
    loss : a loss of :mod:`jaxreg.losses`
        Fitted on the training rows and scored (its per-sample value, e.g.
        half the squared error) on the held-out rows.
    penalty : L1, ElasticNetPenalty, L2, WeightedL1 or GroupLassoPenalty
        The family: its strength is tuned (``penalty_at``); with
        ``per_feature=True`` the weights of a :class:`WeightedL1`.
    validation : tuple (X_val, y_val), optional
        Held-out rows; then ``folds`` is ignored.
    folds : int or list of (train_index, test_index), default=5
        K-fold cross-validation (scikit-learn's ``KFold`` without shuffling
        for an int), used when ``validation`` is None.
    init : float or array of shape (n_features,), optional
        Starting hyperparameter; default ``alpha_max / 10`` (for every feature
        with ``per_feature=True``).
    per_feature : bool, default=False
        Tune one :math:`\lambda_j` per feature (a weighted lasso).
    optimizer : optax.GradientTransformation, optional
        On :math:`\theta = \log\lambda`; default :func:`default_optimizer`.
    max_steps : int, default=100
    xtol : float, default=1e-3
        Stop when no entry of :math:`\theta` moved by more than ``xtol`` in a
        step.
    fit_intercept, sample_weight, solver, tol, max_iter
        As in :func:`jaxreg.solve`, for every inner solve.

    Returns
    -------
    TuneResult

    Notes
    -----
    One jitted step evaluates the criterion and its gradient (every fold's
    solve warm-started from the previous step's solution, then one implicit
    linear solve per fold) and applies the optimizer: it compiles once.
    The number of inner iterations is counted (``n_iter``) so that the cost
    can be compared with a warm-started grid search (:func:`jaxreg.path`).

    Examples
    --------
    >>> from jaxreg.datasets import load_diabetes
    >>> from jaxreg.losses import SquaredLoss
    >>> from jaxreg.penalties import L1
    >>> X, y = load_diabetes()
    >>> result = tune(X[:300], y[:300], SquaredLoss(), L1(1.0),
    ...               validation=(X[300:], y[300:]), max_steps=30)
    >>> bool(result.value < 1600), result.n_steps <= 30
    (True, True)
    """
    loss = _solve._resolve_loss(loss, y)
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    dtype = X.dtype
    train_w, X_test, y_test, test_w = _fold_data(X, y, validation, folds, sample_weight, dtype)
    train_w, test_w = jnp.asarray(train_w), jnp.asarray(test_w)
    y = jnp.asarray(y)
    if init is None:
        family = penalty if not per_feature else _penalties.L1(1.0)
        top = _paths.alpha_max(X, y, loss, family, fit_intercept=fit_intercept,
                               sample_weight=sample_weight)
        init = top / 10.0
    theta = jnp.log(jnp.asarray(init, dtype))
    if per_feature:
        theta = jnp.broadcast_to(theta, (X.shape[1],))
    if solver == "auto":
        solver = _solve.choose_solver(X, y, loss, penalty if not per_feature
                                      else _penalties.WeightedL1(jnp.ones(X.shape[1])))
    optimizer = default_optimizer() if optimizer is None else optimizer
    out_shape = (loss.n_classes,) if isinstance(loss, _losses.MultinomialLoss) else y.shape[1:]
    inits = jnp.zeros((train_w.shape[0], X.shape[1]) + out_shape, dtype)
    state = optimizer.init(theta)
    data = (X, y, X_test, y_test, train_w, test_w)
    values, fold_values, thetas = [], [], []
    n_iter = 0
    for _ in range(max_steps):
        new_theta, inits, state, folds_value, iterations = _step(
            theta, inits, state, loss, penalty, jnp.asarray(tol, dtype), data,
            per_feature=bool(per_feature), solver=solver, fit_intercept=bool(fit_intercept),
            max_iter=max_iter, optimizer=optimizer)
        fold_values.append(np.asarray(folds_value))
        values.append(float(np.mean(fold_values[-1])))
        thetas.append(np.asarray(theta))
        n_iter += int(iterations)
        moved = float(jnp.max(jnp.abs(new_theta - theta)))
        theta = new_theta
        if moved <= xtol:
            break
    best = int(np.argmin(values))
    alpha = jnp.exp(jnp.asarray(thetas[best]))
    return TuneResult(alpha, jnp.asarray(values[best]), len(values), n_iter,
                      np.asarray(values), np.exp(np.asarray(thetas)),
                      _penalty_of(penalty, jnp.asarray(thetas[best]), per_feature),
                      np.asarray(fold_values))


@functools.partial(jax.jit, static_argnames=("per_feature", "solver", "fit_intercept",
                                             "max_iter", "optimizer"))
def _step(theta, inits, state, loss, penalty, tol, data, *, per_feature, solver, fit_intercept,
          max_iter, optimizer):
    """One optimizer step: every fold's criterion, its gradient, the update."""
    import optax

    X, y, X_test, y_test, train_w, test_w = data

    def criterion(theta):
        current = _penalty_of(penalty, theta, per_feature)

        def one_fold(weight, init, weight_test):
            sol = _solve.solve(X, y, loss, current, fit_intercept=fit_intercept,
                               sample_weight=weight, solver=solver, init=init, tol=tol,
                               max_iter=max_iter)
            z = X_test @ sol.coef + sol.intercept
            value = jnp.sum(weight_test * loss.value(y_test, z)) / jnp.sum(weight_test)
            return value, sol

        values, sols = jax.vmap(one_fold)(train_w, inits, test_w)
        return jnp.mean(values), (values, sols)

    (_, (values, sols)), grad = jax.value_and_grad(criterion, has_aux=True)(theta)
    updates, state = optimizer.update(grad, state, theta)
    return optax.apply_updates(theta, updates), sols.coef, state, values, jnp.sum(sols.n_iter)
