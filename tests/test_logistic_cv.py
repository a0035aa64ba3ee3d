"""LogisticRegressionCV (jaxreg.estimators) against scikit-learn 1.9's, on the same folds.

Each case fits both on the same data, ``Cs`` grid, ``l1_ratios`` and folds;
scikit-learn runs at tight tolerances (``newton-cholesky`` for the L2 penalty,
``saga`` for L1 and the elastic net, ``tol=1e-12``), jaxreg at ``tol=1e-14``
(every fold fit certified by its duality gap). Both must choose the same
``C_`` and ``l1_ratio_``, with the same fold scores and coefficients to the
tolerances stated below. scikit-learn's estimator checks run in
``test_estimators.py`` (the ``ESTIMATORS`` list).
"""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from _problems import make_classification_problem
from sklearn import linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, StratifiedKFold

from jaxreg import estimators as E

TIGHT = dict(tol=1e-14, max_iter=1000)           # jaxreg: gap <= 1e-14 P_null per fit
REFERENCE = {"newton-cholesky": dict(solver="newton-cholesky", tol=1e-12, max_iter=10000),
             "saga": dict(solver="saga", tol=1e-12, max_iter=100000)}
NEW = dict(scoring="neg_log_loss", use_legacy_attributes=False)


def problem(rng, n_classes, shape):
    n, p = shape
    X, y = make_classification_problem(rng, n, p, n_classes=n_classes,
                                       correlation=0.5 if p > n else 0.0)
    # String labels: the classes are sorted, the second is positive for two.
    names = np.array(["ham", "spam", "eggs"])
    return X, names[(y > 0).astype(int) if n_classes == 2 else y]


def weights(rng, n):
    s = rng.uniform(0.2, 2.0, n)
    s[::7] = 0.0
    return s


def fit_both(params, reference, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = sk.LogisticRegressionCV(**params, **REFERENCE[reference]).fit(
            X, y, sample_weight=sample_weight)
    ours = E.LogisticRegressionCV(**params, **TIGHT).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


def objective(model, X, y, C, l1_ratio, s):
    """scikit-learn's C sum_i s_i loss_i + (1 - rho)/2 ||W||^2 + rho ||W||_1."""
    Z = X @ model.coef_.T + model.intercept_
    index = np.searchsorted(model.classes_, y)
    if Z.shape[1] == 1:
        losses = np.logaddexp(0.0, -(2.0 * index - 1.0) * Z[:, 0])
    else:
        losses = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), index]
    W = model.coef_
    return C * float(s @ losses) + 0.5 * (1 - l1_ratio) * (W**2).sum() + l1_ratio * np.abs(W).sum()


def relative(actual, desired):
    return np.abs(np.asarray(actual) - desired).max() / np.abs(desired).max()


