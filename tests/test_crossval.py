"""K-fold cross-validation: agreement with scikit-learn's LassoCV / ElasticNetCV,
fold Gram statistics, folds, the 1se rule and errors."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import linear_model, model_selection

import jaxreg
from jaxreg import crossval, losses, penalties
from jaxreg.datasets import load_diabetes
from jaxreg.solvers.cd import gram_statistics

from _problems import CLASSIFICATION_SHAPES, PROBLEM_SHAPES
from _references import loss_values


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_cv_matches_sklearn_lasso_cv_and_elastic_net_cv(l1_ratio):
    X, y = load_diabetes()
    penalty = penalties.L1(1.0) if l1_ratio == 1.0 else penalties.ElasticNetPenalty(1.0, l1_ratio)
    # scikit-learn's tol 1e-12 <-> ours 2e-12 (DESIGN.md)
    result = jaxreg.cv(X, y, losses.SquaredLoss(), penalty, n_alphas=30, tol=1e-13,
                       max_iter=100000)
    reference_class = linear_model.LassoCV if l1_ratio == 1.0 else linear_model.ElasticNetCV
    options = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
    reference = reference_class(alphas=np.asarray(result.alphas), cv=5, tol=1e-12,
                                max_iter=100000, **options).fit(X, y)
    np.testing.assert_allclose(result.alphas, reference.alphas_, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(result.scores).T, reference.mse_path_, rtol=1e-6)
    assert result.alpha_min == reference.alpha_
    np.testing.assert_allclose(result.solution.coef, reference.coef_, rtol=0,
                               atol=1e-6 * np.abs(reference.coef_).max())


def test_cv_with_sample_weight_matches_lasso_cv(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    weights = rng.uniform(0.5, 2.0, size=len(y))
    splits = list(model_selection.KFold(4, shuffle=True, random_state=0).split(X))
    result = jaxreg.cv(X, y, losses.SquaredLoss(), penalties.L1(1.0), folds=splits,
                       n_alphas=10, sample_weight=weights, tol=1e-13, max_iter=100000)
    reference = linear_model.LassoCV(alphas=np.asarray(result.alphas), cv=splits, tol=1e-12,
                                     max_iter=100000).fit(X, y, sample_weight=weights)
    # Both score each fold by the weighted mean squared error of its test rows.
    np.testing.assert_allclose(np.asarray(result.scores).T, reference.mse_path_, rtol=1e-6)
    assert result.alpha_min == reference.alpha_
    # The refit (the alpha_min point of a full-data path from the same statistics).
    assert bool(result.solution.converged)
    np.testing.assert_allclose(result.solution.coef, reference.coef_, rtol=0,
                               atol=1e-6 * np.abs(reference.coef_).max())
    np.testing.assert_allclose(result.solution.intercept, reference.intercept_, rtol=1e-8)


@pytest.mark.parametrize("weighting", ["weighted", "unit", "unit_uncovered"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_fold_gram_statistics_equal_direct_statistics(fit_intercept, backend, weighting, rng):
    """Per-fold statistics equal those of the training rows, with sample weights,
    with unit weights and KFold (the full Gram is then the sum of the held-out
    blocks), and with unit weights and folds whose held-out blocks overlap."""
    X, y = PROBLEM_SHAPES["tall"](rng)
    X = X + 5.0                                    # means far from zero: cancellation check
    n = len(y)
    weights = rng.uniform(0.5, 2.0, size=n) if weighting == "weighted" else None
    splits = crossval.kfold(n, 3)
    if weighting == "unit_uncovered":              # the last 7 rows trained on by no fold:
        splits = [(train[train < n - 7], test) for train, test in splits]   # blocks overlap
        assert not crossval._partition(crossval.make_folds(splits, n, None, X.dtype), n)
    folds = crossval.make_folds(splits, n, weights, X.dtype)
    if weighting == "unit":                        # KFold: the blocks partition the rows
        assert crossval._partition(folds, n)
    weights = np.ones(n) if weights is None else weights
    xp = np if backend == "numpy" else jnp
    given = None if weighting != "weighted" else weights
    stats = crossval.fold_gram_statistics(xp.asarray(X), xp.asarray(y), given, folds,
                                          fit_intercept, xp=xp, with_full=True)
    assert stats.gram.shape[0] == 4                # 3 folds, then all the rows
    for k in range(4):
        train_weight = np.asarray(folds.train_weight[k]) if k < 3 else weights
        direct = gram_statistics(X, y, sample_weight=train_weight, fit_intercept=fit_intercept)
        for got, want in zip(stats, direct):
            np.testing.assert_allclose(np.asarray(got[k]), np.asarray(want), rtol=1e-10,
                                       atol=1e-12 * np.abs(np.asarray(want)).max())


def test_cv_scores_of_other_losses_equal_single_solves(rng):
    """Logistic CV: each fold's score equals a direct fit on the training rows."""
    X, y = CLASSIFICATION_SHAPES["tall"](rng)
    result = jaxreg.cv(X, y, losses.LogisticLoss(), penalties.L1(1.0), folds=3, n_alphas=5,
                       eps=0.05, tol=1e-10, max_iter=100000, refit=False)
    assert result.solution is None
    for k, (train, test) in enumerate(crossval.kfold(len(y), 3)):
        for j in (1, 4):
            alpha = float(result.alphas[j])
            fit = jaxreg.solve(X[train], y[train], losses.LogisticLoss(), penalties.L1(alpha),
                               tol=1e-12, max_iter=100000)
            z = X[test] @ np.asarray(fit.coef) + float(fit.intercept)
            expected = np.mean(loss_values(y[test], z, "logistic"))
            np.testing.assert_allclose(float(result.scores[k, j]), expected, rtol=1e-6)


