"""Seeded test problems: tall, wide with correlated columns, duplicated columns.

Every generator takes a ``numpy.random.Generator`` and returns float64 NumPy
arrays ``(X, y)``; sizes are small so that the suite stays fast and compiled
shapes are shared across tests.

Shapes (``PROBLEM_SHAPES`` / ``CLASSIFICATION_SHAPES``):

- ``"tall"``: 60 x 15, independent Gaussian columns (unique solutions);
- ``"wide_correlated"``: 20 x 80, AR(1) columns, corr(x_i, x_j) = 0.5^|i-j|
  (Toeplitz); p > n, so unpenalized fits interpolate and classes are separable;
- ``"duplicated"``: 40 x 12, the last 3 columns exact copies of the first 3
  (the minimiser in ``w`` is not unique for L1 / no penalty; the objective is).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "make_regression_problem", "make_classification_problem", "make_outlier_problem",
    "PROBLEM_SHAPES", "CLASSIFICATION_SHAPES",
]

N_DUPLICATES = 3


def _design(rng, n, p, correlation=0.0, duplicated=False):
    """Gaussian rows; AR(1) columns with Sigma_ij = correlation^|i - j|."""
    Z = rng.standard_normal((n, p))
    X = Z.copy()
    if correlation:
        for j in range(1, p):   # x_j = r x_{j-1} + sqrt(1 - r^2) z_j keeps unit variance
            X[:, j] = correlation * X[:, j - 1] + np.sqrt(1 - correlation**2) * Z[:, j]
    if duplicated:
        X[:, -N_DUPLICATES:] = X[:, :N_DUPLICATES]
    return X


def _sparse_coef(rng, p, sparsity, k=None):
    shape = (p,) if k is None else (p, k)
    support = rng.random(shape) < sparsity
    support.flat[rng.integers(support.size)] = True   # never all zero
    return rng.standard_normal(shape) * support


def _regression(rng, X, sparsity, noise):
    signal = X @ _sparse_coef(rng, X.shape[1], sparsity) + 0.5
    return X, signal + noise * np.std(signal) * rng.standard_normal(X.shape[0])


def make_regression_problem(rng, n, p, *, sparsity=0.2, noise=0.1, correlation=0.0):
    """Linear model ``y = X w + 0.5 + noise * std(signal) * N(0, 1)``, ``w`` sparse.

    ``correlation`` gives AR(1) (Toeplitz) columns, corr = correlation^|i-j|.
    """
    return _regression(rng, _design(rng, n, p, correlation), sparsity, noise)


def _labels(rng, X, n_classes, flip=0.15):
    """Noisy linear labels; a fraction ``flip`` redrawn at random (label noise),
    so that n > p problems are not linearly separable."""
    n, p = X.shape
    if n_classes == 2:
        score = X @ _sparse_coef(rng, p, 0.3) + 0.3
        y = np.where(score > 0, 1.0, -1.0)
        noisy = rng.random(n) < flip
        y[noisy] = -y[noisy]
        y[:2] = [1.0, -1.0] if n > 2 else y[:2]   # both classes present
        return y
    W = _sparse_coef(rng, p, 0.3, n_classes)
    y = np.argmax(X @ W + rng.gumbel(size=(n, n_classes)), axis=1)
    noisy = rng.random(n) < flip
    y[noisy] = rng.integers(n_classes, size=noisy.sum())
    y[:n_classes] = np.arange(n_classes)   # every class present
    return y


def make_classification_problem(rng, n, p, *, n_classes=2, correlation=0.0, duplicated=False):
    """Labels in {-1.0, +1.0} (two classes) or integers 0..n_classes-1, from a
    noisy linear score with 15% label noise."""
    X = _design(rng, n, p, correlation, duplicated)
    return X, _labels(rng, X, n_classes)


def make_outlier_problem(rng, n, p, *, outlier_fraction=0.1):
    """Regression with a fraction of gross outliers (+-20 std(y)) in ``y``: for
    the absolute, quantile and Huber losses."""
    X, y = make_regression_problem(rng, n, p)
    bad = rng.random(n) < outlier_fraction
    y[bad] += rng.choice([-1.0, 1.0], bad.sum()) * 20 * np.std(y)
    return X, y


PROBLEM_SHAPES = {
    "tall": lambda rng: make_regression_problem(rng, 60, 15),
    "wide_correlated": lambda rng: make_regression_problem(rng, 20, 80, correlation=0.5),
    "duplicated": lambda rng: _regression(rng, _design(rng, 40, 12, duplicated=True),
                                          sparsity=0.2, noise=0.1),
}


def _classification(n, p, correlation=0.0, duplicated=False):
    def make(rng, n_classes=2):
        return make_classification_problem(rng, n, p, n_classes=n_classes,
                                           correlation=correlation, duplicated=duplicated)
    return make


CLASSIFICATION_SHAPES = {
    "tall": _classification(60, 15),
    "wide_correlated": _classification(20, 80, correlation=0.5),
    "duplicated": _classification(40, 12, duplicated=True),
}
