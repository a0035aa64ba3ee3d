r"""scikit-learn compatible estimators built on :func:`jaxreg.solve` and :func:`jaxreg.cv`.

Each estimator has scikit-learn 1.9's name, parameters, defaults and fitted
attributes, and minimises scikit-learn's own objective (``DESIGN.md``,
"Conventions that users rely on"), so that swapping the import gives the same
numbers:

========================  ====================================================================
estimator                 objective (:math:`s` the sample weights, :math:`S = \sum_i s_i`)
========================  ====================================================================
``Lasso``                 :math:`\frac{1}{2S}\sum_i s_i r_i^2 + \alpha\|w\|_1`
``ElasticNet``            :math:`\frac{1}{2S}\sum_i s_i r_i^2 + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|_2^2`
``Ridge``                 :math:`\sum_i s_i r_i^2 + \alpha\|w\|_2^2`
``QuantileRegressor``     :math:`\frac1S\sum_i s_i \rho_\tau(r_i) + \alpha\|w\|_1`
``HuberRegressor``        :math:`\sum_i s_i\,\sigma\big(1 + H_\epsilon(r_i/\sigma)\big) + \alpha\|w\|_2^2` over :math:`(w, b, \sigma > 0)`
``LogisticRegression``    :math:`C\sum_i s_i \ell(y_i, x_i^\top W + b) + \frac{1-\rho}{2}\|W\|_F^2 + \rho\|W\|_1`
``LassoCV``               ``Lasso``'s, ``alpha`` by K-fold cross-validation
``ElasticNetCV``          ``ElasticNet``'s, ``alpha`` (and ``l1_ratio``) by K-fold cross-validation
``RidgeCV``               ``Ridge``'s, ``alpha`` by leave-one-out (one SVD) or K-fold
``LogisticRegressionCV``  ``LogisticRegression``'s, ``C`` (and ``l1_ratio``) by stratified K-fold
========================  ====================================================================

with :math:`r_i = y_i - x_i^\top w - b`. The conversions to
:func:`jaxreg.solve`'s objective :math:`\frac1n\sum_i s_i\ell + P(w)` (weights
rescaled to sum to ``n``) live only here: ``Ridge(alpha)`` is
``L2(alpha / S)``; ``LogisticRegression(C, l1_ratio)`` is
``ElasticNetPenalty(1 / (C S), l1_ratio)``; ``HuberRegressor`` at a fixed scale
:math:`\sigma` is ``HuberLoss(epsilon * sigma)`` with ``L2(alpha * sigma / S)``;
scikit-learn's coordinate descent stops on ``gap <= tol * ||y_c||^2 / n``, which
is ``2 * tol`` relative to jaxreg's ``P_null``. Each estimator's docstring
gives its algorithm and what its ``tol``, ``max_iter`` and ``n_iter_`` count.

Precision
---------
float64 input is fitted in float64, whatever ``jax_enable_x64`` says: every
JAX call runs inside the scoped context :func:`jax.enable_x64`, which leaves
the global setting as it was (importing this module changes nothing either).
float32 input is fitted in float32 by ``Lasso``, ``ElasticNet``, ``Ridge``,
``LogisticRegression``, ``LassoCV``, ``ElasticNetCV`` and
``LogisticRegressionCV`` (the solvers
keep the dtype of ``X``; relative duality gaps of about ``1e-5`` are
reachable, so keep ``tol >= 1e-5``); ``QuantileRegressor``,
``HuberRegressor`` and ``RidgeCV`` always compute in float64, as does every
estimator for integer or object input. Fitted attributes are NumPy arrays;
``predict`` runs in NumPy and compiles nothing.

Compilation
-----------
A fit compiles once per (shape, dtype, penalty type, static option such as
``fit_intercept``, ``positive`` or ``max_iter``), about 0.5-3 s on a 2-core
CPU; new data of the same shape, or another ``alpha``, ``C``, ``l1_ratio``,
``epsilon``, ``quantile`` or ``tol``, reuse the program. To make that happen
for data of *other* shapes too, problems are zero-padded to a few bucketed
shapes: padded rows get weight 0 and padded columns are zero, which changes
neither the objective (the weights are normalised), nor its minimiser (padded
coefficients stay exactly 0), nor the duality gap. Up to 256 rows and 32
features everything shares one shape; beyond, rows and columns round up by
at most 1/8 of an octave, and problems of more than :math:`2^{22}` padded
entries are not padded. JAX's persistent cache keeps compiled programs across
processes (``jax.config.update("jax_compilation_cache_dir", path)``).

Input
-----
Dense arrays (NumPy, lists, pandas; ``feature_names_in_`` is set from a
DataFrame with string column names). Sparse matrices are refused with
scikit-learn's message (convert them with ``.toarray()``). Validation is
scikit-learn's ``validate_data`` and parameter constraints, so the error
messages are scikit-learn's; jaxreg's own checks run in :func:`jaxreg.solve`.
Non-convergence emits :class:`sklearn.exceptions.ConvergenceWarning` with the
reached duality gap and the threshold.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import numbers
import warnings

import jax
import numpy as np
import scipy.sparse
from sklearn import linear_model as _sk
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer, make_scorer, r2_score
from sklearn.model_selection import check_cv
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils import check_scalar
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxreg import _solve
from jaxreg import losses as _losses
from jaxreg import penalties as _penalties
from jaxreg import solvers as _solvers
from jaxreg import sparse as _sparse

__all__ = [
    "Lasso",
    "ElasticNet",
    "Ridge",
    "QuantileRegressor",
    "HuberRegressor",
    "LogisticRegression",
    "LassoCV",
    "ElasticNetCV",
    "RidgeCV",
    "LogisticRegressionCV",
]

_FLOATS = [np.float64, np.float32]
_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------
# Shared plumbing
# --------------------------------------------------------------------------


def _precision(dtype):
    """Scoped float64 for float64 input; the global JAX setting is untouched."""
    if np.dtype(dtype) == np.float64 and not jax.config.jax_enable_x64:
        return jax.enable_x64(True)
    return contextlib.nullcontext()


# Shape buckets: problems are zero-padded to a few shapes, so that fits on new
# small shapes reuse compiled programs (DESIGN.md: "bucket shapes"). Padded
# rows have zero weight and padded columns are zero: the objective, its
# minimiser (padded coefficients stay exactly 0) and the duality gap are
# unchanged, since the weights are normalised. Small sizes go to a handful of
# buckets (compilation dominates there); larger ones round up by at most 1/8
# of an octave, and very large problems are not padded at all.
_ROW_BUCKETS = (256, 1024, 4096)
_COLUMN_BUCKETS = (32, 128, 512)
_MAX_PADDED_ENTRIES = 1 << 22


def _bucket(m, small):
    for size in small:
        if m <= size:
            return size
    step = 1 << max(int(m).bit_length() - 4, 0)
    return -(-m // step) * step


def _padded_shape(n_samples, n_features):
    n, p = _bucket(n_samples, _ROW_BUCKETS), _bucket(n_features, _COLUMN_BUCKETS)
    if n * p > _MAX_PADDED_ENTRIES:
        return n_samples, n_features
    return n, p


def _pad(X, y, sample_weight, coef, fill):
    """Zero-pad ``(X, y, weights, coef)`` to the bucketed shape (rows of weight 0).

    ``fill`` is the target of the padded rows (any value in the loss's domain);
    ``coef`` may be None (no warm start).
    """
    n_samples, n_features = X.shape
    n, p = _padded_shape(n_samples, n_features)
    if (n, p) == (n_samples, n_features):
        return X, y, sample_weight, coef
    Xp = np.zeros((n, p), X.dtype)
    Xp[:n_samples, :n_features] = X
    yp = np.full((n,) + y.shape[1:], fill, y.dtype)
    yp[:n_samples] = y
    sp = np.zeros(n, sample_weight.dtype)
    sp[:n_samples] = sample_weight
    if coef is None:
        return Xp, yp, sp, None
    coef = np.asarray(coef)
    cp = np.zeros((p,) + coef.shape[1:], coef.dtype)
    cp[:n_features] = coef
    return Xp, yp, sp, cp


# Sparse X: stored values are padded to these capacities (then by 1/8 octaves).
_NNZ_BUCKETS = (1024, 4096, 16384)


def _solve_sparse_quietly(X, y, loss, penalty, *, sample_weight, init, fill=0.0, **options):
    """:func:`_solve_quietly` for a SciPy sparse ``X`` (never densified).

    The design is padded with empty rows (weight 0) and columns and with room
    for stored values to bucketed sizes (:func:`jaxreg.sparse.pad`), so that
    nearby problems share one compiled program.
    """
    n_samples, n_features = X.shape
    design = _sparse.from_scipy(X)
    n, p = _bucket(n_samples, _ROW_BUCKETS), _bucket(n_features, _COLUMN_BUCKETS)
    design = _sparse.pad(design, (n, p), _bucket(design.nnz, _NNZ_BUCKETS))
    yp = np.full((n,) + y.shape[1:], fill, y.dtype)
    yp[:n_samples] = y
    sw = np.zeros(n, sample_weight.dtype)
    sw[:n_samples] = sample_weight
    if init is not None:
        init = np.concatenate([np.asarray(init, X.dtype), np.zeros(p - n_features, X.dtype)])
    options.pop("mode", None)
    with _precision(X.dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore", _solve.ConvergenceWarning)
        solution = _solve.solve(design, yp, loss, penalty, sample_weight=sw, init=init,
                                **options)
        solution = jax.device_get(solution)
    return solution._replace(coef=np.asarray(solution.coef)[:n_features])


def _solve_quietly(X, y, loss, penalty, *, sample_weight, init, fill=0.0, **options):
    r""":func:`jaxreg.solve` in ``X``'s precision on the padded problem, as NumPy.

    ``init`` has shape (n_features,) or (n_features, k). Returns the
    :class:`~jaxreg.solvers.Solution` with ``coef`` cut back to ``n_features``
    rows (and a per-sample ``state`` to ``n_samples``); the caller warns on
    non-convergence.
    """
    n_samples, n_features = X.shape
    X, y, sample_weight, init = _pad(X, y, sample_weight, init, fill)
    with _precision(X.dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore", _solve.ConvergenceWarning)
        solution = _solve.solve(X, y, loss, penalty, sample_weight=sample_weight, init=init,
                                **options)
        solution = jax.device_get(solution)
    state = solution.state
    if state is not None and np.shape(state)[:1] == (X.shape[0],):
        state = np.asarray(state)[:n_samples]     # a per-sample dual point
    return solution._replace(coef=np.asarray(solution.coef)[:n_features], state=state)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _certificate_jit(X, y, loss, penalty, coef, intercept, sample_weight, *, fit_intercept):
    gap = _solvers.duality_gap(X, y, loss, penalty, coef, intercept,
                               sample_weight=sample_weight, fit_intercept=fit_intercept)
    scale = _solvers.null_objective(X, y, loss, sample_weight=sample_weight,
                                    fit_intercept=fit_intercept)
    return gap, scale


def _certificate(X, y, loss, penalty, coef, intercept, *, sample_weight, fit_intercept, fill=0.0):
    """``(dual_gap, P_null)`` of jaxreg's problem at ``(coef, intercept)`` (padded, compiled)."""
    X, y, sample_weight, coef = _pad(X, y, sample_weight, coef, fill)
    with _precision(X.dtype):
        gap, scale = _certificate_jit(X, y, loss, penalty, coef, np.asarray(intercept, X.dtype),
                                      sample_weight, fit_intercept=bool(fit_intercept))
        return float(gap), float(scale)


@functools.lru_cache(maxsize=None)
def _cd_options():
    """Options of coordinate descent for the estimators: no Anderson extrapolation.

    scikit-learn's estimator checks want a fit with integer ``sample_weight``
    to equal the fit on repeated rows to ~1e-7; coordinate descent sees the
    data only through weighted sums, so both follow the same iterates up to
    round-off, unless a branch compares nearly equal numbers: Anderson
    extrapolation keeps its candidate only if it lowers the objective, a test
    that round-off decides differently for the two forms of the same problem
    (on ill-conditioned data the two answers then differ by the tolerance).
    """
    from jaxreg.solvers import cd

    parameters = inspect.signature(cd.coordinate_descent).parameters
    return {"anderson": 0} if "anderson" in parameters else {}


def _warn_not_converged(estimator, n_iter, gap, threshold, scale):
    warnings.warn(
        f"{type(estimator).__name__} did not converge in {int(n_iter)} iterations: "
        f"duality gap {float(gap):.3e} > tol {float(estimator.tol):.1e} x {scale} "
        f"= {float(threshold):.3e}. Increase max_iter, standardise X, or "
        "increase the regularization.",
        ConvergenceWarning, stacklevel=3)


def _validate_regression(estimator, X, y, sample_weight, *, multi_output, accept_sparse=False):
    """scikit-learn's validation, then y and the weights in X's dtype.

    Returns ``X, y, s`` with ``s`` the sample weights (ones when None).
    """
    X, y = validate_data(estimator, X, y, dtype=_FLOATS, multi_output=multi_output,
                         y_numeric=True, accept_sparse=accept_sparse)
    y = np.asarray(y, dtype=X.dtype)
    s = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
    return X, y, s


def _null_squared(y, s):
    """:math:`\\|y - \\bar y_s\\|_s^2 / S`, scikit-learn's scale of ``tol`` (per column)."""
    mean = s @ y / s.sum()
    return (s @ (y - mean) ** 2) / s.sum()


class _LinearRegressor(RegressorMixin, BaseEstimator):
    """``predict`` for fitted ``coef_`` and ``intercept_`` (in NumPy)."""

    def predict(self, X):
        """Predict with the linear model, :math:`X w + b`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOATS,
                          accept_sparse=["csr", "csc", "coo"])
        return np.asarray(X @ np.asarray(self.coef_).T) + self.intercept_


def _init_coef(estimator, shape, dtype):
    """Warm start from ``coef_`` (when ``warm_start`` and the shape matches), else zeros."""
    coef = getattr(estimator, "coef_", None)
    if getattr(estimator, "warm_start", False) and coef is not None and np.shape(coef) == shape:
        return np.asarray(coef, dtype)
    return np.zeros(shape, dtype)


# --------------------------------------------------------------------------
# Squared loss: ElasticNet, Lasso, Ridge
# --------------------------------------------------------------------------


class ElasticNet(_LinearRegressor):
    r"""Linear regression with an elastic-net penalty (scikit-learn's ``ElasticNet``).

    Minimises, over :math:`w` and the unpenalized intercept :math:`b`,

    .. math::
        \frac{1}{2 S}\sum_i s_i (y_i - x_i^\top w - b)^2
        + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|_2^2,
        \qquad S = \sum_i s_i ,

    with :math:`\rho` = ``l1_ratio``: :func:`jaxreg.solve` with
    :class:`~jaxreg.losses.SquaredLoss` and
    :class:`~jaxreg.penalties.ElasticNetPenalty` (coordinate descent).

    Parameters
    ----------
    alpha : float, default=1.0
        Overall strength :math:`\alpha \ge 0`.
    l1_ratio : float, default=0.5
        Mixing parameter :math:`\rho \in [0, 1]` (1 is the lasso, 0 ridge).
    fit_intercept : bool, default=True
    precompute : bool or array-like, default=False
        ``True`` (or a Gram array) forces the Gram form of coordinate descent
        (jaxreg forms its own weighted, centred Gram matrix; the values of an
        array are not used, only its shape is checked). ``False`` lets jaxreg
        choose (Gram when ``n_samples >= n_features`` and at most 500 features).
    max_iter : int, default=1000
        Maximal number of coordinate-descent epochs (``None``: jaxreg's 10000).
    copy_X : bool, default=True
        Accepted for compatibility: ``X`` is never modified.
    tol : float, default=1e-4
        Stop when the duality gap is at most
        :math:`\mathrm{tol}\cdot\|y - \bar y_s\|_s^2 / S`, scikit-learn's test.
    warm_start : bool, default=False
        Start from the previous ``coef_``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility (the sweep is always cyclic).
    selection : {"cyclic", "random"}, default="cyclic"
        Accepted for compatibility; the minimiser does not depend on it.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int or list of int
        Epochs run, per target for a 2-D ``y``.
    dual_gap_ : float or ndarray of shape (n_targets,)
        Duality gap at the returned point, in the units of the objective
        above (scikit-learn's ``dual_gap_``): it bounds the suboptimality.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only with a pandas DataFrame ``X`` whose column names are strings.

    Notes
    -----
    A 2-D ``y`` is fitted column by column (the objective separates). The
    sample weights are rescaled to sum to ``n_samples``, as in scikit-learn,
    so ``alpha`` does not change meaning with them. See the module docstring
    for precision (float32 stays float32) and compilation.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import ElasticNet
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> model = ElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-10).fit(X, X @ [2.0, -1.0] + 0.5)
    >>> np.round(model.coef_, 3)
    array([ 1.939, -0.718])
    """

    _parameter_constraints = dict(_sk.ElasticNet._parameter_constraints)

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute=False,
                 max_iter=1000, copy_X=True, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic"):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def _penalty(self):
        return _penalties.ElasticNetPenalty(float(self.alpha), float(self.l1_ratio),
                                            positive=bool(self.positive))

    def _solver_options(self, n_features):
        if isinstance(self.precompute, (bool, np.bool_)):
            return {"mode": "gram", **_cd_options()} if self.precompute else _cd_options()
        gram = np.asarray(self.precompute)
        if gram.shape != (n_features, n_features):
            raise ValueError(f"precompute must be a bool or a Gram matrix of shape "
                             f"({n_features}, {n_features}); got shape {gram.shape}.")
        return {"mode": "gram", **_cd_options()}

    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the model.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            A SciPy sparse matrix (any format; converted to CSC, never
            densified) is fitted by coordinate descent over its columns
            (:func:`jaxreg.solvers.sparse_cd.sparse_coordinate_descent`).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative; rescaled to sum to ``n_samples``.
        check_input : bool, default=True
            Accepted for compatibility; input is always checked.

        Returns
        -------
        self : object
        """
        self._validate_params()
        X, y, s = _validate_regression(self, X, y, sample_weight, multi_output=True,
                                       accept_sparse="csc")
        n_features = X.shape[1]
        sparse_input = scipy.sparse.issparse(X)
        # Sparse X: coordinate descent over its columns (jaxreg.solvers.sparse_cd);
        # precompute does not apply.
        options = {} if sparse_input else self._solver_options(n_features)
        fit_one = _solve_sparse_quietly if sparse_input else _solve_quietly
        penalty = self._penalty()
        targets = y[:, None] if y.ndim == 1 else y
        n_targets = targets.shape[1]
        init = _init_coef(self, (n_features,) if y.ndim == 1 else (n_targets, n_features), X.dtype)
        init = init.reshape(n_targets, n_features)
        coef = np.zeros((n_targets, n_features), X.dtype)
        intercept = np.zeros(n_targets, X.dtype)
        gaps = np.zeros(n_targets, X.dtype)
        n_iter = []
        for k in range(n_targets):
            solution = fit_one(
                X, targets[:, k], _losses.SquaredLoss(), penalty, sample_weight=s,
                fit_intercept=self.fit_intercept, init=init[k], tol=2.0 * float(self.tol),
                max_iter=self.max_iter, solver="cd", **options)
            coef[k] = solution.coef
            intercept[k] = solution.intercept if self.fit_intercept else 0.0
            gaps[k] = solution.dual_gap
            n_iter.append(int(solution.n_iter))
            if not bool(solution.converged):
                threshold = float(self.tol) * _null_squared(targets[:, k], s)
                _warn_not_converged(self, solution.n_iter, solution.dual_gap, threshold,
                                    "||y - mean(y)||^2 / n")
        if y.ndim == 1:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
            self.dual_gap_, self.n_iter_ = float(gaps[0]), n_iter[0]
        else:
            self.coef_, self.intercept_ = coef, intercept
            self.dual_gap_, self.n_iter_ = gaps, n_iter
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags


class Lasso(ElasticNet):
    r"""Linear regression with an L1 penalty (scikit-learn's ``Lasso``).

    Minimises, over :math:`w` and the unpenalized intercept :math:`b`,

    .. math::
        \frac{1}{2 S}\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\|w\|_1,
        \qquad S = \sum_i s_i ,

    which is ``jaxreg.solve(X, y, SquaredLoss(), L1(alpha))`` (coordinate
    descent). Parameters, attributes and notes are those of
    :class:`ElasticNet` with ``l1_ratio=1``.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import Lasso
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> model = Lasso(alpha=0.1).fit(X, X @ [2.0, -1.0] + 0.5)
    >>> np.round(model.coef_, 3), round(model.intercept_, 3)
    (array([ 2. , -0.6]), 0.3)
    """

    _parameter_constraints = dict(_sk.Lasso._parameter_constraints)

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, copy_X=True,
                 max_iter=1000, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic"):
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept,
                         precompute=precompute, max_iter=max_iter, copy_X=copy_X, tol=tol,
                         warm_start=warm_start, positive=positive,
                         random_state=random_state, selection=selection)



class Ridge(_LinearRegressor):
    r"""Linear least squares with an L2 penalty (scikit-learn's ``Ridge``).

    Minimises, over :math:`w` and the unpenalized intercept :math:`b`,

    .. math:: \sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\|w\|_2^2 ,

    with the raw sample weights :math:`s_i` (scikit-learn's convention: here
    they are *not* rescaled). Divided by :math:`2S`, :math:`S = \sum_i s_i`, this
    is :func:`jaxreg.solve` with :class:`~jaxreg.losses.SquaredLoss` and
    ``L2(alpha / S)``: a closed form (Cholesky; SVD for ``alpha = 0``), or
    coordinate descent with ``positive=True``.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        :math:`\alpha \ge 0`; one per target for a 2-D ``y``.
    fit_intercept : bool, default=True
    copy_X : bool, default=True
        Accepted for compatibility: ``X`` is never modified.
    max_iter : int, default=None
        Epochs of coordinate descent with ``positive=True`` (``None``:
        jaxreg's default); unused by the closed form.
    tol : float, default=1e-4
        With ``positive=True``: stop when the duality gap is at most
        :math:`\mathrm{tol}\cdot\|y - \bar y_s\|_s^2 / S` (relative to the
        objective divided by :math:`2S`). Unused by the closed form.
    solver : str, default="auto"
        Accepted for compatibility (any of scikit-learn's names); jaxreg
        uses its closed form, or coordinate descent with ``positive=True``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : ndarray of shape (n_targets,)
        1 for the closed form, epochs for coordinate descent.
    dual_gap_ : float or ndarray of shape (n_targets,)
        Duality gap at the returned point, in the units of the objective
        divided by :math:`2S` (the closed form's is round-off; targets that
        share ``alpha`` are solved together and report their joint gap).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import Ridge
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> np.round(Ridge(alpha=1.0).fit(X, X @ [2.0, -1.0]).coef_, 4)
    array([ 1.7273, -0.6364])
    """

    _parameter_constraints = dict(_sk.Ridge._parameter_constraints)

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=None,
                 tol=1e-4, solver="auto", positive=False, random_state=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative raw weights (not rescaled).

        Returns
        -------
        self : object
        """
        self._validate_params()
        X, y, s = _validate_regression(self, X, y, sample_weight, multi_output=True)
        targets = y[:, None] if y.ndim == 1 else y
        n_targets = targets.shape[1]
        alphas = np.asarray(self.alpha, dtype=np.float64).ravel()
        if alphas.size not in (1, n_targets):
            raise ValueError(f"Number of targets and number of penalties do not correspond: "
                             f"{alphas.size} != {n_targets}")
        if np.ndim(self.alpha) > 0:
            for index, alpha in enumerate(alphas):
                check_scalar(float(alpha), f"alpha[{index}]", numbers.Real, min_val=0.0,
                             include_boundaries="left")
        total = float(s.sum())
        options = dict(sample_weight=s, fit_intercept=self.fit_intercept,
                       tol=2.0 * float(self.tol))
        if self.positive:
            options.update(solver="cd", max_iter=self.max_iter, **_cd_options())
        else:
            options.update(solver="ridge")
        # One closed-form solve for all targets when they share alpha (its
        # dual_gap_ is then the joint gap); otherwise one per target, as a
        # (n_samples, 1) column for the closed form (the same program as a 1-D
        # y), 1-D for coordinate descent (positive=True).
        if alphas.size == 1 and not self.positive:
            columns = [(slice(None), float(alphas[0]))]
        elif self.positive:
            columns = [(k, float(alphas[k % alphas.size])) for k in range(n_targets)]
        else:
            columns = [([k], float(alphas[k])) for k in range(n_targets)]
        n_features = X.shape[1]
        coef = np.zeros((n_features, n_targets), X.dtype)
        intercept = np.zeros(n_targets, X.dtype)
        gaps = np.zeros(n_targets, X.dtype)
        n_iter = np.zeros(n_targets, np.int32)
        for index, alpha in columns:
            target = targets[:, index]
            solution = _solve_quietly(
                X, target, _losses.SquaredLoss(),
                _penalties.L2(alpha / total, positive=bool(self.positive)),
                init=np.zeros((n_features,) + target.shape[1:], X.dtype), **options)
            coef[:, index] = solution.coef
            intercept[index] = solution.intercept if self.fit_intercept else 0.0
            gaps[index] = solution.dual_gap
            n_iter[index] = solution.n_iter
            if self.positive and not bool(solution.converged):
                threshold = float(self.tol) * _null_squared(target, s)
                _warn_not_converged(self, solution.n_iter, solution.dual_gap, threshold,
                                    "||y - mean(y)||^2 / n")
        if y.ndim == 1:
            self.coef_, self.intercept_ = coef[:, 0], float(intercept[0])
            self.dual_gap_ = float(gaps[0])
        else:
            self.coef_, self.intercept_, self.dual_gap_ = coef.T.copy(), intercept, gaps
        self.n_iter_ = n_iter
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# --------------------------------------------------------------------------
# Quantile regression
# --------------------------------------------------------------------------


class QuantileRegressor(_LinearRegressor):
    r"""Linear quantile regression with an L1 penalty (scikit-learn's ``QuantileRegressor``).

    Minimises, over :math:`w` and the unpenalized intercept :math:`b`,

    .. math::
        \frac1S\sum_i s_i\,\rho_\tau(y_i - x_i^\top w - b) + \alpha\|w\|_1,
        \qquad \rho_\tau(r) = \max(\tau r, (\tau - 1) r),\ S = \sum_i s_i ,

    which is ``jaxreg.solve(X, y, QuantileLoss(quantile), L1(alpha))``:
    scikit-learn's objective, whose linear program
    :math:`\min \sum_i s_i\rho_\tau(r_i) + S\alpha\|w\|_1` it solves with
    HiGHS. jaxreg solves the same linear program with a primal–dual
    interior-point (Frisch–Newton) method,
    :func:`jaxreg.solvers.interior_point` (with more than 1000 features, the
    first-order :func:`jaxreg.solvers.primal_dual`; see
    :func:`jaxreg.choose_solver`).

    Parameters
    ----------
    quantile : float, default=0.5
        :math:`\tau \in (0, 1)`; 0.5 is least absolute deviations (up to a factor 2).
    alpha : float, default=1.0
        :math:`\alpha \ge 0`.
    fit_intercept : bool, default=True
    solver : str, default="highs"
        Accepted for compatibility (any of scikit-learn's names); jaxreg
        always uses its own solver (above).
    solver_options : dict, default=None
        Options of jaxreg's solver: ``"tol"`` (default 1e-10: stop when the
        duality gap is at most ``tol`` times the objective of the best
        constant model) and ``"max_iter"`` (default: the solver's, 100
        Newton steps of the interior point).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
        Newton steps (primal–dual iterations with more than 1000 features).
    dual_gap_ : float
        Duality gap at the returned point (objective units): it bounds the
        suboptimality.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    The minimiser of this linear program need not be unique; the objective
    value is. HiGHS returns a vertex of the optimal set; the interior point
    returns a point inside it (away from its vertices; the centre for
    symmetric problems), with the objective optimal to within
    ``dual_gap_``. The two coincide where the minimiser is unique (almost
    surely with continuous data). float32 input is fitted in float64.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import QuantileRegressor
    >>> X = np.arange(5.0)[:, None]
    >>> model = QuantileRegressor(alpha=0.0).fit(X, [1.0, 3.0, 5.0, 7.0, 100.0])
    >>> round(float(model.coef_[0]), 6), round(model.intercept_, 6)
    (2.0, 1.0)
    """

    _parameter_constraints = dict(_sk.QuantileRegressor._parameter_constraints)
    _OPTIONS = {"tol": 1e-10, "max_iter": None}

    def __init__(self, *, quantile=0.5, alpha=1.0, fit_intercept=True, solver="highs",
                 solver_options=None):
        self.quantile = quantile
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.solver_options = solver_options

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        self._validate_params()
        options = dict(self._OPTIONS)
        unknown = set(self.solver_options or {}) - set(options)
        if unknown:
            raise ValueError(f"QuantileRegressor's solver_options takes {sorted(options)} "
                             f"(jaxreg's solver); got {sorted(unknown)}.")
        options.update(self.solver_options or {})
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=False)
        y = np.asarray(y, dtype=np.float64)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        solution = _solve_quietly(
            X, y, _losses.QuantileLoss(float(self.quantile)), _penalties.L1(float(self.alpha)),
            sample_weight=s, fit_intercept=self.fit_intercept, tol=float(options["tol"]),
            max_iter=options["max_iter"], init=None, solver="auto")
        if not bool(solution.converged):
            warnings.warn(
                f"QuantileRegressor did not converge in {int(solution.n_iter)} iterations: "
                f"duality gap {float(solution.dual_gap):.3e} > tol {float(options['tol']):.1e} "
                "x (objective of the best constant model). Increase "
                "solver_options['max_iter'] or standardise X.",
                ConvergenceWarning, stacklevel=2)
        self.coef_ = np.asarray(solution.coef)
        self.intercept_ = float(solution.intercept) if self.fit_intercept else 0.0
        self.n_iter_ = int(solution.n_iter)
        self.dual_gap_ = float(solution.dual_gap)
        return self


# --------------------------------------------------------------------------
# Huber regression with a concomitant scale
# --------------------------------------------------------------------------


def _huber_H(z, epsilon):
    r"""scikit-learn's :math:`H_\epsilon(z)`: :math:`z^2` for :math:`|z| \le \epsilon`, else
    :math:`2\epsilon|z| - \epsilon^2`."""
    a = np.abs(z)
    return np.where(a <= epsilon, a**2, 2.0 * epsilon * a - epsilon**2)


def _huber_objective(r, s, sigma, w, epsilon, alpha):
    r""":math:`\sum_i s_i\sigma(1 + H_\epsilon(r_i/\sigma)) + \alpha\|w\|^2`."""
    return float(np.sum(s * sigma * (1.0 + _huber_H(r / sigma, epsilon))) + alpha * (w @ w))


def _huber_scale(r, s, epsilon, floor):
    r"""The best scale for fixed residuals.

    :math:`\arg\min_{\sigma>0}\sum_i s_i\sigma(1 + H_\epsilon(r_i/\sigma))`.

    The derivative in :math:`\sigma`, :math:`\sum_i s_i(1 - \min(r_i^2/\sigma^2, \epsilon^2))`,
    increases; between two breakpoints :math:`|r_i|/\epsilon` the inliers
    (:math:`|r_i| < \epsilon\sigma`) are fixed and its root is
    :math:`\sigma^2 = \sum_{\text{in}} s_i r_i^2 / (S - \epsilon^2 S_{\text{out}})`.
    ``floor`` (scikit-learn's lower bound of :math:`\sigma`) where the minimum
    is at :math:`\sigma \to 0` (e.g. all residuals zero).
    """
    keep = s > 0
    a, s = np.abs(r[keep]), s[keep]
    order = np.argsort(a)
    a, s = a[order], s[order]
    total = s.sum()
    # k inliers (the k smallest |r|), k = 0..m.
    squares = np.concatenate([[0.0], np.cumsum(s * a**2)])
    outside = total - np.concatenate([[0.0], np.cumsum(s)])
    denominator = total - epsilon**2 * outside
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.sqrt(np.where(denominator > 0, squares / denominator, np.inf))
    lower = np.concatenate([[0.0], a]) / epsilon          # sigma >= |r_(k-1)| / eps
    upper = np.concatenate([a, [np.inf]]) / epsilon       # sigma <= |r_(k)| / eps
    valid = (denominator > 0) & (sigma >= lower * (1 - 1e-12)) & (sigma <= upper * (1 + 1e-12))
    if not valid.any():
        return floor
    return max(float(sigma[np.argmax(valid)]), floor)


class _HuberCertificate:
    r"""Duality gap of the joint :math:`(w, b, \sigma)` Huber problem.

    Dual: :math:`\max_u D(u) = u^\top y - \|X^\top u\|^2/(4\alpha)` over
    :math:`\sum_i u_i = 0` (with an intercept), :math:`|u_i| \le 2\epsilon s_i`
    and :math:`\sum_i u_i^2/(4 s_i) \le S` (for :math:`\alpha = 0`,
    :math:`X^\top u = 0` replaces the quadratic term). The candidate
    :math:`u_i = 2 s_i\,\mathrm{clip}(r_i/\sigma, \pm\epsilon)` is projected (in
    the metric of :math:`1/s`) onto the optimality conditions
    :math:`\sum_i u_i = 0`, :math:`X^\top u = 2\alpha w` (they hold at the
    solution, and without them a small :math:`\alpha` would make the quadratic
    term, hence the gap, huge), then scaled into the box and the ellipsoid.
    The projector, from :math:`A = [1, X]`, is computed once per fit.
    """

    def __init__(self, X, y, s, epsilon, alpha, fit_intercept):
        self.X, self.y, self.s = X, y, s
        self.epsilon, self.alpha, self.fit_intercept = epsilon, alpha, fit_intercept
        self.A = np.column_stack([np.ones_like(y), X]) if fit_intercept else X
        self.gram_pinv = np.linalg.pinv(self.A.T @ (s[:, None] * self.A), hermitian=True)
        self.total = float(s.sum())

    def objective(self, w, b, sigma):
        r = self.y - self.X @ w - b
        return _huber_objective(r, self.s, sigma, w, self.epsilon, self.alpha), r

    def _dual(self, u):
        """:math:`D(t u)` with ``t`` the largest scaling into the box and the ellipsoid."""
        s, epsilon = self.s, self.epsilon
        positive = s > 0
        u = np.where(positive, u, 0.0)
        ratio = np.abs(u[positive]) / (2.0 * epsilon * s[positive])
        t = 1.0 / max(1.0, float(ratio.max(initial=0.0)))
        ellipsoid = float(np.sum(u[positive] ** 2 / (4.0 * s[positive])))
        if ellipsoid > self.total:
            t = min(t, np.sqrt(self.total / ellipsoid))
        u = t * u
        Xu = self.X.T @ u
        if self.alpha > 0:
            return float(u @ self.y) - float(Xu @ Xu) / (4.0 * self.alpha)
        return float(u @ self.y)

    def gap(self, w, b, sigma, u=None):
        r"""``(gap, objective)`` at ``(w, b, sigma)``: the best of the dual candidates.

        The candidate shifted to :math:`\sum_i u_i = 0` (exact where the
        residuals determine :math:`u`), the one projected onto the
        optimality conditions (where they do not: :math:`\sigma \to 0`), and
        ``u`` (shifted and projected) when given. Every feasible point bounds
        the optimum, so the best one is a valid certificate.
        """
        primal, r = self.objective(w, b, sigma)
        candidates = [2.0 * self.s * np.clip(r / sigma, -self.epsilon, self.epsilon)]
        if u is not None:
            candidates.append(np.asarray(u, np.float64))
        target = 2.0 * self.alpha * w
        if self.fit_intercept:
            target = np.concatenate([[0.0], target])
        duals = []
        for u in candidates:
            correction = self.A @ (self.gram_pinv @ (self.A.T @ u - target))
            duals.append(self._dual(u - self.s * correction))
            # Without a ridge the dual needs X^T u = 0, which only the
            # projection gives: a merely shifted candidate would not bound
            # anything (it once reported a negative gap at a point 5e-7
            # above the optimum).
            if self.alpha > 0:
                duals.append(self._dual(u - self.s * (u.sum() / self.total))
                             if self.fit_intercept else self._dual(u))
        return primal - max(duals), primal

    def _split(self, theta):
        if self.fit_intercept:
            return theta[1:], float(theta[0])
        return theta, 0.0

    def polish(self, w, b, sigma, floor, zero_tol):
        r"""Solve the optimality conditions exactly on the current active sets.

        For :math:`\sigma > 0` with the inliers :math:`I` (:math:`|r_i| \le
        \epsilon\sigma`) and the signs :math:`g` of the outliers :math:`O`
        fixed, :math:`F` is smooth: :math:`\theta = (b, w)` solves
        :math:`(A_I^\top S_I A_I + \sigma\alpha D)\,\theta = A_I^\top S_I y_I +
        \epsilon\sigma A_O^\top S_O g` (:math:`D` the identity without the
        intercept) and :math:`\sigma^2 (S - \epsilon^2 S_O) = \sum_I s_i r_i^2`,
        a scalar equation solved by the secant method. At :math:`\sigma \to 0`
        the samples with :math:`|r_i| \le` ``zero_tol`` are interpolated:
        :math:`2\alpha D\theta - A_Z^\top\lambda = 2\epsilon A_O^\top S_O g`,
        :math:`A_Z\theta = y_Z`, and :math:`(\lambda, 2\epsilon S_O g)` is
        the dual point. Returns ``(w, b, sigma, u)`` (``u`` None for
        :math:`\sigma > 0`), or None when the system is not usable; the caller
        keeps the result only if its certificate is better.
        """
        A, y, s, epsilon, alpha = self.A, self.y, self.s, self.epsilon, self.alpha
        d = np.ones(A.shape[1])
        if self.fit_intercept:
            d[0] = 0.0
        r = y - self.X @ w - b
        positive = s > 0
        if sigma > 2 * floor:
            inlier = positive & (np.abs(r) <= epsilon * sigma)
            outlier = positive & ~inlier
            denominator = self.total - epsilon**2 * float(s[outlier].sum())
            if not inlier.any() or denominator <= 0:
                return None
            AI = A[inlier]
            G = AI.T @ (s[inlier, None] * AI)
            c = AI.T @ (s[inlier] * y[inlier])
            g = A[outlier].T @ (s[outlier] * np.sign(r[outlier]))

            def theta_at(t):
                return np.linalg.lstsq(G + t * alpha * np.diag(d), c + epsilon * t * g,
                                       rcond=None)[0]

            def excess(t):
                rI = y[inlier] - AI @ theta_at(t)
                return t * t * denominator - float(s[inlier] @ rI**2)

            t0, t1 = sigma, sigma * 1.01
            f0, f1 = excess(t0), excess(t1)
            for _ in range(50):
                if f1 == f0:
                    break
                t2 = t1 - f1 * (t1 - t0) / (f1 - f0)
                if not np.isfinite(t2) or t2 <= 0:
                    return None
                t0, f0, t1 = t1, f1, t2
                f1 = excess(t1)
                if abs(t1 - t0) <= 1e-15 * t1:
                    break
            w, b = self._split(theta_at(t1))
            return w, b, t1, None
        zero = positive & (np.abs(r) <= zero_tol)
        outlier = positive & ~zero
        if not zero.any():
            return None
        AZ = A[zero]
        m = AZ.shape[0]
        g = A[outlier].T @ (s[outlier] * np.sign(r[outlier]))
        kkt = np.block([[2.0 * alpha * np.diag(d), -AZ.T], [AZ, np.zeros((m, m))]])
        solution = np.linalg.lstsq(kkt, np.concatenate([2.0 * epsilon * g, y[zero]]),
                                   rcond=None)[0]
        theta, multipliers = solution[:A.shape[1]], solution[A.shape[1]:]
        u = np.zeros_like(y)
        u[zero] = multipliers
        u[outlier] = 2.0 * epsilon * s[outlier] * np.sign(r[outlier])
        w, b = self._split(theta)
        return w, b, floor, u


class HuberRegressor(_LinearRegressor):
    r"""Huber regression with a concomitant scale (scikit-learn's ``HuberRegressor``).

    Minimises, jointly over :math:`w`, the intercept :math:`b` and the scale
    :math:`\sigma > 0`,

    .. math::
        F(w, b, \sigma) = \sum_i s_i\,\sigma\Big(1 + H_\epsilon\Big(
        \frac{y_i - x_i^\top w - b}{\sigma}\Big)\Big) + \alpha\|w\|_2^2, \qquad
        H_\epsilon(z) = \begin{cases} z^2 & |z| \le \epsilon \\
                                       2\epsilon|z| - \epsilon^2 & |z| > \epsilon \end{cases}

    (scikit-learn's objective, with the raw weights :math:`s_i`; jointly convex:
    Owen 2007). For a fixed :math:`\sigma`,
    :math:`\sigma H_\epsilon(r/\sigma) = (2/\sigma)\,h_{\epsilon\sigma}(r)` with
    :math:`h_\delta` jaxreg's :class:`~jaxreg.losses.HuberLoss`, so
    :math:`F = S\sigma + \frac{2S}{\sigma}\big[\frac1S\sum_i s_i h_{\epsilon\sigma}(r_i)
    + \frac{\alpha\sigma}{2S}\|w\|^2\big]`: a :func:`jaxreg.solve` with
    ``HuberLoss(epsilon * sigma)`` and ``L2(alpha * sigma / S)``.

    The fit (every step lowers :math:`F`) repeats, until the duality gap of
    the *joint* problem (Notes) is at most ``tol`` times :math:`F`:

    1. an active-set step: with the inliers :math:`|r_i| \le \epsilon\sigma`
       and the outliers' signs fixed, :math:`F` is smooth and its minimiser
       solves a :math:`(p+1)`-dimensional linear system and a scalar equation
       in :math:`\sigma` (Newton-like: exact once the sets are right; kept
       only if it lowers both :math:`F` and the gap);
    2. otherwise, the solve above at the current :math:`\sigma`
       (warm-started FISTA), then the exact minimisation in :math:`\sigma`
       for the new residuals, a one-dimensional convex problem with a closed
       form (:func:`_huber_scale`);
    3. when :math:`\sigma` collapses (below 1e-3 of its start), the limit
       :math:`\sigma \to 0`, least absolute deviations with a ridge, by
       jaxreg's primal-dual solver (``AbsoluteLoss`` with
       ``L2(alpha / (epsilon S))``): data that a plane fits exactly have their
       optimum there (scikit-learn's L-BFGS-B stops at its bound
       :math:`\sigma = 10\,\varepsilon`, which is also what ``scale_`` reports).

    A last active-set step polishes the converged point.

    Parameters
    ----------
    epsilon : float, default=1.35
        :math:`\epsilon \ge 1`: residuals beyond :math:`\epsilon\sigma` count
        linearly (outliers).
    max_iter : int, default=100
        Maximal number of the steps above (``n_iter_`` counts them).
    alpha : float, default=1e-4
        :math:`\alpha \ge 0`.
    warm_start : bool, default=False
        Start from the previous ``coef_``, ``intercept_`` and ``scale_``.
    fit_intercept : bool, default=True
    tol : float, default=1e-5
        Stop when the joint duality gap is at most ``tol`` times the
        objective :math:`F` (plus :math:`S` times the bound
        :math:`10\,\varepsilon` on :math:`\sigma`, which the dual does not
        see): a relative gap, where scikit-learn's ``tol`` is L-BFGS-B's
        gradient tolerance. scikit-learn's fit also stops on L-BFGS-B's
        default relative decrease of 2.2e-9, which on the test problems leaves
        its coefficients ~1e-5 (relative) from the optimum; ours are certified.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    scale_ : float
        The fitted :math:`\sigma`.
    outliers_ : ndarray of shape (n_samples,), bool
        :math:`|r_i| > \epsilon\sigma`.
    n_iter_ : int
        Steps performed (active-set steps, solves at fixed scale, and the
        zero-scale solve).
    dual_gap_ : float
        Duality gap of the joint problem at the returned point (objective
        units): it bounds :math:`F - F^\star`.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Certificate: with :math:`f(r, \sigma) = \sigma\sum_i s_i(1 + H_\epsilon(r_i/\sigma))`
    the perspective of :math:`\Phi(r) = \sum_i s_i(1 + H_\epsilon(r_i))`, whose
    conjugate is 0 on :math:`\{(u, v): v + \Phi^*(u) \le 0\}`, the dual is

    .. math::
        \max_u\ u^\top y - \frac{\|X^\top u\|^2}{4\alpha}
        \quad\text{s.t.}\quad \sum_i u_i = 0,\ |u_i| \le 2\epsilon s_i,\
        \sum_i \frac{u_i^2}{4 s_i} \le S ,

    (:math:`X^\top u = 0` instead of the quadratic term when
    :math:`\alpha = 0`, and no :math:`\sum_i u_i = 0` without an intercept).
    The dual points tried are
    :math:`u_i = 2 s_i\,\mathrm{clip}(r_i/\sigma, \pm\epsilon)` (and, at
    :math:`\sigma \to 0`, the multipliers of the interpolated samples),
    shifted, or projected onto the optimality conditions, then scaled into the
    feasible set; the best one gives the gap (:class:`_HuberCertificate`).

    ``float32`` input is fitted in float64 (the scale loop and its
    certificate need the accuracy).

    References
    ----------
    Owen (2007), A robust hybrid of lasso and ridge regression.
    Contemporary Mathematics 443.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import HuberRegressor
    >>> X = np.arange(8.0)[:, None]
    >>> y = 2.0 * X[:, 0] + 1.0 + np.array([0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, 30.0])
    >>> model = HuberRegressor(alpha=0.0).fit(X, y)
    >>> round(float(model.coef_[0]), 2), bool(model.outliers_[-1])
    (2.02, True)
    """

    _parameter_constraints = dict(_sk.HuberRegressor._parameter_constraints)
    _INNER_MAX_ITER = 2000
    _POLISH_MAX_FEATURES = 1000

    def __init__(self, *, epsilon=1.35, max_iter=100, alpha=0.0001, warm_start=False,
                 fit_intercept=True, tol=1e-05):
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.alpha = alpha
        self.warm_start = warm_start
        self.fit_intercept = fit_intercept
        self.tol = tol

    def _zero_scale(self, Xc, y, s, w, b, mean, certificate, floor):
        r"""The limit :math:`\sigma \to 0`: least absolute deviations with a ridge.

        :math:`F(w, b, 0^+) = 2\epsilon\sum_i s_i|r_i| + \alpha\|w\|^2`, which is
        :math:`2\epsilon S` times ``AbsoluteLoss`` with ``L2(alpha / (epsilon S))``
        (:func:`jaxreg.solvers.primal_dual`). Its dual point :math:`v`
        (:math:`\partial|y - z|/\partial z`) gives the joint candidate
        :math:`u = -2\epsilon\, s \odot v`. Returns ``(w, b, sigma, objective, gap)``.
        """
        epsilon, alpha, tol = float(self.epsilon), float(self.alpha), float(self.tol)
        total = float(s.sum())
        null_bound = float(s @ np.abs(y - b)) / total
        wanted = 0.1 * tol * certificate.objective(w, b, floor)[0] / (2.0 * epsilon * total)
        solution = _solve_quietly(
            Xc, y, _losses.AbsoluteLoss(), _penalties.L2(alpha / (epsilon * total)),
            sample_weight=s, fit_intercept=self.fit_intercept, init=w, solver="primal_dual",
            tol=max(wanted / max(null_bound, np.finfo(np.float64).tiny), 1e-12))
        w = np.asarray(solution.coef, np.float64)
        b = float(solution.intercept) - float(mean @ w) if self.fit_intercept else 0.0
        u = -2.0 * epsilon * s * np.asarray(solution.state, np.float64)
        gap, primal = certificate.gap(w, b, floor, u=u)
        return w, b, floor, primal, gap

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative raw weights (not rescaled).

        Returns
        -------
        self : object
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=False)
        y = np.asarray(y, dtype=np.float64)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        epsilon, alpha, tol = float(self.epsilon), float(self.alpha), float(self.tol)
        total = float(s.sum())
        floor = 10 * np.finfo(np.float64).eps   # scikit-learn's lower bound on sigma
        n_features = X.shape[1]
        certificate = _HuberCertificate(X, y, s, epsilon, alpha, self.fit_intercept)
        # With an intercept the solves see the weighted-centred X (b' = b + mean.w,
        # an exact change of variables), so that first-order steps are not
        # slowed down by un-centred columns.
        mean = s @ X / total if self.fit_intercept else np.zeros(n_features)
        Xc = X - mean if self.fit_intercept else X
        if self.warm_start and getattr(self, "coef_", None) is not None \
                and np.shape(self.coef_) == (n_features,):
            w, b = np.array(self.coef_, np.float64), float(self.intercept_)
        else:
            # The least-squares null model (a median would make half of the
            # residuals exactly zero and start the scale near 0).
            w, b = np.zeros(n_features), (float(s @ y) / total if self.fit_intercept else 0.0)
        sigma = _huber_scale(y - X @ w - b, s, epsilon, floor)
        sigma_start = sigma
        gap, primal = certificate.gap(w, b, sigma)
        # F >= S sigma >= S floor, which the dual (a bound over all sigma > 0)
        # does not see; round-off is relative to the starting objective.
        slack = total * floor + 64 * np.finfo(np.float64).eps * primal
        spread = float(s @ np.abs(y - s @ y / total)) / total
        zero_tol = 1e-6 * (spread if spread > 0 else 1.0)

        def polished(w, b, sigma, primal, gap):
            """The polished point and its certificate, if it improves on both."""
            if n_features > self._POLISH_MAX_FEATURES:
                return None
            candidate = certificate.polish(w, b, sigma, floor, zero_tol)
            if candidate is None:
                return None
            w, b, sigma, u = candidate
            if sigma > floor:
                sigma = _huber_scale(y - X @ w - b, s, epsilon, floor)
            new_gap, new_primal = certificate.gap(w, b, sigma, u=u)
            # Keep it if it lowers both the objective and the gap (wrong sets can
            # give a point with a small gap but a larger objective).
            if new_gap < gap and new_primal <= primal:
                return w, b, sigma, new_primal, new_gap
            return None

        n_iter, tried_zero_scale = 0, False
        while gap > tol * primal + slack and n_iter < self.max_iter:
            # Newton-like step on the current active sets (exact once they are right).
            candidate = polished(w, b, sigma, primal, gap)
            if candidate is not None:
                w, b, sigma, primal, gap = candidate
                n_iter += 1
                continue
            if sigma < 1e-3 * sigma_start and not tried_zero_scale:
                # The scale collapses: the optimum may be at sigma -> 0, least
                # absolute deviations with a ridge (see _zero_scale).
                tried_zero_scale = True
                n_iter += 1
                candidate = self._zero_scale(Xc, y, s, w, b, mean, certificate, floor)
                if candidate[3] < primal:
                    w, b, sigma, primal, gap = candidate
                continue
            # The problem at fixed sigma, in jaxreg's units
            # J = (sigma / 2S)(F - S sigma): ask for a gap below a tenth of the
            # outer one, relative to an upper bound on J's P_null (its value
            # at w = 0 and the current b).
            delta = epsilon * sigma
            r0 = np.abs(y - b)
            null_bound = float(s @ np.where(r0 <= delta, 0.5 * r0**2, delta * (r0 - 0.5 * delta)))
            null_bound /= total
            wanted = 0.1 * tol * primal * sigma / (2.0 * total)
            inner_tol = max(wanted / max(null_bound, np.finfo(np.float64).tiny), 1e-14)
            solution = _solve_quietly(
                Xc, y, _losses.HuberLoss(delta), _penalties.L2(alpha * sigma / total),
                sample_weight=s, fit_intercept=self.fit_intercept, tol=inner_tol, init=w,
                max_iter=self._INNER_MAX_ITER, solver="fista")
            w = np.asarray(solution.coef, np.float64)
            b = float(solution.intercept) - float(mean @ w) if self.fit_intercept else 0.0
            sigma = _huber_scale(y - X @ w - b, s, epsilon, floor)
            gap, primal = certificate.gap(w, b, sigma)
            n_iter += 1
        if gap > slack:
            # A last polish: within tol already, but exact when the sets are right.
            candidate = polished(w, b, sigma, primal, gap)
            if candidate is not None:
                w, b, sigma, primal, gap = candidate
        if gap > tol * primal + slack:
            warnings.warn(
                f"HuberRegressor did not converge in {n_iter} scale updates: duality gap "
                f"{gap:.3e} > tol {tol:.1e} x objective {primal:.3e}. Increase max_iter "
                "or standardise X.", ConvergenceWarning, stacklevel=2)
        self.coef_ = w
        self.intercept_ = b
        self.scale_ = sigma
        self.outliers_ = np.abs(y - X @ w - b) > epsilon * sigma
        self.n_iter_ = n_iter
        self.dual_gap_ = float(gap)
        return self


# --------------------------------------------------------------------------
# Logistic regression
# --------------------------------------------------------------------------


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


_LOGISTIC_INNER_MAX_ITER = 1000     # epochs of each weighted least-squares solve


def _common_shift(W, l1_ratio):
    r"""The best common shift of the classes, per row of ``W`` (n_features, K).

    .. math:: c = \arg\min_c \sum_k \rho|w_k - c| + \frac{1-\rho}{2}(w_k - c)^2

    Adding the same vector to every class's coefficients leaves the softmax,
    hence the multinomial loss, unchanged; this is the best such move for the
    penalty (the mean for :math:`\rho = 0`, a median for :math:`\rho = 1`). The
    function of :math:`c` is convex and piecewise quadratic, with breakpoints
    at the :math:`w_k`: its minimum is at a breakpoint or at the stationary
    point of one of the K + 1 pieces, all of which are tried.
    """
    if l1_ratio == 0:
        return W.mean(axis=1)
    K = W.shape[1]
    ordered = np.sort(W, axis=1)
    candidates = [ordered]
    if l1_ratio < 1:
        total = W.sum(axis=1)
        for below in range(K + 1):          # the piece with `below` of the w_k under c
            c = (total - l1_ratio * (2 * below - K) / (1.0 - l1_ratio)) / K
            low = ordered[:, below - 1] if below > 0 else -np.inf
            high = ordered[:, below] if below < K else np.inf
            candidates.append(np.clip(c, low, high)[:, None])
    candidates = np.concatenate(candidates, axis=1)            # (n_features, n_candidates)
    d = W[:, None, :] - candidates[:, :, None]
    value = l1_ratio * np.abs(d).sum(-1) + 0.5 * (1.0 - l1_ratio) * (d**2).sum(-1)
    return candidates[np.arange(W.shape[0]), np.argmin(value, axis=1)]


class _LogisticProblem:
    r"""The logistic objective in jaxreg's units on one training set, and its proximal Newton fit.

    :math:`f(W, b) = \frac1S\sum_i s_i \ell(y_i, x_i^\top W + b) +
    \alpha\big(\rho\|W\|_1 + \frac{1-\rho}{2}\|W\|_F^2\big)`, which is
    scikit-learn's objective divided by :math:`CS` when
    :math:`\alpha = 1/(CS)` (:meth:`at`). The targets are kept as 0/1 columns
    (``onehot``; one column for two classes) and in the form of jaxreg's loss
    (``target``: :math:`\pm1` or ``0..K-1``). With an intercept, ``X`` is
    centred by its weighted column means (``mean``): an exact change of
    variables, :math:`b' = b + \bar x_s^\top W`, that speeds up the solves.
    ``W`` (n_features, n_columns) and ``b`` (n_columns,) below are in the
    centred variables; :meth:`coef_intercept` maps them back. Everything but
    the compiled :func:`jaxreg.solve` and certificate calls is NumPy.
    """

    def __init__(self, X, index, s, n_classes, *, fit_intercept):
        dtype = X.dtype
        self.s, self.total = s, float(s.sum())
        self.binary = n_classes == 2
        self.fit_intercept = bool(fit_intercept)
        if self.binary:
            self.target = np.where(index == 1, 1.0, -1.0).astype(dtype)
            self.loss = _losses.LogisticLoss()
            self.onehot = (index == 1).astype(dtype)[:, None]
        else:
            self.target = index.astype(np.int32)
            self.loss = _losses.MultinomialLoss(n_classes=n_classes)
            self.onehot = np.eye(n_classes, dtype=dtype)[index]
        self.mean = ((s @ X / self.total).astype(dtype) if self.fit_intercept
                     else np.zeros(X.shape[1], dtype))
        self.X = X - self.mean
        self.alpha, self.l1_ratio = 0.0, 0.0

    def at(self, C, l1_ratio):
        """The same data with scikit-learn's ``C`` (``inf``: no penalty) and ``l1_ratio``."""
        problem = copy.copy(self)
        # Python floats: weakly typed in JAX, so float32 problems stay float32.
        problem.alpha = 0.0 if C == np.inf else 1.0 / (float(C) * self.total)
        problem.l1_ratio = float(l1_ratio)
        return problem

    @property
    def columns(self):
        return self.onehot.shape[1]

    def scores(self, W, b):
        return self.X @ W + b

    def probabilities(self, Z):
        if self.binary:
            return 0.5 * (1.0 + np.tanh(0.5 * Z))     # the sigmoid, without overflow
        return _softmax(Z)

    def penalty(self, W):
        if self.alpha == 0:
            return 0.0
        return self.alpha * float(self.l1_ratio * np.abs(W).sum()
                                  + 0.5 * (1.0 - self.l1_ratio) * (W**2).sum())

    def objective(self, W, b):
        Z = self.scores(W, b)
        if self.binary:
            losses = np.logaddexp(0.0, -(2.0 * self.onehot[:, 0] - 1.0) * Z[:, 0])
        else:
            losses = np.logaddexp.reduce(Z, axis=1) - np.sum(self.onehot * Z, axis=1)
        return float(self.s @ losses) / self.total + self.penalty(W)

    def null_intercept(self):
        """The intercept(s) of the best constant model (log-odds, log-frequencies)."""
        frequency = np.clip(self.s @ self.onehot / self.total, 1e-12, 1.0)
        if self.binary:
            return np.log(frequency) - np.log(np.clip(1.0 - frequency, 1e-12, 1.0))
        logs = np.log(frequency)
        return logs - logs.mean()

    def null_objective(self):
        """:math:`P_{\text{null}}`, the objective of the best constant model (w = 0)."""
        b = self.null_intercept() if self.fit_intercept else np.zeros(self.columns)
        return self.objective(np.zeros((self.X.shape[1], self.columns)), b)

    def start(self, coef=None, intercept=None):
        """``(W, b)`` from scikit-learn's ``coef_`` and ``intercept_``, or the null model."""
        dtype = self.X.dtype
        if coef is not None:
            W = np.array(coef, dtype).T
            b = (np.asarray(intercept, dtype) + self.mean @ W if self.fit_intercept
                 else np.zeros(self.columns, dtype))
            return W, b
        W = np.zeros((self.X.shape[1], self.columns), dtype)
        if not self.fit_intercept:
            return W, np.zeros(self.columns, dtype)
        return W, self.null_intercept().astype(dtype)

    def coef_intercept(self, W, b):
        """scikit-learn's ``coef_`` (n_columns, n_features) and ``intercept_`` (n_columns,)."""
        if not self.fit_intercept:
            b = np.zeros_like(b)
        else:
            b = b - self.mean @ W
            if not self.binary:
                b = b - b.mean()       # the softmax does not see a common shift
        return W.T.copy(), b.astype(self.X.dtype)

    def certify(self, W, b):
        """``(dual_gap, P_null)`` of jaxreg's problem (compiled)."""
        penalty = (None if self.alpha == 0 else
                   _penalties.ElasticNetPenalty(self.alpha, self.l1_ratio))
        return _certificate(self.X, self.target, self.loss, penalty,
                            W[:, 0] if self.binary else W, b[0] if self.binary else b,
                            sample_weight=self.s, fit_intercept=self.fit_intercept,
                            fill=1.0 if self.binary else 0)

    def fit(self, W, b, *, tol, max_iter):
        r"""Proximal Newton iterations from ``(W, b)``, until the gap is at most ``tol`` P_null.

        Returns ``(W, b, n_iter, gap, P_null)``; the caller warns when
        ``gap > tol * P_null``.
        """
        objective = self.objective(W, b)
        gap, scale = self.certify(W, b)
        n_iter = 0
        while gap > tol * scale and n_iter < max_iter:
            # One (block) proximal Newton sweep: per class, a weighted
            # least-squares model solved by jaxreg (coordinate descent), then a
            # backtracking line search on the objective; stop on the duality gap.
            for k in range(self.columns):
                W, b, objective = self.newton_step(W, b, k, objective, tol=tol)
            if not self.binary and self.alpha > 0:
                # The class sweeps hardly move along the direction that shifts
                # every class by the same vector (only the penalty curves it):
                # take the exact step there (the loss does not change).
                shifted = W - _common_shift(W, self.l1_ratio)[:, None]
                if self.penalty(shifted) < self.penalty(W):
                    W, objective = shifted, self.objective(shifted, b)
            n_iter += 1
            gap, scale = self.certify(W, b)
        return W, b, n_iter, gap, scale

    def newton_step(self, W, b, k, objective, *, tol):
        r"""Proximal Newton step in the coefficients of column ``k`` (one class).

        The second-order model of the loss in :math:`(w_k, b_k)` is the
        weighted least-squares problem
        :math:`\frac1S\sum_i \frac{h_i}{2}(t_i - x_i^\top w_k - b_k)^2`, with
        :math:`h_i = s_i p_{ik}(1 - p_{ik})` and the working response
        :math:`t_i = z_{ik} + (y_{ik} - p_{ik})/(p_{ik}(1 - p_{ik}))` (IRLS;
        glmnet's inner problem); with the penalty it is ``jaxreg.solve`` with
        :class:`~jaxreg.losses.SquaredLoss`, weights :math:`h` and
        ``ElasticNetPenalty(alpha * S / sum(h), l1_ratio)``. The step is then
        halved until the objective decreases enough (Armijo).
        """
        Z = self.scores(W, b)
        p = self.probabilities(Z)[:, k]
        variance = np.maximum(p * (1.0 - p), 1e-10)
        h = self.s * variance
        working = Z[:, k] + (self.onehot[:, k] - p) / variance
        dtype = self.X.dtype
        floor = 1e-14 if dtype == np.float64 else 2e-6
        inner_tol = max(min(1e-3 * float(tol), 1e-7), floor)
        if self.alpha > 0:
            penalty = _penalties.ElasticNetPenalty(self.alpha * self.total / float(h.sum()),
                                                   self.l1_ratio)
            options = dict(solver="cd", max_iter=_LOGISTIC_INNER_MAX_ITER, **_cd_options())
        else:
            penalty, options = None, dict(solver="ridge")
        solution = _solve_quietly(
            self.X, working.astype(dtype), _losses.SquaredLoss(), penalty,
            sample_weight=h.astype(dtype), fit_intercept=self.fit_intercept,
            init=W[:, k], tol=inner_tol, **options)
        step_w = np.asarray(solution.coef, dtype) - W[:, k]
        step_b = float(solution.intercept) - b[k] if self.fit_intercept else 0.0
        residual = self.s * (p - self.onehot[:, k]) / self.total
        decrease = (self.X.T @ residual) @ step_w + residual.sum() * step_b
        penalty_now = self.penalty(W[:, k])
        t = 1.0
        for _ in range(40):
            W_new, b_new = W.copy(), b.copy()
            W_new[:, k] += t * step_w
            b_new[k] += t * step_b
            expected = t * decrease + self.penalty(W_new[:, k]) - penalty_now
            candidate = self.objective(W_new, b_new)
            # Armijo, with room for the round-off of the objective itself: near
            # the optimum the decrease falls below it while the step (and the
            # duality gap, a first-order measure) still improves.
            if candidate <= objective + 1e-4 * expected + 8 * _EPS * abs(objective):
                return W_new, b_new, candidate
            t *= 0.5
        return W, b, objective


def _validate_classifier(estimator, X, y, sample_weight):
    """scikit-learn's validation for the logistic classifiers; sets ``classes_``.

    Returns ``X, y, index, s``: ``index`` the position of each label in
    ``classes_``, ``s`` the validated sample weights (ones when None).
    """
    X, y = validate_data(estimator, X, y, dtype=_FLOATS, accept_sparse=False)
    check_classification_targets(y)
    estimator.classes_ = classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("This solver needs samples of at least 2 classes in the data, "
                         f"but the data contains only one class: {classes[0]!r}")
    s = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
    return X, y, np.searchsorted(classes, y), s


def _class_weighted(estimator, y, index, s):
    """The sample weights times ``class_weight`` (``"balanced"``: from the weighted class totals).

    As scikit-learn's ``compute_class_weight(..., sample_weight=s)``; refuses
    data whose positive weights are all in one class.
    """
    if estimator.class_weight is not None:
        weights = compute_class_weight(estimator.class_weight, classes=estimator.classes_, y=y,
                                       sample_weight=s)
        s = s * weights[index].astype(s.dtype)
    if np.unique(index[s > 0]).size < 2:
        raise ValueError(f"{type(estimator).__name__} needs samples of at least 2 classes with "
                         "a positive weight; the weighted data contain only one class.")
    return s


class LogisticRegression(ClassifierMixin, BaseEstimator):
    r"""Binary and multinomial logistic regression (scikit-learn 1.9's ``LogisticRegression``).

    Minimises, over the coefficients :math:`W` and the unpenalized intercepts :math:`b`,

    .. math::
        C\sum_i s_i\,\ell(y_i, x_i^\top W + b) + \frac{1-\rho}{2}\|W\|_F^2 + \rho\|W\|_1 ,

    with :math:`\rho` = ``l1_ratio``, :math:`\ell` the binary logistic loss
    (two classes, one coefficient vector, the second class of ``classes_``
    positive) or the multinomial cross-entropy (one coefficient vector per
    class). Divided by :math:`CS`, :math:`S = \sum_i s_i`, this is jaxreg's
    problem with :class:`~jaxreg.losses.LogisticLoss` (labels mapped to
    :math:`\pm1`) or :class:`~jaxreg.losses.MultinomialLoss` (labels mapped to
    ``0, ..., K-1``) and ``ElasticNetPenalty(1 / (C S), l1_ratio)``;
    ``C = inf`` fits an unpenalized model.

    Algorithm: proximal Newton (IRLS, glmnet's scheme), whose steps are
    :func:`jaxreg.solve` calls. Each iteration sweeps the classes (one
    coefficient vector for two classes); for class :math:`k` the loss is
    replaced by its second-order model, the weighted least-squares problem
    :math:`\frac1S\sum_i \frac{h_i}{2}(t_i - x_i^\top w_k - b_k)^2`,
    :math:`h_i = s_i p_{ik}(1-p_{ik})`, which with the penalty is solved by
    coordinate descent (``SquaredLoss``, weights :math:`h`), then a
    backtracking line search on the objective. The iterations stop when
    jaxreg's duality gap (:func:`jaxreg.solvers.duality_gap`, compiled) is at
    most ``tol`` times :math:`P_{\text{null}}`. Two classes converge
    quadratically (a handful of iterations, as scikit-learn's
    ``newton-cholesky``), several classes linearly (block sweeps; after each
    sweep the coefficients take the exact step along the direction that
    adds one vector to every class, which the softmax does not see and the
    sweeps hardly move along; at weak regularization, large ``C``, the
    sweeps still need many iterations).

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet", None}, default="deprecated"
        Deprecated in scikit-learn 1.8, as here: use ``l1_ratio`` and ``C``.
        Setting it warns (FutureWarning) and overrides as in scikit-learn.
    C : float, default=1.0
        Inverse regularization strength, :math:`C > 0`.
    l1_ratio : float, default=0.0
        Mixing parameter :math:`\rho \in [0, 1]`.
    dual : bool, default=False
        Accepted for compatibility (liblinear's dual form); unused.
    tol : float, default=1e-4
        Stop when the duality gap is at most ``tol`` times the objective of
        the best intercept-only model (both divided by :math:`CS`); scikit-learn's
        ``tol`` is its solvers' own tolerance (a gradient norm for L-BFGS).
    fit_intercept : bool, default=True
    intercept_scaling : float, default=1
        Accepted for compatibility (liblinear only); the intercept is never
        penalized here.
    class_weight : dict, "balanced" or None, default=None
        Multiplies the sample weights, as in scikit-learn (``"balanced"``
        from the class totals of ``sample_weight``).
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility (the fit is deterministic).
    solver : str, default="lbfgs"
        Accepted for compatibility (any of scikit-learn's names); jaxreg
        always uses the proximal Newton method above, for every penalty.
    max_iter : int, default=100
        Maximal number of Newton iterations (sweeps over the classes).
    verbose : int, default=0
        Accepted for compatibility.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_``.
    n_jobs : None
        Accepted for compatibility (warns as scikit-learn 1.9 when set).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : ndarray of shape (1,), int32
        Newton iterations.
    dual_gap_ : float
        Duality gap at the returned point, in the units of the objective
        divided by :math:`CS`: it bounds the suboptimality.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    The multinomial intercepts are defined up to a common constant (the
    softmax does not change); they are returned with zero sum, as
    scikit-learn's solvers leave them. The solves see ``X`` centred by its
    weighted column means when ``fit_intercept`` (an exact change of
    variables). :class:`LogisticRegressionCV` chooses ``C`` (and
    ``l1_ratio``) by cross-validation.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression(C=10.0, tol=1e-10).fit(X, [0, 0, 1, 1])
    >>> model.predict([[0.2], [2.8]])
    array([0, 1])
    """

    _parameter_constraints = dict(_sk.LogisticRegression._parameter_constraints)

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None, random_state=None,
                 solver="lbfgs", max_iter=100, verbose=0, warm_start=False, n_jobs=None):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def _resolve_penalty(self):
        """(kind, C, l1_ratio) from scikit-learn 1.9's rules for ``penalty``."""
        C, l1_ratio = float(self.C), self.l1_ratio
        if self.penalty == "deprecated":
            if l1_ratio is None:
                warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will trigger "
                              "an error in 1.10. Use 0<=l1_ratio<=1 instead.", FutureWarning)
                l1_ratio = 0.0
            return (None if C == np.inf else "enet"), C, float(l1_ratio)
        warnings.warn(
            "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
            "this warning, leave 'penalty' set to its default value and use 'l1_ratio' or "
            "'C' instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of "
            "penalty='l1', l1_ratio set to a float between 0 and 1 instead of "
            "penalty='elasticnet', and C=np.inf instead of penalty=None.", FutureWarning)
        if self.penalty is None:
            return None, np.inf, 0.0
        if self.penalty == "l2":
            return "enet", C, 0.0
        if self.penalty == "l1":
            return "enet", C, 1.0
        if l1_ratio is None:
            raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
        return "enet", C, float(l1_ratio)

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any hashable, sortable values).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative raw weights (multiplied by ``class_weight``).

        Returns
        -------
        self : object
        """
        self._validate_params()
        kind, C, l1_ratio = self._resolve_penalty()
        if self.n_jobs is not None:
            warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. "
                          f"You provided 'n_jobs={self.n_jobs}', please leave it unspecified.",
                          FutureWarning)
        X, y, index, s = _validate_classifier(self, X, y, sample_weight)
        s = _class_weighted(self, y, index, s)
        problem = _LogisticProblem(X, index, s, len(self.classes_),
                                   fit_intercept=self.fit_intercept)
        # One penalty type for every l1_ratio: one compiled program.
        problem = problem.at(np.inf if kind is None else C, l1_ratio)
        coef = getattr(self, "coef_", None)
        if self.warm_start and coef is not None and np.shape(coef) == (problem.columns,
                                                                        X.shape[1]):
            W, b = problem.start(coef, self.intercept_)
        else:
            W, b = problem.start()
        tol = float(self.tol)
        W, b, n_iter, gap, scale = problem.fit(W, b, tol=tol, max_iter=self.max_iter)
        if gap > tol * scale:
            warnings.warn(
                f"LogisticRegression did not converge in {n_iter} Newton iterations: duality "
                f"gap {gap:.3e} > tol {tol:.1e} x P_null = {tol * scale:.3e} (P_null the "
                "objective of the best intercept-only model). Increase max_iter, "
                "standardise X, or decrease C.", ConvergenceWarning, stacklevel=2)
        self.coef_, self.intercept_ = problem.coef_intercept(W, b)
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        self.dual_gap_ = gap
        return self

    def decision_function(self, X):
        """Confidence scores :math:`X W^\\top + b`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the score of ``classes_[1]`` (positive means
            ``classes_[1]``).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=_FLOATS, accept_sparse=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """Class probabilities (sigmoid for two classes, softmax otherwise).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = 0.5 * (1.0 + np.tanh(0.5 * scores))   # the sigmoid, without overflow
            return np.column_stack([1.0 - positive, positive])
        return _softmax(scores)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        return scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)


# --------------------------------------------------------------------------
# Cross-validated estimators
# --------------------------------------------------------------------------

# Test blocks are padded (with zero-weight rows) to a few widths too.
_TEST_BUCKETS = (64, 256, 1024)


def _cross_validate(X, y, s, penalty, alphas, splits, *, fit_intercept, tol, max_iter,
                    mesh=None, shard="auto"):
    r"""One :func:`jaxreg.cv` call: the fold scores and the path on all the data.

    The folds are ``splits`` (pairs of index arrays) plus one more whose
    training set is every row: its path is the full-data path (its score is
    not used). ``mesh`` and ``shard`` are :func:`jaxreg.cv`'s. Rows are
    zero-padded as for the single fits, and every test
    block is filled up to a common bucketed width with padded rows (weight 0:
    they count neither in training nor in the scores), so that new data
    sizes reuse the compiled program.

    Returns ``scores`` of shape (n_folds, n_alphas) (the weighted mean squared
    error of each fold), the full-data path ``coefs`` (n_alphas, n_features)
    and ``intercepts`` (n_alphas,), and ``converged`` and ``dual_gaps`` of
    shape (n_folds + 1, n_alphas).
    """
    from jaxreg import crossval as _crossval

    n_samples, n_features = X.shape
    tests = [np.asarray(test, np.intp) for _, test in splits]
    trains = [np.asarray(train, np.intp) for train, _ in splits]
    width = _bucket(max(len(t) for t in tests), _TEST_BUCKETS)
    n, p = _padded_shape(n_samples, n_features)
    padded = (n, p) != (n_samples, n_features)
    if padded:
        # Enough padded rows to fill every test block (and the full-data one).
        need = width - min(min(len(t) for t in tests), n_samples)
        while n - n_samples < need:
            n = _bucket(n + 1, _ROW_BUCKETS)
        padded = n * p <= _MAX_PADDED_ENTRIES
    order = np.argsort(-s, kind="stable")          # positive weights first
    if padded:
        extra = np.arange(n_samples, n)
        folds = []
        for train, test in zip(trains, tests):
            fill = extra[: width - len(test)]
            folds.append((np.concatenate([train, extra[width - len(test):]]),
                          np.concatenate([test, fill])))
        full_test = order[:width]
        folds.append((np.arange(n), np.concatenate([full_test, extra[: width - len(full_test)]])))
        X, y, s, _ = _pad(X, y, s, np.zeros(n_features, X.dtype), 0.0)
    else:
        p = n_features
        folds = list(zip(trains, tests)) + [(np.arange(n_samples), order[:1])]
    with _precision(X.dtype), warnings.catch_warnings():
        warnings.simplefilter("ignore", _solve.ConvergenceWarning)
        result = _crossval.cv(X, y, _losses.SquaredLoss(), penalty, alphas, folds=folds,
                              fit_intercept=fit_intercept, sample_weight=s, tol=tol,
                              max_iter=max_iter, refit=False, mesh=mesh, shard=shard,
                              **_cd_options())
        scores = np.asarray(result.scores)
        paths = jax.device_get(result.fold_paths)
    coefs = np.asarray(paths.coefs[-1])[:, :n_features]
    return (scores[:-1], coefs, np.asarray(paths.intercepts[-1]), np.asarray(paths.converged),
            np.asarray(paths.dual_gaps))


def _path_alpha_index(estimator, alpha):
    alphas = np.atleast_2d(estimator.alphas_)[estimator._path_row]
    index = np.flatnonzero(np.isclose(alphas, alpha, rtol=1e-12, atol=0.0))
    if index.size == 0:
        raise ValueError(f"alpha={alpha!r} is not on the fitted path: choose one of alphas_ "
                         f"(from {alphas.max():.6g} down to {alphas.min():.6g}).")
    return int(index[0])


class _PathPredictor(_LinearRegressor):
    """``predict(X, alpha=...)`` from the stored full-data path."""

    def predict(self, X, alpha=None):
        """Predict with the model at ``alpha_``, or at another ``alpha`` of the path.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        alpha : float, default=None
            One of ``alphas_`` (the fitted path); ``None`` is ``alpha_`` (the
            refitted ``coef_`` and ``intercept_``).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        if alpha is None:
            return super().predict(X)
        check_is_fitted(self)
        index = _path_alpha_index(self, alpha)
        X = validate_data(self, X, reset=False, dtype=_FLOATS, accept_sparse=False)
        return X @ np.asarray(self.coef_path_[index]).T + self.intercept_path_[index]


# ElasticNetCV / LassoCV's ``search`` parameter (scikit-learn's validation vocabulary).
from sklearn.utils._param_validation import StrOptions as _StrOptions  # noqa: E402


class ElasticNetCV(_PathPredictor):
    r"""Elastic net, ``alpha`` chosen by K-fold cross-validation (scikit-learn's ``ElasticNetCV``).

    For every ``l1_ratio`` :math:`\rho` and every :math:`\alpha` of a decreasing
    geometric grid, the :class:`ElasticNet` objective

    .. math::
        \frac{1}{2 S}\sum_i s_i (y_i - x_i^\top w - b)^2
        + \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|_2^2

    is minimised on the training rows of each fold and scored by the
    (weighted) mean squared error on its test rows, all folds and the whole
    grid in one compiled :func:`jaxreg.cv` call (folds are sample-weight
    masks, warm starts along the grid). ``alpha_`` (and ``l1_ratio_``)
    minimise the error averaged over folds; ``coef_`` is then refitted on all
    the data, as scikit-learn does.

    Parameters
    ----------
    l1_ratio : float or array-like of float, default=0.5
        :math:`\rho \in [0, 1]`; a list is searched too.
    eps : float, default=1e-3
        ``alpha_min / alpha_max`` of the automatic grid.
    alphas : int or array-like, default=100
        Number of ``alpha`` of the automatic grid (scikit-learn's: from
        :math:`\alpha_{\max}`, where the solution becomes zero, down to
        ``eps * alpha_max``), or the grid itself.
    fit_intercept : bool, default=True
    precompute : "auto", bool or array-like, default="auto"
        Accepted for compatibility: jaxreg's coordinate descent forms the
        (per-fold) Gram matrix whenever ``n_samples >= n_features``.
    max_iter : int, default=1000
        Epochs per point of each path.
    tol : float, default=1e-4
        Each point stops when its duality gap is at most
        :math:`\mathrm{tol}\cdot\|y - \bar y_s\|_s^2 / S` on its training rows
        (scikit-learn's test).
    cv : int, cross-validation generator or iterable, default=None
        As scikit-learn: ``None`` is 5-fold ``KFold``, an int ``K`` is
        ``KFold(K)``.
    copy_X : bool, default=True
        Accepted for compatibility (``X`` is never modified).
    verbose : bool or int, default=0
        Accepted for compatibility.
    n_jobs : int, default=None
        Accepted for compatibility (the folds run in one program).
    positive : bool, default=False
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility.
    selection : {"cyclic", "random"}, default="cyclic"
        Accepted for compatibility.
    search : {"grid", "gradient"}, default="grid"
        "grid": scikit-learn's search over the grid of ``alphas``. "gradient":
        minimise the mean cross-validated error over :math:`\log\alpha` by
        gradient descent (:func:`jaxreg.tune`: Adam, hypergradients by implicit
        differentiation, warm-started fold solves at tolerance
        ``min(2 tol, 1e-6)``), started at the geometric middle of the grid;
        the grid itself is not solved. ``alphas_`` and ``mse_path_`` then hold
        ``alpha_`` and its fold errors only; ``search_alphas_`` and
        ``search_mse_path_`` the trajectory. (An extension of scikit-learn.)
    mesh : jax.sharding.Mesh, default=None
        With ``search="grid"``, run the folds across this mesh's devices
        (:func:`jaxreg.cv`, :mod:`jaxreg.sharding`); None: the ambient mesh of
        :func:`jax.set_mesh` if any, else one device. (An extension of scikit-learn.)
    shard : {"auto", "folds", "alphas", "rows"}, default="auto"
        What to split across the mesh's devices (:mod:`jaxreg.sharding`).

    Attributes
    ----------
    alpha_ : float
    l1_ratio_ : float
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
    mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
    search_alphas_ : ndarray of shape (n_steps,)
        With ``search="gradient"``: ``alpha`` at every step (at ``l1_ratio_``).
    search_mse_path_ : ndarray of shape (n_steps, n_folds)
        With ``search="gradient"``: the fold errors at every step.
    n_search_iter_ : int
        With ``search="gradient"``: inner epochs summed over steps and folds.
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    dual_gap_ : float
    n_iter_ : int
        Of the refit at ``alpha_``.
    coef_path_ : ndarray of shape (n_alphas, n_features)
        The path on all the data at ``l1_ratio_`` (jaxreg's layout, ``alpha``
        first), used by ``predict(X, alpha=...)``.
    intercept_path_ : ndarray of shape (n_alphas,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Compilation: the folds (plus the full-data path) run in one compiled
    program per (bucketed shape, number of folds, ``max_iter``); data of
    new sizes reuse it.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import ElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> y = X @ [1.0, 0.0, -2.0, 0.0] + 0.1 * rng.standard_normal(50)
    >>> model = ElasticNetCV(alphas=20).fit(X, y)
    >>> model.mse_path_.shape, bool(model.alpha_ < 0.05)
    ((20, 5), True)
    """

    _parameter_constraints = dict(_sk.ElasticNetCV._parameter_constraints,
                                  search=[_StrOptions({"grid", "gradient"})],
                                  mesh=[None, jax.sharding.Mesh],
                                  shard=[_StrOptions({"auto", "folds", "alphas", "rows"})])
    _lasso = False

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, alphas=100, fit_intercept=True,
                 precompute="auto", max_iter=1000, tol=1e-4, cv=None, copy_X=True, verbose=0,
                 n_jobs=None, positive=False, random_state=None, selection="cyclic",
                 search="grid", mesh=None, shard="auto"):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.search = search
        self.mesh = mesh
        self.shard = shard

    def _alpha_grid(self, X, y, sample_weight, l1_ratio):
        """scikit-learn's grid: geometric from alpha_max down to eps * alpha_max.

        (Its arithmetic, step by step, so that the grids agree to the last bit.)
        """
        if l1_ratio == 0:
            raise ValueError("Automatic alpha grid generation is not supported for l1_ratio=0. "
                             "Please supply a grid by providing your estimator with the "
                             "appropriate `alphas=` argument.")
        if self.fit_intercept:
            y = y - np.average(y, axis=0, weights=sample_weight)
            x_mean = np.average(X, axis=0, weights=sample_weight)
        yw = y if sample_weight is None else y * sample_weight
        Xy = X.T @ yw - x_mean * np.sum(yw, axis=0) if self.fit_intercept else X.T @ yw
        total = X.shape[0] if sample_weight is None else sample_weight.sum()
        if self.positive:
            alpha_max = max(0, np.max(Xy)) / (total * l1_ratio)
        else:
            alpha_max = np.sqrt(np.max(Xy**2)) / (total * l1_ratio)
        resolution = np.finfo(np.float64).resolution
        if alpha_max <= resolution:
            return np.full(int(self.alphas), resolution)
        return np.geomspace(alpha_max, alpha_max * self.eps, num=int(self.alphas))

    def fit(self, X, y, sample_weight=None, **params):
        """Fit the path on every fold, choose ``alpha_``, refit on all the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : float or array-like of shape (n_samples,), default=None
        **params
            Not supported (scikit-learn's metadata routing); must be empty.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if params:
            raise ValueError(f"{type(self).__name__}.fit got unexpected arguments "
                             f"{sorted(params)} (metadata routing is not supported).")
        X, y, s = _validate_regression(self, X, y, sample_weight, multi_output=False)
        l1_ratios = [1.0] if self._lasso else [float(r) for r in np.atleast_1d(self.l1_ratio)]
        if isinstance(self.alphas, numbers.Integral):
            # scikit-learn ignores a scalar weight, and averages without weights.
            raw = None if sample_weight is None or isinstance(sample_weight, numbers.Number) else s
            grids = [self._alpha_grid(X, y, raw, r) for r in l1_ratios]
        else:
            for index, alpha in enumerate(self.alphas):
                check_scalar(alpha, f"alphas[{index}]", numbers.Real, min_val=0.0,
                             include_boundaries="left")
            grids = [np.sort(np.asarray(self.alphas, np.float64))[::-1]] * len(l1_ratios)
        splits = list(check_cv(self.cv).split(X, y))
        if self.search == "gradient":
            return self._fit_gradient(X, y, s, l1_ratios, grids, splits)
        mse, paths, unconverged, worst = [], [], 0, 0.0
        for l1_ratio, grid in zip(l1_ratios, grids):
            penalty = _penalties.ElasticNetPenalty(1.0, l1_ratio, positive=bool(self.positive))
            scores, coefs, intercepts, converged, gaps = _cross_validate(
                X, y, s, penalty, grid, splits, fit_intercept=self.fit_intercept,
                tol=2.0 * float(self.tol), max_iter=self.max_iter, mesh=self.mesh,
                shard=self.shard)
            mse.append(scores.T)
            paths.append((coefs, intercepts))
            unconverged += int((~converged).sum())
            worst = max(worst, float(gaps[~converged].max(initial=0.0)))
        if unconverged:
            warnings.warn(
                f"{type(self).__name__}: {unconverged} fits along the fold paths did not "
                f"converge in max_iter={self.max_iter} epochs (worst duality gap {worst:.3e}; "
                f"tol {float(self.tol):.1e} x ||y - mean(y)||^2 / n). Increase max_iter or tol.",
                ConvergenceWarning, stacklevel=2)
        mse = np.asarray(mse)                       # (n_l1_ratio, n_alphas, n_folds)
        mean = mse.mean(axis=2)
        best = (0, int(np.argmin(mean[0])))
        for row in range(1, len(l1_ratios)):        # scikit-learn's rule: first strict minimum
            index = int(np.argmin(mean[row]))
            if mean[row, index] < mean[best]:
                best = (row, index)
        self._path_row = best[0]
        self.alpha_ = float(grids[best[0]][best[1]])
        if not self._lasso:
            self.l1_ratio_ = l1_ratios[best[0]]
        self.mse_path_ = np.squeeze(mse)
        if isinstance(self.alphas, numbers.Integral):
            self.alphas_ = np.asarray(grids) if len(grids) > 1 else grids[0]
        else:
            self.alphas_ = grids[0]
            self._path_row = 0
        self.coef_path_, self.intercept_path_ = paths[best[0]]
        # scikit-learn's refit: a cold fit on all the data at alpha_.
        options = dict(fit_intercept=self.fit_intercept, max_iter=self.max_iter, tol=self.tol,
                       positive=self.positive)
        refit = (Lasso(alpha=self.alpha_, **options) if self._lasso else
                 ElasticNet(alpha=self.alpha_, l1_ratio=l1_ratios[best[0]], **options))
        refit.fit(X, y, sample_weight=s)
        self.coef_, self.intercept_ = refit.coef_, refit.intercept_
        self.dual_gap_, self.n_iter_ = refit.dual_gap_, refit.n_iter_
        return self

    def _fit_gradient(self, X, y, s, l1_ratios, grids, splits):
        """``search="gradient"``: :func:`jaxreg.tune` over log alpha per ``l1_ratio``."""
        from jaxreg.tuning import tune

        best = None
        for row, (l1_ratio, grid) in enumerate(zip(l1_ratios, grids)):
            penalty = (_penalties.L1(1.0, positive=bool(self.positive)) if l1_ratio == 1.0 else
                       _penalties.ElasticNetPenalty(1.0, l1_ratio, positive=bool(self.positive)))
            start = float(np.sqrt(np.max(grid) * max(np.min(grid), 1e-300)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", _solve.ConvergenceWarning)
                result = tune(X, y, _losses.SquaredLoss(), penalty, folds=splits, init=start,
                              sample_weight=s, fit_intercept=self.fit_intercept,
                              tol=min(2.0 * float(self.tol), 1e-6), max_iter=self.max_iter)
            if best is None or float(result.value) < float(best[1].value):
                best = (row, result)
        row, result = best
        step = int(np.argmin(result.values))
        self.alpha_ = float(result.alpha)
        if not self._lasso:
            self.l1_ratio_ = l1_ratios[row]
        # tune scores half the squared error: the fold MSEs are twice its values.
        self.search_alphas_ = np.asarray(result.alphas)
        self.search_mse_path_ = 2.0 * np.asarray(result.fold_values)
        self.n_search_iter_ = int(result.n_iter)
        self.alphas_ = np.asarray([self.alpha_])
        self.mse_path_ = self.search_mse_path_[step][None, :]
        self._path_row = 0
        options = dict(fit_intercept=self.fit_intercept, max_iter=self.max_iter, tol=self.tol,
                       positive=self.positive)
        refit = (Lasso(alpha=self.alpha_, **options) if self._lasso else
                 ElasticNet(alpha=self.alpha_, l1_ratio=l1_ratios[row], **options))
        refit.fit(X, y, sample_weight=s)
        self.coef_, self.intercept_ = refit.coef_, refit.intercept_
        self.dual_gap_, self.n_iter_ = refit.dual_gap_, refit.n_iter_
        self.coef_path_ = np.asarray(self.coef_)[None, :]
        self.intercept_path_ = np.asarray([self.intercept_])
        return self


class LassoCV(ElasticNetCV):
    r"""Lasso with ``alpha`` chosen by K-fold cross-validation (scikit-learn's ``LassoCV``).

    :class:`ElasticNetCV` with ``l1_ratio=1``: the :class:`Lasso` objective

    .. math:: \frac{1}{2 S}\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\|w\|_1

    on every fold and every ``alpha`` of the grid in one compiled
    :func:`jaxreg.cv` call, ``alpha_`` minimising the mean squared error
    averaged over folds, ``coef_`` refitted on all the data. Parameters and
    attributes are those of :class:`ElasticNetCV` (without ``l1_ratio``).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import LassoCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> y = X @ [1.0, 0.0, -2.0, 0.0] + 0.1 * rng.standard_normal(50)
    >>> model = LassoCV(alphas=20).fit(X, y)
    >>> model.alphas_.shape, np.round(model.coef_, 1) + 0.0
    ((20,), array([ 1.,  0., -2.,  0.]))
    """

    _parameter_constraints = dict(_sk.LassoCV._parameter_constraints,
                                  search=[_StrOptions({"grid", "gradient"})],
                                  mesh=[None, jax.sharding.Mesh],
                                  shard=[_StrOptions({"auto", "folds", "alphas", "rows"})])
    _lasso = True

    def __init__(self, *, eps=1e-3, alphas=100, fit_intercept=True, precompute="auto",
                 max_iter=1000, tol=1e-4, copy_X=True, cv=None, verbose=False, n_jobs=None,
                 positive=False, random_state=None, selection="cyclic", search="grid",
                 mesh=None, shard="auto"):
        super().__init__(eps=eps, alphas=alphas, fit_intercept=fit_intercept,
                         precompute=precompute, max_iter=max_iter, tol=tol, cv=cv,
                         copy_X=copy_X, verbose=verbose, n_jobs=n_jobs, positive=positive,
                         random_state=random_state, selection=selection, search=search,
                         mesh=mesh, shard=shard)


class _Identity(RegressorMixin, BaseEstimator):
    """Returns its input as predictions: scores precomputed predictions with a scorer."""

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return X


def _ridge_svd(X, y, s, fit_intercept):
    """SVD of the weighted, centred design: ``(U, singular values, V^T, b, x_mean, y_mean, root)``.

    With :math:`A = S^{1/2}(X - \\bar x_s)` and :math:`b = S^{1/2}(y - \\bar y_s)`,
    the ridge path is
    :math:`w(\\alpha) = V\\,\\mathrm{diag}(\\sigma/(\\sigma^2 + \\alpha))U^\\top b`.
    """
    total = float(s.sum())
    root = np.sqrt(s)
    if fit_intercept:
        x_mean, y_mean = s @ X / total, s @ y / total
    else:
        x_mean, y_mean = np.zeros(X.shape[1]), np.zeros(y.shape[1])
    A = root[:, None] * (X - x_mean)
    b = root[:, None] * (y - y_mean)
    U, singular, Vt = np.linalg.svd(A, full_matrices=False)
    largest = singular[0] if singular.size else 0.0
    keep = singular > np.finfo(np.float64).eps * max(A.shape) * largest   # numerical rank
    return U[:, keep], singular[keep], Vt[keep], b, x_mean, y_mean, root


def _ridge_coefs(svd, alphas):
    """Coefficients (n_alphas, n_features, n_targets) and intercepts (n_alphas, n_targets)."""
    U, singular, Vt, b, x_mean, y_mean, _ = svd
    Ub = U.T @ b
    coefs = np.stack([Vt.T @ ((singular / (singular**2 + a))[:, None] * Ub) for a in alphas])
    return coefs, y_mean[None, :] - np.einsum("j,ajk->ak", x_mean, coefs)


class RidgeCV(_PathPredictor):
    r"""Ridge regression with ``alpha`` chosen by cross-validation (scikit-learn's ``RidgeCV``).

    Minimises the :class:`Ridge` objective
    :math:`\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\|w\|_2^2` for each
    ``alpha`` of ``alphas`` and keeps the best by

    - ``cv=None`` (default): efficient leave-one-out. With the SVD
      :math:`U\Sigma V^\top` of the weighted, centred design
      :math:`S^{1/2}(X - \bar x_s)`, computed once, every ``alpha`` costs
      O(n r): the hat matrix has diagonal
      :math:`h_i = s_i/S + \sum_j U_{ij}^2\sigma_j^2/(\sigma_j^2 + \alpha)` (the
      unpenalized intercept included) and the leave-one-out residual is
      :math:`e_i = \sqrt{s_i}(y_i - \hat y_i)/(1 - h_i)`. The score is
      :math:`-\frac1n\sum_i e_i^2` (scikit-learn's ``best_score_``), or
      ``scoring`` on the leave-one-out predictions.
    - ``cv`` an int, splitter or iterable: K-fold, as scikit-learn's
      ``GridSearchCV(Ridge(), {"alpha": alphas})``: each fold is fitted with
      its own :math:`\sum_{\text{train}} s_i` (the same SVD formula), scored
      by ``scoring`` (default: :math:`R^2`, ``Ridge.score``; weighted with
      ``sample_weight``) on its test rows; ``best_score_`` is the mean over
      folds.

    ``coef_`` is the fit on all the data at ``alpha_`` (leave-one-out: from
    the same SVD; K-fold: refitted with :class:`Ridge`).

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Positive (``cv=None``) or non-negative values.
    fit_intercept : bool, default=True
    scoring : str or callable, default=None
    cv : int, cross-validation generator or iterable, default=None
    gcv_mode : {"auto", "svd", "eigen"}, default=None
        Accepted for compatibility (always the SVD).
    store_cv_results : bool, default=False
        ``cv=None`` only: keep the squared leave-one-out errors (or the
        predictions, with ``scoring``) in ``cv_results_``.
    alpha_per_target : bool, default=False
        ``cv=None`` only: one ``alpha`` per target.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_targets,)
    best_score_ : float or ndarray of shape (n_targets,)
    cv_results_ : ndarray of shape (n_samples, n_alphas) or (n_samples, n_targets, n_alphas)
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    alphas_ : ndarray of shape (n_alphas,)
        The grid, in the order given.
    coef_path_ : ndarray of shape (n_alphas, n_features) or (n_alphas, n_targets, n_features)
        The fits on all the data at every ``alpha`` (``predict(X, alpha=...)``).
    intercept_path_ : ndarray of shape (n_alphas,) or (n_alphas, n_targets)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    The computations run in NumPy float64 (one SVD per fit, or per fold);
    nothing is compiled.

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import RidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 3))
    >>> y = X @ [1.0, 2.0, 3.0] + rng.standard_normal(30)
    >>> model = RidgeCV(alphas=[0.1, 1.0, 10.0]).fit(X, y)
    >>> model.alpha_
    0.1
    """

    _parameter_constraints = dict(_sk.RidgeCV._parameter_constraints)

    def __init__(self, alphas=(0.1, 1.0, 10.0), *, fit_intercept=True, scoring=None, cv=None,
                 gcv_mode=None, store_cv_results=False, alpha_per_target=False):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.cv = cv
        self.gcv_mode = gcv_mode
        self.store_cv_results = store_cv_results
        self.alpha_per_target = alpha_per_target

    def fit(self, X, y, sample_weight=None, **params):
        r"""Fit every ``alpha``, choose ``alpha_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None
            Raw weights (``Ridge``'s convention); they weigh the validation
            scores too, as in scikit-learn (the leave-one-out errors live in
            the space scaled by :math:`\sqrt{s_i}`).
        **params
            Not supported (scikit-learn's metadata routing); must be empty.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if params:
            raise ValueError(f"RidgeCV.fit got unexpected arguments {sorted(params)} "
                             "(metadata routing is not supported).")
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True,
                             accept_sparse=False)
        y = np.asarray(y, np.float64)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        loo = self.cv is None
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        for index, alpha in enumerate(alphas):
            check_scalar(float(alpha), f"alphas[{index}]" if alphas.size > 1 else "alphas",
                         numbers.Real, min_val=0.0,
                         include_boundaries="neither" if loo else "left")
        Y = y[:, None] if y.ndim == 1 else y
        scorer = None if self.scoring is None else check_scoring(self, scoring=self.scoring)
        if loo:
            self._fit_loo(X, Y, s, alphas, scorer, sample_weight is not None, y.ndim == 1)
        else:
            if self.store_cv_results:
                raise ValueError("cv!=None and store_cv_results=True are incompatible")
            if self.alpha_per_target:
                raise ValueError("cv!=None and alpha_per_target=True are incompatible")
            self._fit_kfold(X, y, Y, s, alphas, scorer, sample_weight is not None)
        svd = _ridge_svd(X, Y, s, self.fit_intercept)
        coefs, intercepts = _ridge_coefs(svd, alphas)
        self.alphas_ = alphas
        self._path_row = 0
        if y.ndim == 1:
            self.coef_path_, self.intercept_path_ = coefs[:, :, 0], intercepts[:, 0]
        else:
            self.coef_path_, self.intercept_path_ = np.swapaxes(coefs, 1, 2), intercepts
        return self

    def _fit_loo(self, X, Y, s, alphas, scorer, weighted, one_d):
        svd = _ridge_svd(X, Y, s, self.fit_intercept)
        U, singular, _, b, _, y_mean, root = svd
        total = float(s.sum())
        leverage_intercept = s / total if self.fit_intercept else np.zeros_like(s)
        Ub = U.T @ b
        n, k = Y.shape
        per_target = self.alpha_per_target and k > 1
        results = np.empty((n, k, alphas.size))
        scores = []
        for index, alpha in enumerate(alphas):
            shrink = singular**2 / (singular**2 + alpha)
            hat = leverage_intercept + (U**2) @ shrink
            residual = b - U @ (shrink[:, None] * Ub)           # weighted space
            looe = residual / (1.0 - hat)[:, None]
            if scorer is None:
                results[:, :, index] = looe**2
                score = -np.mean(looe**2, axis=0) if per_target else -np.mean(looe**2)
            else:
                positive = root > 0
                predictions = Y.copy()
                predictions[positive] = Y[positive] - looe[positive] / root[positive, None]
                results[:, :, index] = predictions
                kwargs = dict(sample_weight=s) if weighted else {}
                if per_target:
                    score = np.array([scorer(_Identity(), predictions[:, j], Y[:, j], **kwargs)
                                      for j in range(k)])
                else:
                    target = predictions[:, 0] if k == 1 else predictions
                    score = scorer(_Identity(), target, Y[:, 0] if k == 1 else Y, **kwargs)
            scores.append(score)
        scores = np.asarray(scores, dtype=np.float64)       # (n_alphas,) or (n_alphas, k)
        best = np.argmax(scores, axis=0)                     # the first maximum, as scikit-learn
        self.alpha_ = alphas[best] if per_target else float(alphas[best])
        self.best_score_ = scores[best, np.arange(k)] if per_target else float(scores[best])
        coefs, intercepts = _ridge_coefs(svd, alphas)
        if per_target:
            coef = np.stack([coefs[best[j], :, j] for j in range(k)])
            intercept = np.array([intercepts[best[j], j] for j in range(k)])
        else:
            coef, intercept = coefs[best].T, intercepts[best]
        if one_d:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef, intercept
        if self.store_cv_results:
            self.cv_results_ = results[:, 0, :] if one_d else results

    def _fit_kfold(self, X, y, Y, s, alphas, scorer, weighted):
        splits = list(check_cv(self.cv).split(X, y))
        scores = np.zeros((len(splits), alphas.size))
        for fold, (train, test) in enumerate(splits):
            svd = _ridge_svd(X[train], Y[train], s[train], self.fit_intercept)
            # Ridge(alpha) on the fold: the SVD formula with its own weights.
            coefs, intercepts = _ridge_coefs(svd, alphas)
            for index in range(alphas.size):
                predictions = X[test] @ coefs[index] + intercepts[index]
                truth = Y[test]
                if y.ndim == 1:
                    predictions, truth = predictions[:, 0], truth[:, 0]
                # GridSearchCV passes the weights to the score too.
                kwargs = dict(sample_weight=s[test]) if weighted else {}
                if scorer is None:     # GridSearchCV's default: Ridge.score, R^2
                    scores[fold, index] = r2_score(truth, predictions, **kwargs)
                else:
                    scores[fold, index] = scorer(_Identity(), predictions, truth, **kwargs)
        mean = scores.mean(axis=0)
        best = int(np.argmax(mean))
        self.alpha_ = float(alphas[best])
        self.best_score_ = float(mean[best])
        refit = Ridge(alpha=self.alpha_, fit_intercept=self.fit_intercept)
        refit.fit(X, y, sample_weight=s)
        self.coef_, self.intercept_ = refit.coef_, refit.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# --------------------------------------------------------------------------
# Logistic regression with C chosen by cross-validation
# --------------------------------------------------------------------------


def _fold_scorer(scoring, classes):
    """``score(model, X, y, sample_weight)`` of a point of a fold path, as scikit-learn's.

    ``None`` is the (weighted) accuracy, ``model.score``. Scorers whose metric
    takes ``labels`` (``neg_log_loss``, ``neg_brier_score``, ...) get all the
    classes (a test fold may miss some), and ``pos_label=classes[-1]`` for two
    classes, as scikit-learn's ``_log_reg_scoring_path`` rebuilds them.
    """
    if scoring is None:
        return lambda model, X, y, sw: model.score(X, y, sample_weight=sw)
    scorer = get_scorer(scoring)
    parameters = (inspect.signature(scorer._score_func).parameters
                  if hasattr(scorer, "_score_func") else {})
    if "labels" in parameters:
        extra = ({"pos_label": classes[-1]} if len(classes) <= 2 and "pos_label" in parameters
                 else {})
        scorer = make_scorer(scorer._score_func, greater_is_better=scorer._sign == 1,
                             response_method=scorer._response_method, labels=classes, **extra,
                             **getattr(scorer, "_kwargs", {}))

    def score(model, X, y, sw):
        return scorer(model, X, y, **({} if sw is None else {"sample_weight": sw}))

    return score


class LogisticRegressionCV(LogisticRegression):
    r"""Logistic regression with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    scikit-learn 1.9's ``LogisticRegressionCV``: for every ``l1_ratio``
    :math:`\rho` of ``l1_ratios``, every fold and every ``C`` of ``Cs``, the
    :class:`LogisticRegression` objective

    .. math::
        C\sum_{i \in \text{train}} s_i\,\ell(y_i, x_i^\top W + b)
        + \frac{1-\rho}{2}\|W\|_F^2 + \rho\|W\|_1

    (:math:`s` the sample weights times ``class_weight``, :math:`\ell` the
    binary logistic loss or the multinomial cross-entropy) is minimised on the
    training rows of the fold, warm-started along ``Cs`` in the order given
    (scikit-learn's path), and scored by ``scoring`` on its test rows. With
    ``refit=True``, ``C_`` and ``l1_ratio_`` maximise the score summed over
    folds (the first maximum, ``Cs`` before ``l1_ratios``), and ``coef_`` is
    the fit on all the data there, started from the mean of the fold
    solutions; with ``refit=False``, each fold's best point is taken and
    ``coef_``, ``C_``, ``l1_ratio_`` are their averages over folds.

    Every fit is :class:`LogisticRegression`'s proximal Newton method (its
    steps are :func:`jaxreg.solve` calls, on ``ElasticNetPenalty(1 / (C
    S_train), rho)`` in jaxreg's units) and stops on jaxreg's duality gap, so
    every point of every path is certified to ``tol``.

    Parameters
    ----------
    Cs : int or array-like of shape (n_cs,), default=10
        The grid of ``C`` (each in :math:`(0, \infty]`; ``inf`` is no
        penalty), or an int ``n``: ``np.logspace(-4, 4, n)``, as scikit-learn.
    l1_ratios : array-like of shape (n_l1_ratios,), default="warn"
        Values of :math:`\rho \in [0, 1]`, all searched. The default (and
        ``None``) is scikit-learn 1.9's deprecated ``None``: the L2 penalty,
        with a FutureWarning; pass e.g. ``l1_ratios=(0,)``.
    fit_intercept : bool, default=True
    cv : int, cross-validation generator or iterable, default=None
        As scikit-learn: ``None`` is 5-fold and an int ``K`` is ``K``-fold
        ``StratifiedKFold`` (not shuffled); or any splitter, or an iterable
        of ``(train, test)`` index arrays.
    dual : bool, default=False
        Accepted for compatibility (liblinear's dual form); unused.
    penalty : {"l1", "l2", "elasticnet"}, default="deprecated"
        Deprecated in scikit-learn 1.8, as here (FutureWarning): ``"l2"``
        fits :math:`\rho = 0` and ``"l1"`` :math:`\rho = 1` whatever
        ``l1_ratios`` says (which then only sets how many times); the default
        infers it from ``l1_ratios``.
    scoring : str, callable or None, default="warn"
        A scorer name or ``scorer(estimator, X, y)``; ``None`` is the
        accuracy. The default is ``None`` with scikit-learn 1.9's
        FutureWarning (its default becomes ``"neg_log_loss"`` in 1.11).
        Sample weights (without ``class_weight``) weigh the scores.
    solver : str, default="lbfgs"
        Accepted for compatibility (any of scikit-learn's names); every
        penalty is fitted by the proximal Newton method above.
    tol : float, default=1e-4
        Each fit stops when its duality gap is at most ``tol`` times the
        objective of the best intercept-only model on its training rows (both
        divided by :math:`C S`), as :class:`LogisticRegression`.
    max_iter : int, default=100
        Maximal number of Newton iterations of each fit.
    class_weight : dict, "balanced" or None, default=None
        Multiplies the sample weights; ``"balanced"`` is computed once, from
        the weighted class totals of all the data, as scikit-learn.
    n_jobs : int, default=None
        Accepted for compatibility (the folds run one after the other).
    verbose : int, default=0
        Accepted for compatibility.
    refit : bool, default=True
    intercept_scaling : float, default=1.0
        Accepted for compatibility (liblinear only).
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility (the fits are deterministic; it never
        shuffles the folds, as in scikit-learn).
    use_legacy_attributes : bool, default="warn"
        scikit-learn 1.9's switch of the attribute layout (below); the
        default is ``True`` with its FutureWarning.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    Cs_ : ndarray of shape (n_cs,)
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        As given (``[None]`` for ``l1_ratios=None``).
    coefs_paths_ : ndarray or dict
        ``use_legacy_attributes=False``: shape (n_folds, n_l1_ratios, n_cs,
        n_columns, n_dof), ``n_columns`` 1 for two classes, ``n_dof =
        n_features + fit_intercept`` (the intercept last). Legacy: a dict from
        each class (only ``classes_[1]`` for two) to an array of shape
        (n_folds, n_cs, n_l1_ratios, n_dof), or (n_folds, n_cs, n_dof)
        for ``l1_ratios=None``.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_cs) or dict
        Legacy: the same dict keys, each (n_folds, n_cs, n_l1_ratios) (or
        (n_folds, n_cs)), the same scores for every class.
    C_ : float or ndarray of shape (1,) or (n_classes,)
        Legacy: repeated per class (one entry for two classes).
    l1_ratio_ : float or ndarray of shape (1,) or (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_cs), int32
        Newton iterations of every fold fit (legacy: (1, n_folds, n_cs,
        n_l1_ratios) or (1, n_folds, n_cs)); the refit is not counted.
    dual_gap_ : float
        ``refit=True`` only: the duality gap of the refit, as
        :class:`LogisticRegression`'s.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Conventions are :class:`LogisticRegression`'s: two classes have one
    coefficient vector (``classes_[1]`` positive), multinomial intercepts sum
    to zero, and float32 input is fitted in float32. The fits of all folds,
    ``C`` and ``l1_ratio`` share :class:`LogisticRegression`'s compiled
    programs (problems are padded to bucketed shapes), so a new grid or new
    folds compile nothing. Non-converged fits are counted in one
    ``ConvergenceWarning``; at weak regularization (``C`` of 1e3 and more on
    unscaled or nearly separable data) several classes need many Newton
    iterations (two classes converge quadratically). A fold whose training
    rows miss a class (possible with a custom ``cv``) has no minimiser (that
    class's intercept tends to :math:`-\infty`) and warns.

    Differences from scikit-learn 1.9.1, where it errs: non-positive or NaN
    ``Cs`` and NaN ``l1_ratios`` are refused (scikit-learn fits them);
    ``refit=False`` with several ``l1_ratios`` given as a list works (it
    raises a TypeError there) and reports ``l1_ratio_ = 1.0`` for
    ``l1_ratios=(1,)`` (scikit-learn reports 0.0); the ``l1_ratios`` error
    shows a tuple whole. Metadata routing is not supported (``fit``
    refuses extra arguments).

    Examples
    --------
    >>> import numpy as np
    >>> from jaxreg.estimators import LogisticRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 3))
    >>> y = (X[:, 0] + 0.5 * rng.standard_normal(60) > 0).astype(int)
    >>> model = LogisticRegressionCV(Cs=4, cv=3, l1_ratios=(0.0,), scoring="neg_log_loss",
    ...                              use_legacy_attributes=False).fit(X, y)
    >>> model.Cs_.shape, model.scores_.shape, model.coefs_paths_.shape
    ((4,), (3, 1, 4), (3, 1, 4, 1, 4))
    >>> round(model.C_, 2), model.coef_.shape, float((model.predict(X) == y).mean())
    (21.54, (1, 3), 0.9)
    """

    _parameter_constraints = dict(_sk.LogisticRegressionCV._parameter_constraints)

    def __init__(self, *, Cs=10, l1_ratios="warn", fit_intercept=True, cv=None, dual=False,
                 penalty="deprecated", scoring="warn", solver="lbfgs", tol=1e-4, max_iter=100,
                 class_weight=None, n_jobs=None, verbose=0, refit=True, intercept_scaling=1.0,
                 random_state=None, use_legacy_attributes="warn"):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.dual = dual
        self.penalty = penalty
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.use_legacy_attributes = use_legacy_attributes

    def _resolve_penalty(self):
        """scikit-learn 1.9's rules: ``(l1_ratios, penalty, rhos)``.

        ``l1_ratios`` as given (``None`` for the deprecated default), the
        penalty's name, and the :math:`\\rho` fitted for each entry.
        """
        l1_ratios = self.l1_ratios
        if isinstance(l1_ratios, str) and l1_ratios == "warn":
            l1_ratios = None
            warnings.warn(
                "The default value for l1_ratios will change from None to (0.0,) in version "
                "1.10. From version 1.10 onwards, only array-like with values in [0, 1] will "
                "be allowed, None will be forbidden. To avoid this warning, explicitly set a "
                "value, e.g. l1_ratios=(0,).", FutureWarning)
        if self.penalty == "deprecated":
            if self.l1_ratios is None:
                warnings.warn("'l1_ratios=None' was deprecated in version 1.8 and will trigger "
                              "an error in 1.10. Use an array-like with values in [0, 1] "
                              "instead.", FutureWarning)
            if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
                penalty = "l2"
            elif np.all(np.asarray(l1_ratios) == 1):
                penalty = "l1"
            else:
                penalty = "elasticnet"
        else:
            penalty = self.penalty
            warnings.warn(
                "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
                "this warning, leave 'penalty' set to its default value and use 'l1_ratios' "
                "and 'Cs' instead. Use l1_ratios=(0,) instead of penalty='l2', "
                "l1_ratios=(1,) instead of penalty='l1', l1_ratios set to floats between 0 "
                "and 1 instead of penalty='elasticnet', and Cs=(np.inf,) instead of "
                "penalty=None.", FutureWarning)
        invalid = l1_ratios is not None and len(l1_ratios) == 0
        if penalty == "elasticnet":
            invalid = invalid or l1_ratios is None or any(
                not isinstance(rho, numbers.Real) or not 0 <= rho <= 1 for rho in l1_ratios)
        if invalid:
            raise ValueError("l1_ratios must be an array-like of numbers between 0 and 1; "
                             f"got (l1_ratios={l1_ratios!r})")
        if penalty == "elasticnet":
            return l1_ratios, penalty, [float(rho) for rho in l1_ratios]
        if l1_ratios is not None and self.penalty != "deprecated":
            warnings.warn("l1_ratios parameter is only used when penalty is 'elasticnet'. "
                          f"Got (penalty={penalty})")
        rho = 1.0 if penalty == "l1" else 0.0
        return l1_ratios, penalty, [rho] * (1 if l1_ratios is None else len(l1_ratios))

    def _grid(self):
        """``Cs_``: scikit-learn's ``np.logspace(-4, 4, Cs)`` or the values given, checked."""
        if isinstance(self.Cs, numbers.Integral):
            return np.logspace(-4, 4, self.Cs)
        Cs = np.asarray(self.Cs, dtype=np.float64)
        if Cs.ndim != 1 or Cs.size == 0:
            raise ValueError(f"Cs must be an int or a non-empty 1-D array-like; got {self.Cs!r}.")
        for index, C in enumerate(Cs):
            if not C > 0:      # also NaN
                raise ValueError(f"Cs[{index}] == {C}, must be > 0.0.")
        return Cs

    def _get_scorer(self):
        """The scorer of :meth:`score`: ``scoring``, or the accuracy."""
        return get_scorer("accuracy" if self.scoring in ("warn", None) else self.scoring)

    def fit(self, X, y, sample_weight=None, **params):
        """Fit the path of every fold and ``l1_ratio``, choose ``C_``, refit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any hashable, sortable values).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative raw weights (multiplied by ``class_weight`` in the
            fits; as they are in the scores).
        **params
            Not supported (scikit-learn's metadata routing); must be empty.

        Returns
        -------
        self : object
        """
        self._validate_params()
        if params:
            raise ValueError(f"LogisticRegressionCV.fit got unexpected arguments {sorted(params)} "
                             "(metadata routing is not supported).")
        l1_ratios, penalty, rhos = self._resolve_penalty()
        if self.scoring == "warn":
            warnings.warn(
                "The default value of the parameter 'scoring' will change from None, i.e. "
                "accuracy, to 'neg_log_loss' in version 1.11. To silence this warning, "
                "explicitly set the scoring parameter: scoring='neg_log_loss' for the new, "
                "scoring='accuracy' or scoring=None for the old default.", FutureWarning)
        scoring = None if self.scoring == "warn" else self.scoring
        legacy = self.use_legacy_attributes
        if legacy == "warn":
            warnings.warn(
                "The fitted attributes of LogisticRegressionCV will be simplified in "
                "scikit-learn 1.10 to remove redundancy. Set `use_legacy_attributes=False` to "
                "enable the new behavior now, or set it to `True` to silence this warning "
                "during the transition period while keeping the deprecated behavior for the "
                "time being. The default value of use_legacy_attributes will change from True "
                "to False in scikit-learn 1.10. See the docstring of LogisticRegressionCV for "
                "more details.", FutureWarning)
            legacy = True
        Cs = self._grid()
        X, y, index, s_raw = _validate_classifier(self, X, y, sample_weight)
        if isinstance(self.class_weight, dict) and not set(self.class_weight) <= set(self.classes_):
            raise ValueError("The given class_weight dict must have the class labels as keys; "
                             f"classes={self.classes_} but key={self.class_weight.keys()}")
        s = _class_weighted(self, y, index, s_raw)
        score_weights = None if sample_weight is None else s_raw
        splits = list(check_cv(self.cv, y, classifier=True).split(X, y))
        n_classes, n_features = len(self.classes_), X.shape[1]
        columns = 1 if n_classes == 2 else n_classes
        n_dof = n_features + int(bool(self.fit_intercept))
        shape = (len(splits), len(rhos), len(Cs))
        paths = np.zeros(shape + (columns, n_dof), X.dtype)
        scores, n_iter = np.zeros(shape), np.zeros(shape, np.int32)
        score = _fold_scorer(scoring, self.classes_)
        model = LogisticRegression()          # scores the points of the paths
        model.classes_ = self.classes_
        tol, unconverged, worst = float(self.tol), 0, 0.0
        for fold, (train, test) in enumerate(splits):
            train, test = np.asarray(train), np.asarray(test)
            if not s[train].sum() > 0:
                raise ValueError(f"Fold {fold} has no training sample with a positive weight.")
            data = _LogisticProblem(X[train], index[train], s[train], n_classes,
                                    fit_intercept=self.fit_intercept)
            X_test, y_test = X[test], y[test]
            sw = None if score_weights is None else score_weights[test]
            done = {}
            for row, rho in enumerate(rhos):
                if rho in done:        # "l1"/"l2" with several l1_ratios: the same path
                    for array in (paths, scores, n_iter):
                        array[fold, row] = array[fold, done[rho]]
                    continue
                done[rho] = row
                W, b = data.start()
                for column, C in enumerate(Cs):
                    # Warm start from the previous C of the grid (scikit-learn's path).
                    problem = data.at(C, rho)
                    W, b, n_iter[fold, row, column], gap, scale = problem.fit(
                        W, b, tol=tol, max_iter=self.max_iter)
                    if gap > tol * scale:
                        unconverged += 1
                        worst = max(worst, gap / scale)
                    model.C = float(C)         # as scikit-learn's scoring model
                    model.coef_, model.intercept_ = problem.coef_intercept(W, b)
                    paths[fold, row, column, :, :n_features] = model.coef_
                    if self.fit_intercept:
                        paths[fold, row, column, :, n_features] = model.intercept_
                    scores[fold, row, column] = score(model, X_test, y_test, sw)
        self.Cs_ = Cs
        self.l1_ratios_ = np.asarray([None] if l1_ratios is None else l1_ratios)
        # scikit-learn's order of the grid: C first, then l1_ratio.
        by_C = np.swapaxes(scores, 1, 2).reshape(len(splits), -1)      # (n_folds, n_cs * n_l1)
        if self.refit:
            best = int(np.argmax(by_C.sum(axis=0)))
            column, row = divmod(best, len(rhos))
            C, rho = float(Cs[column]), rhos[row]
            listed_l1_ratio = None if l1_ratios is None else l1_ratios[row]
            init = paths[:, row, column].mean(axis=0)                  # (columns, n_dof)
            problem = _LogisticProblem(X, index, s, n_classes,
                                       fit_intercept=self.fit_intercept).at(C, rho)
            W, b = problem.start(init[:, :n_features],
                                 init[:, n_features] if self.fit_intercept else None)
            W, b, _, gap, scale = problem.fit(W, b, tol=tol, max_iter=self.max_iter)
            if gap > tol * scale:
                unconverged += 1
                worst = max(worst, gap / scale)
            self.coef_, self.intercept_ = problem.coef_intercept(W, b)
            self.dual_gap_ = gap
        else:
            # Each fold's best point; coef_, C_ and l1_ratio_ averaged over folds.
            columns_, rows_ = np.divmod(np.argmax(by_C, axis=1), len(rhos))
            mean = np.mean([paths[f, r, c] for f, (r, c) in enumerate(zip(rows_, columns_))],
                           axis=0)
            self.coef_ = mean[:, :n_features].copy()
            self.intercept_ = (mean[:, n_features].copy() if self.fit_intercept
                               else np.zeros(columns, X.dtype))
            C = float(np.mean(Cs[columns_]))
            if penalty == "elasticnet":
                listed_l1_ratio = float(np.mean(np.asarray(rhos)[rows_]))
            else:
                listed_l1_ratio = rhos[0]
            if hasattr(self, "dual_gap_"):
                del self.dual_gap_
        if unconverged:
            warnings.warn(
                f"LogisticRegressionCV: {unconverged} of {scores.size + bool(self.refit)} fits "
                f"did not converge in max_iter={self.max_iter} Newton iterations: worst duality "
                f"gap {worst:.3e} x P_null > tol {tol:.1e} x P_null (P_null the objective of "
                "the best intercept-only model). Increase max_iter, standardise X, or use "
                "smaller Cs.", ConvergenceWarning, stacklevel=2)
        self._set_layout(legacy, l1_ratios, paths, scores, n_iter, C, listed_l1_ratio)
        return self

    def _set_layout(self, legacy, l1_ratios, paths, scores, n_iter, C, l1_ratio):
        """Set ``coefs_paths_``, ``scores_``, ``n_iter_``, ``C_``, ``l1_ratio_`` (sklearn's layout)."""
        if not legacy:
            self.coefs_paths_, self.scores_, self.n_iter_ = paths, scores, n_iter
            self.C_ = C
            if l1_ratios is None:
                self.l1_ratio_ = 1.0 if self.penalty == "l1" else 0.0
            else:
                self.l1_ratio_ = float(l1_ratio)
            return
        keys = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        paths = np.moveaxis(paths, (1, 3), (3, 0))        # (n_columns, n_folds, n_cs, n_l1, n_dof)
        scores = np.swapaxes(scores, 1, 2)                # (n_folds, n_cs, n_l1)
        n_iter = np.swapaxes(n_iter, 1, 2)[None]
        if l1_ratios is None:                             # no l1_ratio axis
            paths, scores, n_iter = paths[:, :, :, 0], scores[:, :, 0], n_iter[..., 0]
        self.coefs_paths_ = {key: paths[k].copy() for k, key in enumerate(keys)}
        self.scores_ = {key: scores.copy() for key in keys}
        self.n_iter_ = n_iter
        self.C_ = np.full(len(keys), C)
        self.l1_ratio_ = np.asarray([l1_ratio] * len(keys))

    def score(self, X, y, sample_weight=None):
        """Score with ``scoring`` (the accuracy by default) on the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self._get_scorer()(self, X, y, **kwargs)