# (n_classes, shape, l1_ratios, Cs, variant). The L1 grids start above the
# C where a fold's coefficients all vanish: there saga stops after its first
# epoch with the intercept still moving (its stopping test looks at the
# coefficients), a reference error of ~1e-1 (the premise is asserted below).
CASES = {
    "binary-l2-tall": (2, (60, 15), (0.0,), np.logspace(-2, 1, 4), "plain"),
    "binary-l2-wide-weighted": (2, (30, 60), (0.0,), np.logspace(-2, 1, 4), "weighted"),
    "binary-l1-tall": (2, (60, 15), (1.0,), np.logspace(-0.5, 1, 4), "plain"),
    "binary-enet-no-intercept-splitter": (2, (60, 15), (0.3, 0.8), np.logspace(-0.5, 1, 4),
                                          "no_intercept"),
    "3-class-l2-tall-balanced": (3, (60, 15), (0.0,), np.logspace(-2, 0.5, 4), "balanced"),
    "3-class-l2-wide-pairs": (3, (30, 60), (0.0,), np.logspace(-2, 0.5, 4), "pairs"),
    "3-class-l1-tall": (3, (60, 15), (1.0,), np.logspace(-0.5, 0.3, 3), "plain"),
    "3-class-enet-tall": (3, (60, 15), (0.3, 0.8), np.logspace(-0.5, 0.3, 3), "plain"),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_sklearn(case, rng):
    n_classes, shape, l1_ratios, Cs, variant = CASES[case]
    X, y = problem(rng, n_classes, shape)
    params = dict(Cs=Cs, l1_ratios=l1_ratios, cv=3, **NEW)
    s = None
    if variant == "weighted":
        s = weights(rng, len(y))
    if variant == "balanced":
        s = weights(rng, len(y))
        params["class_weight"] = "balanced"       # from the weighted class totals
    if variant == "no_intercept":
        params.update(fit_intercept=False, cv=KFold(4, shuffle=True, random_state=0))
    if variant == "pairs":
        params["cv"] = list(StratifiedKFold(4, shuffle=True, random_state=1).split(X, y))
    reference = "newton-cholesky" if l1_ratios == (0.0,) else "saga"
    ours, theirs = fit_both(params, reference, X, y, s)

    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.Cs_, theirs.Cs_)
    np.testing.assert_array_equal(ours.l1_ratios_, theirs.l1_ratios_)
    for name in ("coefs_paths_", "scores_", "n_iter_", "coef_", "intercept_"):
        assert getattr(ours, name).shape == getattr(theirs, name).shape, name
    n_features = X.shape[1]
    if reference == "saga":          # the premise of the L1 grids (see CASES)
        assert (np.abs(theirs.coefs_paths_[..., :n_features]).max(axis=(-2, -1)) > 0).all()
    # Fold fits agree to ~1e-7 of max|W| (measured: 1e-10 for L1, <= 1.1e-7
    # otherwise): jaxreg's gap of 1e-14 P_null, at the round-off of the
    # objective, bounds the coefficient error only by ~sqrt(2e-14 / mu), and
    # the references stop on their own step or gradient tests. The log-loss
    # is Lipschitz in the coefficients with constant ~max|x_i| ~ 3: the
    # scores agree to a few 1e-7 (measured <= 2e-7).
    assert relative(ours.coefs_paths_, theirs.coefs_paths_) <= 1e-6
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=0, atol=1e-6)
    # The same choice on the same grid, then the same refit.
    assert ours.C_ == theirs.C_ and ours.l1_ratio_ == theirs.l1_ratio_
    scale = np.abs(theirs.coef_).max()
    assert scale > 0
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0,
                               atol=1e-6 * max(scale, np.abs(theirs.intercept_).max()))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    # The objective at C_ (on the class-weighted sample weights): ours, certified,
    # is never above the reference's, and they agree to round-off.
    sw = np.ones(len(y)) if s is None else s
    if variant == "balanced":
        index = np.searchsorted(ours.classes_, y)
        sw = sw * (sw.sum() / (n_classes * np.bincount(index, weights=sw)))[index]
    value = [objective(m, X, y, ours.C_, ours.l1_ratio_, sw) for m in (ours, theirs)]
    assert value[0] <= value[1] * (1 + 1e-12)
    np.testing.assert_allclose(value[0], value[1], rtol=1e-10)
    assert ours.n_iter_.dtype == np.int32 and (ours.n_iter_ >= 0).all()
    # The refit's certificate: P_null <= log(n_classes) (the model w = 0, b = 0).
    assert -1e-12 <= ours.dual_gap_ <= 1e-14 * np.log(n_classes)


