r"""K-fold cross-validation of a whole regularization path in one compiled call.

Fold :math:`k` fits the path on its training rows and scores it on its test
rows. Every fold has the same shape: the training set is a sample-weight mask
:math:`t^{(k)}_i = s_i [i \in \text{train}_k]` over all rows, the test set a
padded index array, so that all folds x all ``alpha`` run in one program
(:func:`jax.lax.map` over folds on CPU, :func:`jax.vmap` on accelerators).

For the squared loss in Gram form (``n_samples >= n_features``) the
statistics of fold :math:`k` come from one pass over :math:`X`: with
:math:`E_k` the rows outside :math:`\text{train}_k`,

.. math::
    X^\top T_k X = X^\top S X - X_{E_k}^\top S_{E_k} X_{E_k},

and the same for :math:`X^\top T_k y`, :math:`y^\top T_k y` and the means
(``DESIGN.md``, "Measured facts"), after shifting :math:`X` and :math:`y` by
their full-data means to avoid cancellation.

Scores: the weighted mean over the test rows of the squared error
:math:`(y - \hat y)^2` for the squared loss (scikit-learn's ``mse_path_``),
of the loss itself otherwise. The curve is the unweighted mean over folds
(scikit-learn), its standard error :math:`\mathrm{sd}/\sqrt K` (glmnet's
``cvsd``); ``alpha_1se`` is the largest ``alpha`` whose mean is within one
standard error of the minimum (glmnet's ``lambda.1se``).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _solve
from jaxreg import _validation
from jaxreg import losses as _losses
from jaxreg import paths as _paths
from jaxreg import penalties as _penalties
from jaxreg import sharding as _sharding
from jaxreg import sparse as _sparse
from jaxreg.solvers import _common
from jaxreg.solvers import cd as _cd

__all__ = ["CVResult", "cv", "kfold", "cv_core"]


class CVResult(NamedTuple):
    """Result of :func:`cv`.

    Attributes
    ----------
    alphas : array of shape (n_alphas,)
    scores : array of shape (n_folds, n_alphas)
        Validation score (lower is better) of each fold at each ``alpha``.
    mean, std_error : arrays of shape (n_alphas,)
    index_min, index_1se : int
    alpha_min, alpha_1se : float
    fold_paths : Path
        Every field with a leading fold axis.
    solution : Solution or None
        The refit on all the data at ``alpha_min`` (``refit=True``).
    """

    alphas: Any
    scores: Any
    mean: Any
    std_error: Any
    index_min: int
    alpha_min: float
    index_1se: int
    alpha_1se: float
    fold_paths: Any
    solution: Any = None


class Folds(NamedTuple):
    """Fixed-shape description of K folds over n rows."""

    train_weight: jax.Array   # (K, n) s_i [i in train_k]
    test_index: jax.Array     # (K, m_test) padded with 0
    test_weight: jax.Array    # (K, m_test) s_i, 0 on padding
    out_index: jax.Array      # (K, m_out) rows outside train_k, padded with 0
    out_weight: jax.Array     # (K, m_out) s_i, 0 on padding


def kfold(n_samples, n_folds):
    """scikit-learn's ``KFold(n_folds)`` without shuffling: contiguous test blocks.

    Returns a list of ``(train_index, test_index)`` pairs; the first
    ``n_samples % n_folds`` folds have one more test row.
    """
    if not isinstance(n_folds, (int, np.integer)) or not 2 <= n_folds <= n_samples:
        raise ValueError(f"folds must be an integer in [2, n_samples={n_samples}]; "
                         f"got {n_folds!r}.")
    sizes = np.full(n_folds, n_samples // n_folds)
    sizes[: n_samples % n_folds] += 1
    stops = np.cumsum(sizes)
    rows = np.arange(n_samples)
    return [(np.r_[rows[: stop - size], rows[stop:]], rows[stop - size: stop])
            for size, stop in zip(sizes, stops)]


def _pad(index_lists, weights):
    width = max(1, max(len(i) for i in index_lists))
    index = np.zeros((len(index_lists), width), np.int32)
    weight = np.zeros((len(index_lists), width), weights.dtype)
    for k, rows in enumerate(index_lists):
        index[k, : len(rows)] = rows
        weight[k, : len(rows)] = weights[rows]
    return index, weight


def make_folds(splits, n_samples, sample_weight, dtype):
    """:class:`Folds` from ``(train_index, test_index)`` pairs."""
    s = np.ones(n_samples, dtype) if sample_weight is None else np.asarray(sample_weight, dtype)
    train_weight = np.zeros((len(splits), n_samples), dtype)
    outside = []
    for k, (train, test) in enumerate(splits):
        inside = np.zeros(n_samples, bool)
        inside[np.asarray(train, int)] = True
        train_weight[k] = np.where(inside, s, 0.0)
        if train_weight[k].sum() <= 0:
            raise ValueError(f"Fold {k} has no training row with a positive weight.")
        if s[np.asarray(test, int)].sum() <= 0:
            raise ValueError(f"Fold {k} has no test row with a positive weight.")
        outside.append(np.flatnonzero(~inside))
    test_index, test_weight = _pad([np.asarray(t, int) for _, t in splits], s)
    out_index, out_weight = _pad(outside, s)
    return Folds(*(jnp.asarray(a) for a in (train_weight, test_index, test_weight,
                                              out_index, out_weight)))


def _splits(folds, X, y):
    n = np.shape(X)[0]
    if isinstance(folds, (int, np.integer)):
        return kfold(n, int(folds))
    if hasattr(folds, "split"):
        return [(np.asarray(a), np.asarray(b)) for a, b in folds.split(np.asarray(X), np.asarray(y))]
    splits = [(np.asarray(a), np.asarray(b)) for a, b in folds]
    if len(splits) < 2:
        raise ValueError(f"Cross-validation needs at least 2 folds; got {len(splits)}.")
    for train, test in splits:
        for name, rows in (("train", train), ("test", test)):
            if rows.ndim != 1 or rows.size == 0 or rows.min() < 0 or rows.max() >= n:
                raise ValueError(f"Every fold needs non-empty {name} indices in [0, {n}).")
    return splits


# --------------------------------------------------------------------------
# Fold statistics for the Gram form
# --------------------------------------------------------------------------


def fold_gram_statistics(X, y, sample_weight, folds, fit_intercept, xp=jnp, with_full=False):
    r"""Per-fold :class:`~jaxreg.solvers.cd.GramStatistics` from one Gram matrix.

    ``xp`` is ``jax.numpy`` (pure, inside ``jit``) or ``numpy`` (at the
    boundary on concrete data: BLAS is ~2x faster than XLA's float64 GEMM on
    CPU). Weighted products are formed as :math:`(S^{1/2} X)^\top (S^{1/2} X)`,
    so that BLAS runs its symmetric rank-k kernel (half the flops of a
    general product); unit weights are not multiplied in, and when the
    held-out blocks are every row once with unit weights (``KFold``) the
    Gram of all rows is their sum, so X is read once. Returns a GramStatistics whose fields have a leading
    fold axis; with ``with_full=True`` one more entry, last, holds the
    statistics of all the rows (for a refit on the whole data).
    """
    s = xp.ones(X.shape[0], X.dtype) if sample_weight is None else xp.asarray(sample_weight,
                                                                              X.dtype)
    if fit_intercept:
        shift_x = (s @ X) / xp.sum(s)
        shift_y = xp.dot(s, y) / xp.sum(s)
        X = X - shift_x[None, :]
        y = y - shift_y
    else:
        shift_x, shift_y = xp.zeros(X.shape[1], X.dtype), xp.zeros((), X.dtype)
    root = None if sample_weight is None else xp.sqrt(s)
    Xs = X if root is None else X * root[:, None]
    ys = y if root is None else y * root
    summed = xp is np and sample_weight is None and _partition(folds, X.shape[0])
    sx, sy, total = s @ X, xp.dot(s, y), xp.sum(s)

    def statistics(g, c, yy, sx, sy, weight):
        if fit_intercept:
            mx, my = sx / weight, sy / weight
            g = g - weight * mx[:, None] * mx[None, :]
            c = c - weight * mx * my
            yy = yy - weight * my * my
            means = (mx + shift_x, my + shift_y)
        else:
            means = (shift_x, shift_y)
        return (g / weight, c / weight, yy / weight) + means

    out_index, out_weight = np.asarray(folds.out_index), np.asarray(folds.out_weight)
    held_out = []
    for k in range(out_index.shape[0]):
        if xp is np:
            Xe, w = _rows(X, out_index[k], out_weight[k].astype(X.dtype))
            ye, _ = _rows(y, out_index[k], out_weight[k])
        else:
            rows, w = out_index[k], xp.asarray(out_weight[k], X.dtype)
            Xe, ye = X[rows], y[rows]
        unit = xp is np and bool(np.all(w == 1))      # no weighted copy of the rows
        Xe_w, ye_w = (Xe, ye) if unit else (Xe * xp.sqrt(w)[:, None], ye * xp.sqrt(w))
        held_out.append((xp.dot(Xe_w.T, Xe_w), xp.dot(Xe_w.T, ye_w), xp.dot(ye_w, ye_w), w @ Xe,
                         xp.dot(w, ye), xp.sum(w)))
    if not summed:
        gram, xty, yty = xp.dot(Xs.T, Xs), xp.dot(Xs.T, ys), xp.dot(ys, ys)
    else:
        # The held-out blocks partition the rows with unit weights (KFold):
        # the Gram of all rows is their sum, without another pass over X.
        gram = sum(block[0] for block in held_out)
        xty = sum(block[1] for block in held_out)
        yty = sum(block[2] for block in held_out)
    entries = [statistics(gram - g_k, xty - c_k, yty - yy_k, sx - sx_k, sy - sy_k, total - t_k)
               for g_k, c_k, yy_k, sx_k, sy_k, t_k in held_out]
    if with_full:
        entries.append(statistics(gram, xty, yty, sx, sy, total))
    return _cd.GramStatistics(*(xp.stack(a) for a in zip(*entries)))


# --------------------------------------------------------------------------
# The pure computation
# --------------------------------------------------------------------------


def _partition(folds, n_samples):
    """Whether the held-out rows of the folds are every row once, with weight 1."""
    index, weight = np.asarray(folds.out_index), np.asarray(folds.out_weight)
    used = index[weight > 0]
    return bool(used.size == n_samples and np.all(weight[weight > 0] == 1)
                and np.array_equal(np.sort(used), np.arange(n_samples)))


def _rows(A, index, weight):
    """``(A[index], weight)`` without the trailing padding of a :class:`Folds` row,
    as a view (no copy) when the rows are contiguous, e.g. the blocks of ``KFold``.

    Padding entries have index 0 and weight 0; a dropped real row 0 of weight
    0 would have contributed nothing.
    """
    keep = len(index)
    while keep > 1 and index[keep - 1] == 0 and weight[keep - 1] == 0:
        keep -= 1
    index, weight = index[:keep], weight[:keep]
    if keep > 1 and np.all(np.diff(index) == 1):
        return A[index[0]: index[-1] + 1], weight
    return A[index], weight


def _test_predictions(X_test, result):
    """Predictions (n_test, n_alphas[, k]) of a path on test rows."""
    coefs = jnp.moveaxis(jnp.asarray(result.coefs), 0, 1)       # (p, m[, k])
    return jnp.tensordot(X_test, coefs, axes=1) + jnp.asarray(result.intercepts)[None]


def _numpy_scores(X, y, loss, folds, fold_paths):
    """The scores of :func:`cv_core` for paths computed from statistics only.

    Squared loss (the Gram form's); the products with the test rows run in
    NumPy's BLAS on the caller's X, and nothing is dispatched to JAX per fold.
    """
    test_index, test_weight = np.asarray(folds.test_index), np.asarray(folds.test_weight)
    coefs, intercepts = np.asarray(fold_paths.coefs), np.asarray(fold_paths.intercepts)
    scores = []
    for k in range(test_index.shape[0]):
        X_test, w = _rows(X, test_index[k], test_weight[k])
        y_test, _ = _rows(y, test_index[k], test_weight[k])
        z = X_test @ coefs[k].T + intercepts[k][None]
        scores.append(_score(loss, y_test, z, w, xp=np))
    return jnp.asarray(np.stack(scores))


def _score(loss, y_test, z, w, xp=jnp):
    """Weighted mean over test rows of the squared error (squared loss) or the loss.

    ``xp=numpy`` for concrete NumPy arrays (squared loss only).
    """
    if isinstance(loss, _losses.SquaredLoss):
        values = (y_test[:, None] - z) ** 2 if z.ndim == 2 else xp.sum(
            (y_test[:, None, :] - z) ** 2, axis=-1)
    else:
        values = jax.vmap(lambda zk: loss.value(y_test, zk), in_axes=1, out_axes=1)(z)
    return xp.sum(w[:, None] * values, axis=0) / xp.sum(w)


def cv_core(X, y, loss, penalty, alphas, folds, *, gram=None, tol=1e-4, solver="cd",
            strategy="warm", fit_intercept=True, chunk_size=10, options=(), over_folds="map"):
    """Fold paths and their scores (pure; no checks): ``(Path, scores)``.

    ``gram`` is an optional :class:`~jaxreg.solvers.cd.GramStatistics` with a
    leading fold axis (:func:`fold_gram_statistics`); with it, ``X`` and ``y``
    may be None, and then only the paths are computed (one per entry of
    ``gram``) and ``scores`` is None. ``over_folds`` is ``"map"``
    (sequential, CPU) or ``"vmap"`` (batched, accelerators).
    """

    def fold_path(train_weight, stats):
        return _paths.path_core(X, y, loss, penalty, alphas, sample_weight=train_weight,
                                tol=tol, gram=stats, solver=solver, strategy=strategy,
                                fit_intercept=fit_intercept, chunk_size=chunk_size,
                                options=options)

    if X is None:
        # Statistics only: the paths, scored by the caller (_numpy_scores).
        run = jax.vmap if over_folds == "vmap" else jax.lax.map
        return run(lambda stats: fold_path(None, stats), gram), None

    def one_fold(args):
        train_weight, test_index, test_weight, stats = args
        result = fold_path(train_weight, stats)
        return result, _score(loss, y[test_index], _test_predictions(X[test_index], result),
                              test_weight)

    args = (folds.train_weight, folds.test_index, folds.test_weight, gram)
    if over_folds == "vmap":
        return jax.vmap(one_fold)(args)
    return jax.lax.map(one_fold, args)


@partial(jax.jit, static_argnames=("solver", "strategy", "fit_intercept", "chunk_size",
                                   "options", "over_folds"))
def _cv_jit(X, y, loss, penalty, alphas, folds, gram, tol, *, solver, strategy, fit_intercept,
            chunk_size, options, over_folds):
    return cv_core(X, y, loss, penalty, alphas, folds, gram=gram, tol=tol, solver=solver,
                   strategy=strategy, fit_intercept=fit_intercept, chunk_size=chunk_size,
                   options=options, over_folds=over_folds)


def _run(mesh, shard, X, y, loss, penalty, alphas, folds, gram, tol, *, sample_weight=None,
         **static):
    """:func:`_cv_jit` on one device, or across the devices of ``mesh``
    (:mod:`jaxreg.sharding`): ``(fold paths, scores)`` as :func:`cv_core`.

    Split by rows, ``gram`` is not given: in the Gram form (``mode="gram"`` in
    the options) each fold's statistics are formed inside the program from the
    split ``X`` and the fold's training weights (XLA reduces them across
    devices; one pass over X per fold).
    """
    if mesh is None:
        return _cv_jit(X, y, loss, penalty, jnp.asarray(alphas), folds, gram, tol, **static)
    given, mesh = mesh, _sharding.auto_mesh(mesh)
    with jax.set_mesh(mesh):     # in place of an ambient mesh with explicit axes
        if shard == "rows":
            result = _rows_sharded(mesh, X, y, loss, penalty, alphas, folds, sample_weight,
                                   tol, **static)
        else:
            result = _blocks_sharded(mesh, shard, X, y, loss, penalty, alphas, folds, gram, tol,
                                     **static)
    return _sharding.put_replicated(result, given)


def _blocks_sharded(mesh, shard, X, y, loss, penalty, alphas, folds, gram, tol, **static):
    """Blocks of the grid (``"alphas"``) or of the folds (``"folds"``) per device."""
    place = partial(_sharding.put_replicated, mesh=mesh)
    if shard == "alphas":
        padded, length = _sharding.dealt(alphas, mesh.size)
        alphas = _sharding.put_split(padded, mesh)
        X, y, folds, gram = place((X, y, folds, gram))
    else:
        if X is None:           # statistics only: a fold is an entry of `gram`
            gram, length = _sharding.pad_leading(gram, mesh.size)
            folds = place(folds)
        else:
            (folds, gram), length = _sharding.pad_leading((folds, gram), mesh.size)
            folds = _sharding.put_split(folds, mesh)
        gram = _sharding.put_split(gram, mesh)
        X, y, alphas = place((X, y, np.asarray(alphas)))
    return _sharded_cv_jit(X, y, loss, penalty, alphas, folds, gram, tol, mesh=mesh, shard=shard,
                           length=length, **static)


def _rows_sharded(mesh, X, y, loss, penalty, alphas, folds, sample_weight, tol, **static):
    """``X``, ``y`` and the folds' training weights split by rows
    (:func:`jaxreg.sharding.shard_rows`)."""
    n = np.shape(X)[0]
    X, y, _ = _sharding.shard_rows(mesh, X, y, sample_weight)   # weights: in the folds'
    train = np.asarray(folds.train_weight)
    train = np.concatenate([train, np.zeros((train.shape[0], X.shape[0] - n), train.dtype)], 1)
    folds = _sharding.put_replicated(folds._replace(train_weight=None), mesh)._replace(
        train_weight=_sharding.put_split(train, mesh, axis=1))
    alphas = _sharding.put_replicated(np.asarray(alphas), mesh)
    return _sharded_cv_jit(X, y, loss, penalty, alphas, folds, None, tol, mesh=mesh,
                           shard="rows", length=alphas.shape[0], **static)


@partial(jax.jit, static_argnames=("mesh", "shard", "length", "solver", "strategy",
                                   "fit_intercept", "chunk_size", "options", "over_folds"))
def _sharded_cv_jit(X, y, loss, penalty, alphas, folds, gram, tol, *, mesh, shard, length,
                    **static):
    def core(X, y, loss, penalty, alphas, folds, gram, tol):
        return cv_core(X, y, loss, penalty, alphas, folds, gram=gram, tol=tol, **static)

    args = (X, y, loss, penalty, alphas, folds, gram, tol)
    whole = jax.sharding.PartitionSpec()
    if shard == "rows":         # XLA partitions the products over the rows
        return _sharding.replicate(core(*args), mesh)
    if shard == "alphas":       # a share of the grid per device, all the folds
        block = _sharding.split(mesh)
        out = _sharding.split(mesh, 1, 2)
        result = jax.shard_map(core, mesh=mesh, in_specs=(whole,) * 4 + (block,) + (whole,) * 3,
                               out_specs=out, check_vma=False)(*args)
        return _sharding.replicate(
            jax.tree_util.tree_map(lambda a: _sharding.undeal(a, mesh.size, length, axis=1),
                                   result), mesh)
    block = _sharding.split(mesh)   # a block of folds per device, all the grid
    folds_spec = whole if X is None else block
    result = jax.shard_map(core, mesh=mesh,
                           in_specs=(whole,) * 5 + (folds_spec, block, whole),
                           out_specs=block, check_vma=False)(*args)
    return _sharding.replicate(jax.tree_util.tree_map(lambda a: a[:length], result), mesh)


def summarize(alphas, scores):
    """Mean, standard error, and the ``min`` and ``1se`` choices of a CV curve."""
    scores = np.asarray(scores)
    alphas = np.asarray(alphas)
    k = scores.shape[0]
    mean = scores.mean(axis=0)
    std_error = scores.std(axis=0, ddof=1) / np.sqrt(k) if k > 1 else np.zeros_like(mean)
    index_min = int(np.argmin(mean))
    within = np.flatnonzero(mean <= mean[index_min] + std_error[index_min])
    index_1se = int(within[np.argmax(alphas[within])])
    return mean, std_error, index_min, index_1se


def cv(X, y, loss, penalty, alphas=None, *, folds=5, n_alphas=100, eps=None, fit_intercept=True,
       sample_weight=None, strategy="auto", solver="auto", tol=1e-4, max_iter=None, refit=True,
       mesh=None, shard="auto", **solver_options):
    r"""K-fold cross-validation of the path of ``penalty`` in one compiled call.

    For each fold :math:`k` and each ``alpha`` of the grid, the model of
    :func:`jaxreg.path` is fitted on the training rows and scored on the test
    rows (module documentation).

    Parameters
    ----------
    X, y, loss, penalty, alphas, n_alphas, eps, fit_intercept, sample_weight, strategy, solver, tol, max_iter
        As in :func:`jaxreg.path`; ``alphas=None`` is :func:`jaxreg.alpha_grid`
        on all the data (as scikit-learn's ``LassoCV``), shared by the folds.
        A sparse ``X`` (SciPy, BCOO, :class:`jaxreg.sparse.CSCDesign`) runs
        the folds' paths by sparse coordinate descent (squared loss with
        ``L1``, ``L2``, ``ElasticNetPenalty`` or ``WeightedL1``), one fold
        after another (memory :math:`O(\mathrm{nnz} + n + p)` per path), and
        scores the test rows with SciPy's sparse products.
    folds : int, iterable of (train, test) index pairs, or splitter, default=5
        An int ``K`` is scikit-learn's ``KFold(K)`` (contiguous, unshuffled);
        an object with ``split(X, y)`` is any scikit-learn splitter.
    refit : bool, default=True
        Also solve on all the data at ``alpha_min`` (``CVResult.solution``).
    mesh : jax.sharding.Mesh, optional
        Run across its devices (:mod:`jaxreg.sharding`); default: the ambient
        mesh of :func:`jax.set_mesh` if any, else one device.
    shard : {"auto", "folds", "alphas", "rows"}, default="auto"
        What to split across the mesh's devices (:mod:`jaxreg.sharding`).

    Returns
    -------
    CVResult

    Warns
    -----
    jaxreg.ConvergenceWarning
        When a point of a fold's path did not reach ``tol``.

    Examples
    --------
    >>> from jaxreg.datasets import load_diabetes
    >>> X, y = load_diabetes()
    >>> from jaxreg.penalties import L1
    >>> result = cv(X, y, _losses.SquaredLoss(), L1(1.0), n_alphas=20, tol=1e-8)
    >>> result.scores.shape, round(float(result.alpha_min), 4)
    ((5, 20), 0.0031)
    """
    if _sparse.is_sparse(X):
        _sharding.refuse_sparse(mesh, shard, "jaxreg.cv")
        return _sparse_cv(X, y, loss, penalty, alphas, folds=folds, n_alphas=n_alphas, eps=eps,
                          fit_intercept=fit_intercept, sample_weight=sample_weight,
                          strategy=strategy, solver=solver, tol=tol, max_iter=max_iter,
                          refit=refit, options=solver_options)
    _validation.check_solve_inputs(X, y, loss, penalty, sample_weight, None, max_iter, tol)
    loss = _solve._resolve_loss(loss, y)
    if isinstance(X, np.ndarray) and not np.issubdtype(X.dtype, np.floating):
        X = X.astype(float)
    X_np = np.asarray(X)
    n, p = X_np.shape
    mesh = _sharding.resolve_mesh(mesh)
    shard = _sharding.choose_shard(shard, mesh, n, p, cv=True)
    splits = _splits(folds, X, y)
    if alphas is None:
        alphas = _paths.alpha_grid(X, y, loss, penalty, n_alphas=n_alphas, eps=eps,
                                   fit_intercept=fit_intercept, sample_weight=sample_weight)
    _validation.check_array("alphas", alphas, ndim=1)
    alphas = np.sort(np.asarray(alphas, X_np.dtype))[::-1].copy()
    if (alphas < 0).any():
        raise ValueError(f"alphas must be non-negative; got {alphas[alphas < 0][0]!r}.")
    if solver == "auto":
        solver, options = _paths.choose_path_solver(X, y, loss, penalty)
    else:
        options = {}
    options.update(solver_options)
    if max_iter is not None:
        options["max_iter"] = max_iter
    strategy = _paths._choose_strategy(strategy)
    fold_set = make_folds(splits, n, sample_weight, X_np.dtype)
    over_folds = "map" if jax.default_backend() == "cpu" else "vmap"
    gram_form = solver == "cd" and options.get("mode") == "gram"
    if gram_form and shard != "rows":
        options.pop("mode")          # the statistics given below imply it
    jit_options = dict(solver=solver, strategy=strategy, fit_intercept=bool(fit_intercept),
                       chunk_size=10, options=tuple(sorted(options.items())),
                       over_folds=over_folds)
    # Split by rows, X goes to the devices and each fold's path forms its
    # statistics from it ("mode": "gram" stays in the options).
    numpy_gram = gram_form and X_np.dtype == np.float64 and shard != "rows"
    if numpy_gram:
        # Statistics from NumPy's BLAS; X stays out of the compiled program
        # (copying it in cost ~0.1 s at 100000 x 200), the test rows are
        # scored in NumPy, and the refit is one more path, on all the rows.
        y_np = np.asarray(y, X_np.dtype)
        gram = fold_gram_statistics(X_np, y_np, sample_weight, fold_set, bool(fit_intercept),
                                    xp=np, with_full=refit)
        all_paths, _ = _run(mesh, shard, None, None, loss, penalty, alphas, fold_set, gram,
                            tol, **jit_options)
        fold_paths = jax.tree_util.tree_map(lambda a: a[:len(splits)], all_paths)
        scores = _numpy_scores(X_np, y_np, loss, fold_set, fold_paths)
    elif shard == "rows":
        fold_paths, scores = _run(mesh, shard, X, y, loss, penalty, alphas, fold_set, None,
                                  tol, sample_weight=sample_weight, **jit_options)
    else:
        gram = (fold_gram_statistics(jnp.asarray(X), jnp.asarray(y), sample_weight, fold_set,
                                     bool(fit_intercept), xp=jnp) if gram_form else None)
        fold_paths, scores = _run(mesh, shard, jnp.asarray(X), jnp.asarray(y), loss, penalty,
                                  alphas, fold_set, gram, tol, **jit_options)
    checked = all_paths if numpy_gram else fold_paths        # with the refit's path
    flat = checked._replace(converged=checked.converged.reshape(-1),
                            dual_gaps=checked.dual_gaps.reshape(-1),
                            alphas=jnp.tile(checked.alphas[0], checked.alphas.shape[0]))
    _paths._warn_unconverged(flat, tol, "jaxreg.cv")
    mean, std_error, index_min, index_1se = summarize(alphas, scores)
    solution = None
    if refit and numpy_gram:
        # The point alpha_min of the full-data path (n_iter: that point's epochs).
        solution = _common.Solution(*(a[-1, index_min] for a in (
            all_paths.coefs, all_paths.intercepts, all_paths.n_iter, all_paths.dual_gaps,
            all_paths.converged)))
    elif refit:
        solution = _solve.solve(X, y, loss, _paths.penalty_at(penalty, float(alphas[index_min])),
                                fit_intercept=fit_intercept, sample_weight=sample_weight,
                                tol=tol, max_iter=max_iter)
    return CVResult(jnp.asarray(alphas), scores, mean, std_error, index_min,
                    float(alphas[index_min]), index_1se, float(alphas[index_1se]), fold_paths,
                    solution)


# --------------------------------------------------------------------------
# Sparse X
# --------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("solver", "strategy", "fit_intercept", "options"))
def _sparse_fold_paths(design, y, loss, penalty, alphas, train_weight, tol, *, solver, strategy,
                       fit_intercept, options):
    """The folds' paths on a sparse design, one fold after another (:func:`jax.lax.map`)."""
    return jax.lax.map(lambda weight: _paths.sparse_path_core(
        design, y, loss, penalty, alphas, sample_weight=weight, tol=tol, solver=solver,
        strategy=strategy, fit_intercept=fit_intercept, options=options), train_weight)


