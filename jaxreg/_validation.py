"""Input checks for the boundary (``jaxreg.solve``, estimators, command line).

The functional core trusts its inputs; these checks run only on concrete
values (under ``jit``/``vmap``/``grad`` the arrays are tracers and the checks on
values are skipped, the shape checks still run).
"""

from __future__ import annotations

import numbers

import jax
import numpy as np

from jaxreg import losses as _losses
from jaxreg import penalties as _penalties


def is_concrete(*values):
    """True when no leaf of ``values`` is a JAX tracer."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(values))


def _describe_nonfinite(name, a):
    bad = ~np.isfinite(a)
    count = int(bad.sum())
    first = np.argwhere(bad)[0]
    where = (f"row {first[0]}, column {first[1]}" if a.ndim == 2 else f"index {first[0]}")
    return (f"{name} contains {count} non-finite value{'s' if count > 1 else ''} "
            f"(first at {where}: {a[tuple(first)].item()!r}). Impute or drop them before "
            "fitting, e.g. with sklearn.impute.SimpleImputer.")


def check_array(name, a, *, ndim, allow_int=True, finite=True):
    """Check that ``a`` is a numeric, non-empty, finite array of ``ndim`` dims.

    ``finite=False`` leaves the values unchecked, for a caller that checks
    them more cheaply itself (``jaxreg.path`` reads them off ``X^T X``).
    """
    shape = np.shape(a)
    if isinstance(ndim, int):
        ndim = (ndim,)
    if len(shape) not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be a {want} array; got shape {shape}.")
    if any(d == 0 for d in shape):
        raise ValueError(f"{name} is empty (shape {shape}); at least one sample and one feature are needed.")
    if not is_concrete(a):
        return
    values = np.asarray(a)
    if values.dtype == object or not (np.issubdtype(values.dtype, np.floating)
                                      or np.issubdtype(values.dtype, np.integer)
                                      or np.issubdtype(values.dtype, np.bool_)):
        raise TypeError(f"{name} must hold real numbers; got dtype {values.dtype}.")
    if not finite or (not allow_int and not np.issubdtype(values.dtype, np.floating)):
        return
    if np.issubdtype(values.dtype, np.floating) and not all_finite(values):
        raise ValueError(_describe_nonfinite(name, values))


def all_finite(values):
    """True when every entry of the floating array ``values`` is finite.

    The sum first (one pass, no temporary; scikit-learn's test too): a NaN or
    an infinity makes it non-finite. Only when it is not finite (or it
    overflowed) is the element-wise test run.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values)):
            return True
    return bool(np.all(np.isfinite(values)))


def check_parameter(owner, name, value, *, low=None, high=None, low_open=False, high_open=False):
    """Range check of a hyperparameter, with scikit-learn's wording."""
    if not is_concrete(value):
        return
    values = np.asarray(value)
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"The '{name}' parameter of {owner} must be a real number; got {value!r}.")
    lo_ok = True if low is None else (values > low if low_open else values >= low)
    hi_ok = True if high is None else (values < high if high_open else values <= high)
    if not np.all(np.isfinite(values) & lo_ok & hi_ok):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        interval = f"{left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}{right}"
        got = values.item() if np.ndim(value) == 0 else values[~(np.isfinite(values) & lo_ok & hi_ok)][0].item()
        raise ValueError(f"The '{name}' parameter of {owner} must be in the range "
                         f"{interval}. Got {got!r} instead.")


def check_loss(loss, y):
    """Check the loss's hyperparameters and that ``y`` suits it."""
    owner = type(loss).__name__
    if isinstance(loss, _losses.QuantileLoss):
        check_parameter(owner, "quantile", loss.quantile, low=0.0, high=1.0,
                        low_open=True, high_open=True)
    if isinstance(loss, _losses.HuberLoss):
        check_parameter(owner, "delta", loss.delta, low=0.0, low_open=True)
    ndim = np.ndim(y)
    if ndim == 2 and not isinstance(loss, _losses.SquaredLoss):
        raise ValueError(f"{owner} takes a 1-D y; got shape {np.shape(y)} "
                         "(only SquaredLoss takes a 2-D, multi-output y).")
    if not is_concrete(y):
        return
    values = np.asarray(y)
    if isinstance(loss, _losses.LogisticLoss):
        bad = ~np.isin(values, (-1.0, 1.0))
        if bad.any():
            raise ValueError(f"LogisticLoss needs labels in {{-1, +1}}; y has {int(bad.sum())} "
                             f"other values (first: {values[bad][0].item()!r}). Map them with "
                             "y = np.where(y == positive_class, 1.0, -1.0).")
    if isinstance(loss, _losses.MultinomialLoss):
        bad = (values != np.round(values)) | (values < 0)
        if loss.n_classes is not None:
            bad |= values >= loss.n_classes
        if bad.any():
            raise ValueError("MultinomialLoss needs integer class labels in 0, ..., "
                             f"n_classes - 1; got {values[bad][0].item()!r}.")