def test_folds_are_warm_started_logistic_regression_paths(rng):
    # Each point of a fold path is LogisticRegression(C) on the fold's training
    # rows (C converted with the fold's own sum of weights), reached from the
    # previous C: fewer Newton iterations than cold starts.
    X, y = problem(rng, 2, (60, 15))
    s = weights(rng, len(y))
    Cs = np.logspace(-2, 2, 5)
    model = E.LogisticRegressionCV(Cs=Cs, l1_ratios=(0.0,), cv=3, tol=1e-12, **NEW).fit(
        X, y, sample_weight=s)
    train, _ = next(StratifiedKFold(3).split(X, y))
    cold = []
    for column, C in enumerate(Cs):
        single = E.LogisticRegression(C=C, tol=1e-12).fit(X[train], y[train],
                                                          sample_weight=s[train])
        path = model.coefs_paths_[0, 0, column, 0]
        scale = np.abs(single.coef_).max()
        np.testing.assert_allclose(path[:-1], single.coef_[0], rtol=0, atol=1e-6 * scale)
        np.testing.assert_allclose(path[-1], single.intercept_[0], rtol=0,
                                   atol=1e-6 * max(scale, abs(single.intercept_[0])))
        cold.append(int(single.n_iter_[0]))
    assert model.n_iter_[0, 0].sum() < sum(cold)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_refit_false_matches_sklearn(n_classes, rng):
    # refit=False: each fold's best (C, l1_ratio); coef_, intercept_, C_ and
    # l1_ratio_ are averages over folds. (scikit-learn needs an ndarray
    # l1_ratios here: with a list it raises a TypeError.)
    X, y = problem(rng, n_classes, (60, 15))
    if n_classes == 2:
        params, reference = dict(Cs=np.logspace(-0.5, 1, 3), l1_ratios=np.array([0.3, 0.8]),
                                 cv=4), "saga"
    else:
        params = dict(Cs=np.logspace(-2, 0.5, 4), l1_ratios=(0.0,), cv=5)
        reference = "newton-cholesky"
    n_folds = params["cv"]
    ours, theirs = fit_both(dict(params, refit=False, **NEW), reference, X, y)
    # scikit-learn's order of the grid: C first, then l1_ratio.
    best = np.argmax(np.swapaxes(ours.scores_, 1, 2).reshape(n_folds, -1), axis=1)
    assert len(set(best)) > 1, "the folds should not all agree"
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.C_, theirs.C_, rtol=1e-14)
    np.testing.assert_allclose(ours.l1_ratio_, theirs.l1_ratio_, rtol=1e-14)
    scale = np.abs(theirs.coef_).max()
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-6 * scale)
    # The average of the fold solutions, not a fit at C_: no certificate.
    assert not hasattr(ours, "dual_gap_")
    C_index, l1_index = np.divmod(best, len(ours.l1_ratios_))
    mean = np.mean([ours.coefs_paths_[fold, l1_index[fold], C_index[fold]]
                    for fold in range(n_folds)], axis=0)
    np.testing.assert_allclose(ours.coef_, mean[:, :-1], rtol=1e-14)
    np.testing.assert_allclose(ours.C_, ours.Cs_[C_index].mean(), rtol=1e-14)


def test_legacy_attributes_and_deprecations_as_sklearn(rng):
    # The defaults warn as scikit-learn 1.9's (l1_ratios, scoring and the
    # attribute layout) and give its legacy attributes: dicts per class, C_
    # repeated per class, l1_ratios_ = [None].
    X, y = problem(rng, 3, (60, 15))
    Cs = [0.1, 1.0]
    messages = ("default value for l1_ratios will change", "default value of the parameter "
                "'scoring' will change", "fitted attributes of LogisticRegressionCV will be "
                "simplified")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = E.LogisticRegressionCV(Cs=Cs, cv=3, tol=1e-14).fit(X, y)
    found = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert all(any(m in f for f in found) for m in messages) and len(found) == 3, found
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = sk.LogisticRegressionCV(Cs=Cs, cv=3, **REFERENCE["newton-cholesky"]).fit(X, y)
    # With l1_ratios given, the legacy layout keeps an l1_ratio axis; for two
    # classes only the positive class is a key.
    X2, y2 = problem(rng, 2, (40, 15))
    params = dict(Cs=Cs, cv=3, l1_ratios=(0.0,), scoring=None, use_legacy_attributes=True)
    ours2 = E.LogisticRegressionCV(**params, tol=1e-14).fit(X2, y2)
    theirs2 = sk.LogisticRegressionCV(**params, **REFERENCE["newton-cholesky"]).fit(X2, y2)
    for a, b in ((ours, theirs), (ours2, theirs2)):
        assert list(a.coefs_paths_) == list(b.coefs_paths_) == list(a.scores_)
        for key in b.coefs_paths_:
            assert a.coefs_paths_[key].shape == b.coefs_paths_[key].shape
            assert relative(a.coefs_paths_[key], b.coefs_paths_[key]) <= 1e-6
            np.testing.assert_array_equal(a.scores_[key], b.scores_[key])   # accuracy
        assert a.n_iter_.shape == b.n_iter_.shape
        assert a.C_.shape == b.C_.shape and a.l1_ratio_.shape == b.l1_ratio_.shape
        np.testing.assert_array_equal(a.C_, b.C_)
        np.testing.assert_array_equal(a.l1_ratio_, b.l1_ratio_)
        np.testing.assert_array_equal(a.l1_ratios_, b.l1_ratios_)
    assert list(ours.coefs_paths_) == ["eggs", "ham", "spam"]
    assert ours.l1_ratio_.tolist() == [None] * 3 and ours.coefs_paths_["eggs"].shape == (3, 2, 16)
    assert list(ours2.coefs_paths_) == ["spam"]
    assert ours2.coefs_paths_["spam"].shape == (3, 2, 1, 16)
    assert ours2.C_.shape == (1,) and ours2.n_iter_.shape == (1, 3, 2, 1)
    # score() uses `scoring` (accuracy by default), as scikit-learn's.
    assert ours.score(X, y) == theirs.score(X, y)


