"""Gradient-based tuning (jaxreg.tune) and LassoCV(search="gradient").

The reference is a grid search on the same criterion (held-out half squared
error), computed with jaxreg.path and NumPy scoring.
"""

import numpy as np
import pytest

import jaxreg
from jaxreg.losses import SquaredLoss
from jaxreg.penalties import L1, WeightedL1

from _problems import make_regression_problem


@pytest.fixture
def split(rng):
    X, y = make_regression_problem(rng, 90, 30, sparsity=0.2, noise=0.5)
    return X[:60], y[:60], X[60:], y[60:]


def _held_out(X, y, coef, intercept):
    return 0.5 * np.mean((X @ np.asarray(coef) + float(intercept) - y) ** 2)


def test_tune_one_alpha_reaches_the_grid_minimum(split):
    X, y, X_val, y_val = split
    grid = jaxreg.path(X, y, SquaredLoss(), L1(1.0), n_alphas=60, eps=1e-3, tol=1e-10)
    values = [_held_out(X_val, y_val, c, b) for c, b in zip(grid.coefs, grid.intercepts)]
    best = min(values)
    amax = float(grid.alphas[0])
    for start in (amax / 3, amax / 100):
        result = jaxreg.tune(X, y, SquaredLoss(), L1(1.0), validation=(X_val, y_val),
                             init=start, tol=1e-10)
        sol = jaxreg.solve(X, y, SquaredLoss(), L1(result.alpha), tol=1e-10)
        # the reported value is the criterion at the reported alpha
        np.testing.assert_allclose(float(result.value),
                                   _held_out(X_val, y_val, sol.coef, sol.intercept), rtol=1e-6)
        assert float(result.value) <= 1.01 * best, (start, float(result.value), best)
        assert result.n_iter > 0 and result.values.shape == (result.n_steps,)


def test_tune_per_feature_and_kfold(split, rng):
    X, y, X_val, y_val = split
    amax = float(jaxreg.alpha_max(X, y, SquaredLoss(), L1(1.0)))
    weighted = jaxreg.tune(X, y, SquaredLoss(), WeightedL1(np.ones(X.shape[1])),
                           validation=(X_val, y_val), init=amax / 10, per_feature=True,
                           tol=1e-10, max_steps=40)
    assert weighted.alpha.shape == (X.shape[1],)
    assert float(weighted.value) < weighted.values[0]          # it improved on the start
    assert isinstance(weighted.penalty, WeightedL1)
    folds = jaxreg.tune(X, y, SquaredLoss(), L1(1.0), folds=3, init=amax / 2, tol=1e-10,
                        max_steps=15)
    assert folds.fold_values.shape == (folds.n_steps, 3)
    np.testing.assert_allclose(folds.values, folds.fold_values.mean(axis=1))
    assert float(folds.value) < folds.values[0]


def test_lasso_cv_gradient_search_matches_grid_search(split):
    from jaxreg.estimators import LassoCV

    X, y, _, _ = split
    grid = LassoCV(alphas=50, cv=3).fit(X, y)
    gradient = LassoCV(alphas=50, cv=3, search="gradient").fit(X, y)
    assert gradient.mse_path_.shape == (1, 3)
    assert gradient.search_mse_path_.shape[1] == 3
    assert gradient.mse_path_.mean() <= 1.01 * grid.mse_path_.mean(axis=1).min()
    np.testing.assert_allclose(gradient.predict(X), X @ gradient.coef_ + gradient.intercept_)