def check_penalty(penalty, n_features):
    """Check the penalty's hyperparameters against the number of features."""
    if penalty is None:
        return
    owner = type(penalty).__name__
    if hasattr(penalty, "alpha"):
        check_parameter(owner, "alpha", penalty.alpha, low=0.0)
    if isinstance(penalty, _penalties.ElasticNetPenalty):
        check_parameter(owner, "l1_ratio", penalty.l1_ratio, low=0.0, high=1.0)
    if isinstance(penalty, _penalties.WeightedL1):
        if np.shape(penalty.weights) != (n_features,):
            raise ValueError(f"WeightedL1 needs one weight per feature: X has {n_features} "
                             f"features but weights has shape {np.shape(penalty.weights)}.")
        check_parameter(owner, "weights", penalty.weights, low=0.0)
    if isinstance(penalty, _penalties.GroupLassoPenalty):
        groups = penalty.groups
        if len(groups) != n_features:
            raise ValueError(f"GroupLassoPenalty needs a group index per feature: X has "
                             f"{n_features} features but groups has {len(groups)}.")
        if sorted(set(groups)) != list(range(max(groups) + 1)):
            raise ValueError("GroupLassoPenalty's groups must use every index 0, ..., "
                             f"n_groups - 1; got {sorted(set(groups))}.")


def _check_fit_arguments(n, p, sample_weight, init, max_iter, tol, owner):
    """Checks of the weights, the start, ``max_iter`` and ``tol`` of an
    ``n`` x ``p`` problem (dense or sparse)."""
    if sample_weight is not None:
        check_array("sample_weight", sample_weight, ndim=1)
        if np.shape(sample_weight)[0] != n:
            raise ValueError(f"X has {n} rows but sample_weight has {np.shape(sample_weight)[0]}.")
        if is_concrete(sample_weight):
            w = np.asarray(sample_weight)
            if (w < 0).any():
                raise ValueError(f"sample_weight must be non-negative; got {w[w < 0][0].item()!r}.")
            if w.sum() <= 0:
                raise ValueError("sample_weight sums to 0: at least one sample needs a positive weight.")
    if init is not None and not hasattr(init, "coef"):
        check_array("init", init, ndim=(1, 2))
        if np.shape(init)[0] != p:
            raise ValueError(f"init has {np.shape(init)[0]} coefficients but X has {p} features.")
    if max_iter is not None and (not isinstance(max_iter, numbers.Integral) or max_iter < 1):
        raise ValueError(f"max_iter must be a positive integer; got {max_iter!r}.")
    check_parameter(owner, "tol", tol, low=0.0)


def check_solve_inputs(X, y, loss, penalty, sample_weight, init, max_iter, tol,
                       finite_X=True):
    """All checks of :func:`jaxreg.solve`'s arguments (``finite_X``: see :func:`check_array`)."""
    check_array("X", X, ndim=2, finite=finite_X)
    check_array("y", y, ndim=(1, 2))
    n, p = np.shape(X)
    if np.shape(y)[0] != n:
        raise ValueError(f"X has {n} rows but y has {np.shape(y)[0]}.")
    check_loss(loss, y)
    check_penalty(penalty, p)
    _check_fit_arguments(n, p, sample_weight, init, max_iter, tol, "solve")


def check_sparse_inputs(X, y, loss, penalty, sample_weight, init, max_iter, tol, *,
                        owner="jaxreg.solve"):
    """The checks of :func:`check_solve_inputs` for a sparse ``X`` (SciPy, BCOO or
    :class:`~jaxreg.sparse.CSCDesign`); returns ``X`` as a
    :class:`~jaxreg.sparse.CSCDesign` (never densified).

    SciPy input has its stored values checked for NaN and infinity
    (:func:`jaxreg.sparse.from_scipy`); every format SciPy has is converted
    to compressed sparse columns. Non-smooth losses (absolute, quantile),
    unpenalized fits and unpenalized features (zero weights) have no sparse
    solver yet and raise :class:`NotImplementedError`.
    """
    from jaxreg import sparse as _sparse
    from jaxreg.solvers import sparse_cd as _sparse_cd

    if not _sparse.is_sparse(X):
        raise TypeError(f"X must be sparse here, got {type(X).__name__}.")
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"X must be a 2-D sparse matrix; got shape {shape}.")
    if any(d == 0 for d in shape):
        raise ValueError(f"X is empty (shape {shape}); at least one sample and one feature "
                         "are needed.")
    if _sparse._is_scipy_sparse(X):
        design = _sparse.from_scipy(X, dtype=None if np.dtype(X.dtype).kind == "f" else float)
    else:
        design = _sparse.as_design(X)
        if is_concrete(design.data) and not all_finite(np.asarray(design.data)):
            raise ValueError("X contains non-finite stored values. Impute or drop them "
                             "before fitting, e.g. with sklearn.impute.SimpleImputer.")
        if not np.issubdtype(design.dtype, np.floating):
            design = design.astype(jax.dtypes.canonicalize_dtype(np.float64))
    check_array("y", y, ndim=(1, 2))
    n, p = shape
    if np.shape(y)[0] != n:
        raise ValueError(f"X has {n} rows but y has {np.shape(y)[0]}.")
    if not (_sparse_cd.supports(loss, penalty) and np.ndim(y) == 1) and not (
            getattr(loss, "smooth", False) and penalty is not None
            and not isinstance(penalty, _penalties.NoPenalty)):
        raise NotImplementedError(
            "On sparse X, jaxreg solves smooth losses (squared, Huber, logistic, "
            "multinomial) with a penalty; got "
            f"{type(loss).__name__} with {type(penalty).__name__}. Pass a dense X "
            "(X.toarray()) for the absolute and quantile losses and unpenalized fits.")
    check_loss(loss, y)
    check_penalty(penalty, p)
    if isinstance(penalty, _penalties.WeightedL1) and is_concrete(penalty.weights) and np.any(
            np.asarray(penalty.weights) == 0):
        raise NotImplementedError(
            "Unpenalized features (zero weights of WeightedL1) are not supported on sparse X "
            "yet (no certificate); give them a small positive weight or pass a dense X.")
    _check_fit_arguments(n, p, sample_weight, init, max_iter, tol, owner)
    return design