def test_default_accuracy_ties_choose_the_first_maximum_as_sklearn(rng):
    # Accuracy is piecewise constant in C: ties are common, and the choice is
    # the first maximum of the summed scores (Cs first, then l1_ratios).
    X, y = problem(rng, 2, (60, 15))
    params = dict(Cs=np.logspace(0, 2, 5), l1_ratios=(0.0,), cv=3, scoring=None,
                  use_legacy_attributes=False)
    ours, theirs = fit_both(params, "newton-cholesky", X, y)
    np.testing.assert_array_equal(ours.scores_, theirs.scores_)
    total = ours.scores_.sum(axis=0)[0]
    assert (total == total.max()).sum() > 1, "the problem should have a tie"
    assert ours.C_ == theirs.C_ == ours.Cs_[np.argmax(total)]
    assert ours.score(X, y) == theirs.score(X, y)
    scored = E.LogisticRegressionCV(**dict(params, scoring="neg_log_loss")).fit(X, y)
    np.testing.assert_allclose(scored.score(X, y), -log_loss(y, scored.predict_proba(X)),
                               rtol=1e-14)


def test_scorers_see_every_class_when_a_test_fold_misses_one(rng):
    # log_loss needs the labels when y_test misses a class: scikit-learn passes
    # them all (and pos_label for two classes), and so does jaxreg.
    X, y = problem(rng, 3, (60, 15))
    rows = np.arange(60)
    no_spam = rows[y != "spam"][:15]                 # a test fold without "spam"
    other = rng.permutation(np.setdiff1d(rows, no_spam))[:15]
    folds = [(np.setdiff1d(rows, test), test) for test in (no_spam, other)]
    assert "spam" not in set(y[folds[0][1]]) and "spam" in set(y[folds[1][1]])
    params = dict(Cs=[0.3, 1.0], l1_ratios=(0.0,), cv=folds, **NEW)
    ours, theirs = fit_both(params, "newton-cholesky", X, y)
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=0, atol=1e-6)


def test_deprecated_penalty_overrides_l1_ratios_as_sklearn(rng):
    # penalty="l1" (deprecated) fits the L1 penalty for every entry of
    # l1_ratios, which it warns are unused; as scikit-learn 1.9.
    X, y = problem(rng, 2, (60, 15))
    params = dict(Cs=[1.0, 3.0], l1_ratios=(0.2, 0.7), cv=3, **NEW)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"), \
            pytest.warns(UserWarning, match="l1_ratios parameter is only used when penalty"):
        ours = E.LogisticRegressionCV(penalty="l1", **params).fit(X, y)
    l1 = E.LogisticRegressionCV(**dict(params, l1_ratios=(1.0,))).fit(X, y)
    np.testing.assert_array_equal(ours.scores_[:, 0], l1.scores_[:, 0])
    np.testing.assert_array_equal(ours.scores_[:, 1], l1.scores_[:, 0])
    np.testing.assert_array_equal(ours.coef_, l1.coef_)
    assert ours.l1_ratio_ == 0.2      # the entry chosen, as scikit-learn reports it