def test_one_standard_error_rule_and_summary(rng):
    alphas = np.array([1.0, 0.5, 0.25, 0.125])
    scores = np.array([[4.0, 2.0, 1.0, 1.1], [4.2, 2.1, 1.3, 1.0], [3.8, 1.9, 1.3, 1.3]])
    mean, std_error, index_min, index_1se = crossval.summarize(alphas, scores)
    np.testing.assert_allclose(mean, scores.mean(0))
    np.testing.assert_allclose(std_error, scores.std(0, ddof=1) / np.sqrt(3))
    assert index_min == 3                          # mean 1.1333
    assert index_1se == 2                          # 1.2 <= 1.1333 + se 0.0882: largest such alpha
    assert mean[1] > mean[index_min] + std_error[index_min]


def test_kfold_equals_sklearn_kfold():
    for n, k in [(10, 3), (442, 5), (7, 7)]:
        ours = crossval.kfold(n, k)
        theirs = list(model_selection.KFold(k).split(np.zeros((n, 1))))
        for (a, b), (c, d) in zip(ours, theirs):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)


def test_cv_accepts_splitters_and_is_one_compiled_call(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    splitter = model_selection.KFold(3, shuffle=True, random_state=1)
    first = jaxreg.cv(X, y, losses.SquaredLoss(), penalties.L1(1.0), folds=splitter,
                      n_alphas=6, tol=1e-10, refit=False)
    assert first.scores.shape == (3, 6) and first.fold_paths.coefs.shape == (3, 6, 15)
    before = crossval._cv_jit._cache_size()
    jaxreg.cv(X + 0.1, y, losses.SquaredLoss(), penalties.L1(1.0), folds=splitter, n_alphas=6,
              tol=1e-10, refit=False)
    assert crossval._cv_jit._cache_size() == before


def test_cv_core_has_no_host_callbacks(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    folds = crossval.make_folds(crossval.kfold(len(y), 3), len(y), None, X.dtype)
    alphas = jnp.geomspace(0.3, 0.03, 4)
    jaxpr = jax.make_jaxpr(lambda X, y: crossval.cv_core(
        X, y, losses.SquaredLoss(), penalties.L1(1.0), alphas, folds, tol=1e-6))(X, y)
    text = str(jaxpr)
    assert "callback" not in text and "while" in text


@pytest.mark.parametrize("folds,match", [(1, "folds must be"), (1000, "folds must be"),
                                         ([(np.arange(5), np.arange(5, 10))], "at least 2")])
def test_bad_folds(folds, match, rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    with pytest.raises(ValueError, match=match):
        jaxreg.cv(X, y, losses.SquaredLoss(), penalties.L1(1.0), folds=folds)


def test_cv_rejects_bad_data(rng):
    X, y = PROBLEM_SHAPES["tall"](rng)
    y_bad = y.copy()
    y_bad[0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        jaxreg.cv(X, y_bad, losses.SquaredLoss(), penalties.L1(1.0))
    with pytest.raises(ValueError, match="non-negative"):
        jaxreg.cv(X, y, losses.SquaredLoss(), penalties.L1(1.0), alphas=np.array([0.1, -1.0]))