def _as_scipy(X, design):
    """A SciPy CSR matrix of ``X`` for scoring test rows (no copy for SciPy input)."""
    import scipy.sparse as sp

    if sp.issparse(X):
        return sp.csr_matrix(X)
    nnz = int(design.indptr[-1])
    return sp.csc_matrix((np.asarray(design.data[:nnz]), np.asarray(design.indices[:nnz]),
                          np.asarray(design.indptr)), shape=design.shape).tocsr()


def _sparse_cv(X, y, loss, penalty, alphas, *, folds, n_alphas, eps, fit_intercept,
               sample_weight, strategy, solver, tol, max_iter, refit, options):
    """:func:`cv` on a sparse ``X`` (checked here, never densified)."""
    if penalty is None or isinstance(penalty, _penalties.NoPenalty):
        _paths._check_family(penalty)
    design = _validation.check_sparse_inputs(X, y, loss, penalty, sample_weight, None,
                                             max_iter, tol, owner="jaxreg.cv")
    if np.ndim(y) != 1 or isinstance(loss, _losses.MultinomialLoss):
        raise NotImplementedError("jaxreg.cv on sparse X takes a 1-D y and a loss other "
                                  "than MultinomialLoss.")
    solver = _solve.sparse_solver(loss, penalty, y, solver)
    n = design.shape[0]
    y_np = np.asarray(y, design.dtype)
    splits = _splits(folds, np.zeros((n, 0)), y_np)
    if alphas is None:
        _paths._check_family(penalty)
        eps = _paths._grid_eps(n_alphas, eps, "sklearn", design.shape)
        top = jax.jit(_paths.sparse_alpha_max, static_argnames="fit_intercept")(
            design, jnp.asarray(y_np), loss, penalty, fit_intercept=bool(fit_intercept),
            sample_weight=sample_weight)
        alphas = _paths._geometric(top, n_alphas, eps)
    _validation.check_array("alphas", alphas, ndim=1)
    alphas = np.sort(np.asarray(alphas, design.dtype))[::-1].copy()
    if (alphas <= 0).any():
        raise ValueError(f"alphas must be positive on sparse X; got {alphas[alphas <= 0][0]!r}.")
    fold_set = make_folds(splits, n, sample_weight, design.dtype)
    fold_paths = _sparse_fold_paths(
        design, jnp.asarray(y_np), loss, penalty, jnp.asarray(alphas), fold_set.train_weight,
        tol, solver=solver, strategy=_paths._choose_strategy(strategy),
        fit_intercept=bool(fit_intercept),
        options=_paths.sparse_path_options(solver, options, max_iter))
    flat = fold_paths._replace(converged=fold_paths.converged.reshape(-1),
                               dual_gaps=fold_paths.dual_gaps.reshape(-1),
                               alphas=jnp.tile(fold_paths.alphas[0], fold_paths.alphas.shape[0]))
    _paths._warn_unconverged(flat, tol, "jaxreg.cv")
    scores = _numpy_scores(_as_scipy(X, design), y_np, loss, fold_set, fold_paths)
    mean, std_error, index_min, index_1se = summarize(alphas, scores)
    solution = None
    if refit:
        solution = _solve.solve(design, y_np, loss,
                                _paths.penalty_at(penalty, float(alphas[index_min])),
                                fit_intercept=fit_intercept, sample_weight=sample_weight,
                                tol=tol, max_iter=max_iter)
    return CVResult(jnp.asarray(alphas), scores, mean, std_error, index_min,
                    float(alphas[index_min]), index_1se, float(alphas[index_1se]), fold_paths,
                    solution)