@pytest.mark.parametrize("params, message", [
    (dict(Cs=[1.0, -0.5]), r"Cs\[1\] == -0.5, must be > 0.0."),
    (dict(Cs=[0.0]), r"Cs\[0\] == 0.0, must be > 0.0."),
    (dict(Cs=[1.0, np.nan]), r"Cs\[1\] == nan, must be > 0.0."),
    (dict(Cs=0), r"The 'Cs' parameter of LogisticRegressionCV must be an int in the range "
                 r"\[1, inf\) or an array-like. Got 0 instead."),
    (dict(l1_ratios=(1.5,)), r"l1_ratios must be an array-like of numbers between 0 and 1; "
                             r"got \(l1_ratios=\(1.5,\)\)"),
    (dict(l1_ratios=(0.3, -0.1)), r"l1_ratios must be an array-like of numbers between 0 and 1"),
    (dict(l1_ratios=(0.5, np.nan)), r"l1_ratios must be an array-like of numbers between 0 and 1"),
    (dict(l1_ratios=()), r"l1_ratios must be an array-like of numbers between 0 and 1"),
    (dict(penalty="elasticnet", l1_ratios=None), r"l1_ratios must be an array-like of numbers"),
    (dict(class_weight={"ham": 1.0, "bacon": 2.0}),
     r"The given class_weight dict must have the class labels as keys"),
    (dict(tol=-1.0), r"The 'tol' parameter of LogisticRegressionCV must be a float in the range "
                     r"\[0.0, inf\)"),
])
def test_bad_parameters_are_refused_in_fit(params, message, rng):
    X, y = problem(rng, 2, (30, 4))
    params = {**dict(l1_ratios=(0.0,), **NEW), **params}
    model = E.LogisticRegressionCV(**params)          # __init__ does not validate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)     # penalty= is deprecated
        with pytest.raises(ValueError, match=message):
            model.fit(X, y)


def test_bad_input_is_refused_with_sklearns_messages(rng):
    X, y = problem(rng, 2, (30, 4))
    model = E.LogisticRegressionCV(Cs=2, cv=3, l1_ratios=(0.0,), **NEW)
    theirs = sk.LogisticRegressionCV(Cs=2, cv=3, l1_ratios=(0.0,), **NEW)
    bad = X.copy()
    bad[3, 2] = np.nan
    for estimator in (model, theirs):     # the same messages as scikit-learn's
        with pytest.raises(ValueError, match="Input X contains NaN"):
            estimator.fit(bad, y)
        with pytest.raises(ValueError, match="at least 2 classes in the data"):
            estimator.fit(X, np.full(30, "ham"))
        with pytest.raises(ValueError, match="Unknown label type"):
            estimator.fit(X, X[:, 0])
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        model.fit(X, y, sample_weight=-np.ones(30))
    with pytest.raises(ValueError, match="metadata routing is not supported"):
        model.fit(X, y, groups=np.arange(30))
    from scipy import sparse
    with pytest.raises(TypeError, match="Sparse data was passed"):
        model.fit(sparse.csr_matrix(X), y)


def test_non_convergence_is_one_warning_with_the_counts(rng):
    X, y = problem(rng, 3, (60, 15))
    with pytest.warns(ConvergenceWarning, match=r"LogisticRegressionCV: \d+ of 7 fits did not "
                                                r"converge .* duality gap .* > tol"):
        E.LogisticRegressionCV(Cs=[1.0, 10.0], cv=3, l1_ratios=(1.0,), max_iter=2, tol=1e-12,
                               **NEW).fit(X, y)


X64_OFF = textwrap.dedent("""
    import warnings
    warnings.simplefilter("error")
    import jax
    import numpy as np
    from jaxreg.estimators import LogisticRegressionCV
    from sklearn import linear_model as sk
    assert not jax.config.jax_enable_x64
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = (X[:, 0] + 0.5 * rng.standard_normal(60) > 0).astype(int)
    params = dict(Cs=[0.1, 1.0], cv=3, l1_ratios=(0.0,), scoring="neg_log_loss",
                  use_legacy_attributes=False)
    ours = LogisticRegressionCV(**params, tol=1e-14).fit(X, y)
    theirs = sk.LogisticRegressionCV(**params, solver="newton-cholesky", tol=1e-12).fit(X, y)
    assert ours.coef_.dtype == np.float64 and ours.coefs_paths_.dtype == np.float64
    assert not jax.config.jax_enable_x64, "fitting turned x64 on"
    error = np.abs(ours.coef_ - theirs.coef_).max() / np.abs(theirs.coef_).max()
    assert error <= 1e-6, error               # float32 would give ~1e-3
    assert np.abs(ours.scores_ - theirs.scores_).max() <= 1e-6
    print("ok")
""")


def test_float64_without_x64_in_a_subprocess():
    # The conftest turns x64 on; with it off (JAX's default), float64 input is
    # still fitted in float64 (scoped jax.enable_x64), and the flag stays off.
    env = dict(os.environ, JAX_ENABLE_X64="0", JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", X64_OFF], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
