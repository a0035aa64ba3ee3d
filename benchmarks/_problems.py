r"""BENCHMARKS.md's standard lasso-path problems (a)-(d), seeded, and NumPy certificates.

Problems, all centred (X by column means, y by its mean) and fitted without an
intercept, as BENCHMARKS.md says:

(a) scikit-learn's diabetes data, 442 x 10 (bundled with jaxreg), eps 1e-3;
(b) Gaussian X 10000 x 1000, eps 1e-3;
(c) Toeplitz design 200 x 5000, rows N(0, Sigma), Sigma_ij = 0.5^|i-j| (AR(1)
    construction), eps 1e-2;
(d) Gaussian X 100000 x 200, eps 1e-3.

In (b)-(d) the true ``w`` has a fraction of non-zeros (5 %, 1 %, 5 %) with signs
+-1 and magnitudes U(0.5, 2), and y = X w + noise at SNR 3 (noise variance =
var(X w) / 3). :func:`sparse_gaussian` draws exactly what
``bench_solve.synthetic_b`` draws (same generator calls in the same order), so
that benchmark can import it without changing its numbers.

The certificate (:func:`lasso_gaps`) is independent of jaxreg: for the lasso
:math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1` it takes the dual point
:math:`\theta = r \min(1, n\alpha / \|X^\top r\|_\infty)`, :math:`r = y - Xw`,
and returns :math:`P(w) - D(\theta)` with
:math:`D(\theta) = (\theta^\top y - \|\theta\|^2 / 2) / n`, in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

N_ALPHAS = 100


class Problem(NamedTuple):
    name: str          # "a" .. "d"
    label: str         # human-readable, with the shape
    X: np.ndarray      # (n_samples, n_features), centred, C-contiguous float64
    y: np.ndarray      # (n_samples,), centred
    eps: float         # alpha_min / alpha_max of the grid


# Full sizes of BENCHMARKS.md, and small versions for development (--quick).
SIZES = {
    "a": dict(full=(442, 10), quick=(442, 10)),
    "b": dict(full=(10000, 1000), quick=(2000, 200)),
    "c": dict(full=(200, 5000), quick=(100, 1000)),
    "d": dict(full=(100000, 200), quick=(10000, 50)),
}
EPS = {"a": 1e-3, "b": 1e-3, "c": 1e-2, "d": 1e-3}
_SEEDS = {"b": 0, "c": 1, "d": 2}


def _sparse_truth(rng, p, density):
    """``w`` with ``floor(density p)`` non-zeros (at least one; ``p // 20`` for 5 %, as
    ``bench_solve.synthetic_b``), signs +-1, magnitudes U(0.5, 2)."""
    w = np.zeros(p)
    support = rng.choice(p, max(1, int(density * p + 1e-9)), replace=False)
    w[support] = rng.choice([-1.0, 1.0], support.size) * rng.uniform(0.5, 2.0, support.size)
    return w


def _observe(rng, X, w, snr=3.0):
    signal = X @ w
    return signal + rng.standard_normal(X.shape[0]) * np.sqrt(signal.var() / snr)


def sparse_gaussian(n=10000, p=1000, density=0.05, seed=0):
    """Gaussian design, sparse truth, SNR 3 (BENCHMARKS.md (b) and (d)); not centred."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = _sparse_truth(rng, p, density)
    return X, _observe(rng, X, w)


def toeplitz_ar1(n=200, p=5000, density=0.01, rho=0.5, seed=1):
    """Rows N(0, Sigma), Sigma_ij = rho^|i-j|, by the AR(1) recursion over columns
    (x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j); sparse truth, SNR 3; not centred."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    X = np.empty((n, p))
    X[:, 0] = Z[:, 0]
    scale = np.sqrt(1.0 - rho**2)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + scale * Z[:, j]
    w = _sparse_truth(rng, p, density)
    return X, _observe(rng, X, w)


def centre(X, y):
    X = np.ascontiguousarray(X - X.mean(axis=0), dtype=np.float64)
    return X, np.asarray(y - y.mean(), dtype=np.float64)


def make_problem(name, quick=False):
    """Problem ``name`` in "abcd", centred; ``quick``: the small development version."""
    n, p = SIZES[name]["quick" if quick else "full"]
    if name == "a":
        from jaxreg.datasets import load_diabetes
        X, y = load_diabetes()
        X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
        kind = "diabetes"
    elif name in ("b", "d"):
        X, y = sparse_gaussian(n, p, 0.05, seed=_SEEDS[name])
        kind = "gaussian"
    elif name == "c":
        X, y = toeplitz_ar1(n, p, 0.01, seed=_SEEDS[name])
        kind = "toeplitz"
    else:
        raise ValueError(f"Unknown problem {name!r}; choose from 'a', 'b', 'c', 'd'.")
    X, y = centre(X, y)
    return Problem(name, f"({name}) {kind} {X.shape[0]}x{X.shape[1]}", X, y, EPS[name])


# ---- grid and NumPy certificates (independent of jaxreg) ------------------


def alpha_grid(X, y, eps, n_alphas=N_ALPHAS):
    """scikit-learn's grid: geometric from max|X^T y|/n to eps times that, decreasing."""
    alpha_max = np.abs(X.T @ y).max() / X.shape[0]
    return alpha_max * np.geomspace(1.0, eps, n_alphas)


def p_null(y):
    """Objective of w = 0: ||y||^2 / (2n) (y is centred, no intercept)."""
    return float(y @ y) / (2 * y.shape[0])


def lasso_gaps(X, y, coefs, alphas):
    """Duality gaps of the lasso at each column of ``coefs`` (n_features, n_alphas)."""
    n = X.shape[0]
    coefs = np.asarray(coefs, np.float64).reshape(X.shape[1], -1)
    alphas = np.asarray(alphas, np.float64)
    R = y[:, None] - X @ coefs                                   # (n, m) residuals
    primal = np.einsum("ij,ij->j", R, R) / (2 * n) + alphas * np.abs(coefs).sum(axis=0)
    dual_norm = np.abs(X.T @ R).max(axis=0)                      # ||X^T r||_inf
    t = np.minimum(1.0, n * alphas / np.maximum(dual_norm, 1e-300))
    dual = (t * (y @ R) - 0.5 * t**2 * np.einsum("ij,ij->j", R, R)) / n
    return primal - dual
