"""Small datasets bundled with jaxreg (no download, no scikit-learn at runtime)."""

# data/diabetes.csv.gz joins scikit-learn's diabetes_data_raw.csv.gz and
# diabetes_target.csv.gz (sklearn/datasets/data/, scikit-learn 1.9.1) into one
# file. scikit-learn is BSD-3-Clause licensed: Copyright (c) 2007-2026 The
# scikit-learn developers. The data are from Efron et al. (2004), below.

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

__all__ = ["load_diabetes", "load_stackloss"]

FEATURE_NAMES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
STACKLOSS_FEATURE_NAMES = ("air_flow", "water_temp", "acid_conc")


def load_diabetes(scaled=True):
    r"""The diabetes data: 442 patients, 10 baseline variables, disease progression.

    The same numbers as :func:`sklearn.datasets.load_diabetes`: with
    ``scaled=True`` every column of ``X`` is centred and scaled to unit
    Euclidean norm, :math:`x_j \leftarrow (x_j - \bar x_j) / (\sigma_j \sqrt n)`.

    Parameters
    ----------
    scaled : bool, default=True
        Centre each column and scale it to unit Euclidean norm, as
        ``sklearn.datasets.load_diabetes()`` does (the same float64 numbers,
        bit for bit); ``False`` gives the raw measurements.

    Returns
    -------
    X : ndarray of shape (442, 10), float64
        Features, in the order of ``FEATURE_NAMES``.
    y : ndarray of shape (442,), float64
        Disease progression one year after baseline.

    References
    ----------
    Efron, Hastie, Johnstone & Tibshirani (2004), Least angle regression,
    Annals of Statistics 32(2). Data file copied from scikit-learn
    (BSD-3-Clause).

    Examples
    --------
    >>> X, y = load_diabetes()
    >>> X.shape, y[:3]
    ((442, 10), array([151.,  75., 141.]))
    >>> bool(np.allclose((X**2).sum(axis=0), 1.0))
    True
    """
    path = resources.files("jaxreg") / "data" / "diabetes.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", comments="#", skiprows=2)
    X, y = table[:, :-1], table[:, -1]
    if scaled:
        X = (X - X.mean(axis=0)) / X.std(axis=0) / np.sqrt(X.shape[0])
    return X, y


def load_stackloss():
    r"""Brownlee's stack-loss data: 21 days of a plant oxidising ammonia to nitric acid.

    The classic test case of robust and least-absolute-deviations regression
    (the same numbers as R's ``datasets::stackloss`` and
    ``statsmodels.datasets.stackloss``).

    Returns
    -------
    X : ndarray of shape (21, 3), float64
        Air flow to the plant, cooling water inlet temperature and acid
        concentration, in the order of ``STACKLOSS_FEATURE_NAMES``.
    y : ndarray of shape (21,), float64
        Stack loss: ten times the percentage of ammonia lost (unabsorbed).

    References
    ----------
    Brownlee, K. A. (1965), Statistical Theory and Methodology in Science and
    Engineering, 2nd ed. Wiley, pp. 491-500.

    Examples
    --------
    >>> X, y = load_stackloss()
    >>> X.shape, y[:3]
    ((21, 3), array([42., 37., 37.]))
    """
    path = resources.files("jaxreg") / "data" / "stackloss.csv"
    with path.open("r") as handle:
        table = np.loadtxt(handle, delimiter=",", comments="#", skiprows=4)
    return table[:, :-1], table[:, -1]
