r"""Synthetic text-like sparse regression problems for the sparse benchmarks.

:func:`text_like` draws an ``n x p`` CSC matrix with about
``density * n * p`` stored values whose column frequencies follow a power law
(column ``j`` is hit with probability proportional to
:math:`(j + 1)^{-\gamma}`, :math:`\gamma = 1.1`, as word frequencies in a bag
of words: a few columns are nearly dense, most have a handful of values),
values :math:`\log(2 + \text{Poisson}(1))` (log term counts), a true ``w``
with 1 % non-zeros (signs +-1, magnitudes U(0.5, 2)) and
``y = X w + noise`` at SNR 3 (noise variance = var(X w) / 3), centred. Seeded.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def text_like(n, p, density=1e-3, *, seed=0, exponent=1.1):
    """``(X, y)``: ``X`` a float64 CSC matrix (n, p), ``y`` (n,) centred."""
    rng = np.random.default_rng(seed)
    nnz = int(density * n * p)
    probs = 1.0 / np.arange(1, p + 1) ** exponent
    probs /= probs.sum()
    counts = np.minimum(rng.multinomial(nnz, probs), n)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.empty(indptr[-1], np.int32)
    for j in np.flatnonzero(counts > n // 20):         # nearly dense columns: distinct rows
        indices[indptr[j]:indptr[j + 1]] = rng.choice(n, counts[j], replace=False)
    rest = counts <= n // 20
    positions = np.flatnonzero(np.repeat(rest, counts))
    indices[positions] = rng.integers(0, n, positions.size)
    data = np.log(2.0 + rng.poisson(1.0, indices.size))
    X = sp.csc_matrix((data, indices, indptr), shape=(n, p))
    X.sum_duplicates()                                  # repeated rows in a column add up
    k = max(1, p // 100)
    w = np.zeros(p)
    support = rng.choice(p, k, replace=False)
    w[support] = rng.choice([-1.0, 1.0], k) * rng.uniform(0.5, 2.0, k)
    z = X @ w
    y = z + rng.standard_normal(n) * np.sqrt(z.var() / 3.0)
    return X, y - y.mean()


def lasso_gaps(X, y, alphas, coefs):
    r"""Duality gaps of :math:`\frac{1}{2n}\|y - Xw\|^2 + \alpha\|w\|_1` (no intercept)
    at each column of ``coefs`` (p, m), in NumPy float64 with sparse products:
    dual point :math:`\theta = r \min(1, n\alpha / \|X^\top r\|_\infty)`."""
    n = X.shape[0]
    gaps = []
    for k, alpha in enumerate(alphas):
        w = coefs[:, k]
        r = y - X @ w
        theta = r * min(1.0, n * alpha / max(np.max(np.abs(X.T @ r)), 1e-300))
        primal = 0.5 * (r @ r) / n + alpha * np.abs(w).sum()
        dual = (theta @ y - 0.5 * (theta @ theta)) / n
        gaps.append(primal - dual)
    return np.asarray(gaps)
