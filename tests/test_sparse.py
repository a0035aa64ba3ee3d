"""Sparse design matrices (jaxreg.sparse, solvers.sparse_cd): against
scikit-learn's sparse fits and jaxreg's dense results, float64.

Tolerances: the acceptance bar of issue 10 is 1e-6 x max|w| between sparse
and dense / scikit-learn; both sides are solved to a duality gap of
~1e-12 x P_null, which puts the coefficients of these well-posed problems
(unique minimisers: Gaussian-valued sparse X) within ~1e-7 of the minimiser.
Compilation dominates the time of these tests (~3 s per new shape or
configuration), so the cases share shapes.
"""

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse
from sklearn.linear_model import ElasticNet, Lasso
from sklearn.linear_model import enet_path as sk_enet_path
from sklearn.linear_model import lasso_path as sk_lasso_path

import jaxreg
from jaxreg import sparse as jsp
from jaxreg.losses import AbsoluteLoss, HuberLoss, LogisticLoss, SquaredLoss
from jaxreg.paths import sparse_path_core
from jaxreg.penalties import L1, ElasticNetPenalty, WeightedL1
from jaxreg.solvers.sparse_cd import sparse_coordinate_descent

SHAPES = {"tall": (60, 15), "wide": (40, 100)}


def _problem(rng, n, p, density=0.25):
    X = sp.random(n, p, density=density, random_state=rng, format="csr",
                  data_rvs=rng.standard_normal)
    w = np.where(rng.uniform(size=p) < 0.3, rng.standard_normal(p), 0.0)
    y = X @ w + 0.1 * rng.standard_normal(n) + 1.5
    return X, y


def _rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


# --------------------------------------------------------------------------
# The representation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dia", "lil", "dok"])
def test_from_scipy_products_equal_scipy(fmt, rng):
    X, _ = _problem(rng, 23, 17, density=0.3)
    X = X.asformat(fmt)
    design = jsp.from_scipy(X, block=4)
    dense = X.toarray()
    w, v = rng.standard_normal(17), rng.standard_normal(23)
    np.testing.assert_allclose(design.todense(), dense, rtol=0, atol=0)
    np.testing.assert_allclose(design.matvec(w), dense @ w, rtol=1e-13)
    np.testing.assert_allclose(design.rmatvec(v), dense.T @ v, rtol=1e-13)
    for j in (0, 5, 16):
        np.testing.assert_allclose(design.column_dot(j, v), dense[:, j] @ v, rtol=1e-13)
        np.testing.assert_allclose(design.column_axpy(j, 0.7, v), v + 0.7 * dense[:, j],
                                   rtol=1e-13)
        s = np.linspace(0.5, 2.0, 23)
        updated, dot = design.column_update(j, v, lambda d: (2.0 * d, d), weights=s)
        np.testing.assert_allclose(dot, dense[:, j] @ (s * v), rtol=1e-13)
        np.testing.assert_allclose(updated, v + 2.0 * dot * dense[:, j], rtol=1e-13)


def test_column_walks_over_long_columns(rng):
    """Columns longer than one block (block 4, then long blocks of 64 values)."""
    dense = np.zeros((300, 3))
    dense[:, 1] = rng.standard_normal(300)                       # 4 + 5 blocks
    dense[::7, 2] = rng.standard_normal(43)                      # 4 + 1 block
    dense[5, 0] = 1.5
    design = jsp.from_scipy(sp.csr_matrix(dense), block=4)
    v, s = rng.standard_normal(300), rng.uniform(0.5, 2.0, 300)
    for j in range(3):
        np.testing.assert_allclose(design.column_dot(j, v), dense[:, j] @ v, rtol=1e-12)
        np.testing.assert_allclose(design.column_weighted_dot(j, s, v), dense[:, j] @ (s * v),
                                   rtol=1e-12)
        np.testing.assert_allclose(design.column_axpy(j, -0.3, v), v - 0.3 * dense[:, j],
                                   rtol=1e-12)
        updated, dot = design.column_update(j, v, lambda d: (d, d), weights=s)
        np.testing.assert_allclose(updated, v + (dense[:, j] @ (s * v)) * dense[:, j],
                                   rtol=1e-12)


def test_from_bcoo_under_jit_equals_scipy(rng):
    X, _ = _problem(rng, 23, 17, density=0.3)
    bcoo = jsparse.BCOO.from_scipy_sparse(X.tocoo())
    design = jax.jit(jsp.from_bcoo)(bcoo)
    reference = jsp.from_scipy(X)
    np.testing.assert_array_equal(design.indptr, reference.indptr)
    np.testing.assert_allclose(design.todense(), X.toarray(), atol=0)
    v = rng.standard_normal(23)
    np.testing.assert_allclose(design.rmatvec(v), X.T @ v, rtol=1e-13)


# --------------------------------------------------------------------------
# One fit: scikit-learn's sparse Lasso / ElasticNet, jaxreg's dense solve
# --------------------------------------------------------------------------

CASES = {  # (penalty, fit_intercept, weighted, shape)
    "lasso-intercept-weights-wide": ("lasso", True, True, "wide"),
    "lasso-wide": ("lasso", False, False, "wide"),
    "enet-intercept-wide": pytest.param(("enet", True, False, "wide"), marks=pytest.mark.slow),
    "enet-weights-wide": ("enet", False, True, "wide"),
    "lasso-intercept-weights-tall": ("lasso", True, True, "tall"),
}


def _alpha(X, y, fit_intercept, fraction=0.2):
    yc = y - (y.mean() if fit_intercept else 0.0)
    return fraction * np.max(np.abs(X.T @ yc)) / X.shape[0]


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_solve_matches_sklearn_sparse(case, rng):
    kind, fit_intercept, weighted, shape = case
    X, y = _problem(rng, *SHAPES[shape])
    sample_weight = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    alpha = _alpha(X, y, fit_intercept)
    if kind == "lasso":
        penalty, reference = L1(alpha), Lasso(alpha=alpha)
    else:
        penalty, reference = ElasticNetPenalty(alpha, 0.7), ElasticNet(alpha=alpha, l1_ratio=0.7)
    reference.set_params(fit_intercept=fit_intercept, tol=1e-15, max_iter=200000)
    reference.fit(X, y, sample_weight=sample_weight)
    sol = jaxreg.solve(X, y, SquaredLoss(), penalty, fit_intercept=fit_intercept,
                       sample_weight=sample_weight, tol=1e-13)
    assert bool(sol.converged) and float(sol.dual_gap) >= -1e-14
    assert _rel(sol.coef, reference.coef_) <= 1e-6
    np.testing.assert_allclose(float(sol.intercept), reference.intercept_,
                               atol=1e-6 * np.max(np.abs(reference.coef_)))


def test_bcoo_and_design_inputs_equal_scipy_input(rng):
    X, y = _problem(rng, *SHAPES["wide"])       # the X of test_solve_matches_sklearn_sparse
    alpha = _alpha(X, y, False)
    ref = jaxreg.solve(X, y, SquaredLoss(), L1(alpha), fit_intercept=False, tol=1e-13)
    for given in (jsparse.BCOO.from_scipy_sparse(X.tocoo()), jsp.from_scipy(X)):
        sol = jaxreg.solve(given, y, SquaredLoss(), L1(alpha), fit_intercept=False, tol=1e-13)
        np.testing.assert_allclose(sol.coef, ref.coef, atol=1e-10 * np.max(np.abs(ref.coef)))


def test_vmap_over_alpha_equals_loop_and_no_retrace(rng):
    X, y = _problem(rng, *SHAPES["wide"])
    top = _alpha(X, y, True, 1.0)
    alphas = jnp.asarray([0.5, 0.2]) * top
    traces = []

    @jax.jit
    def fit(design, y, alphas):
        traces.append(1)
        return jax.vmap(lambda a: sparse_coordinate_descent(
            design, y, SquaredLoss(), L1(a), tol=1e-13, max_iter=20000))(alphas)

    batched = fit(jsp.from_scipy(X, block=4), y, alphas)     # columns of several blocks
    for k, alpha in enumerate(alphas):
        ref = Lasso(alpha=float(alpha), tol=1e-15, max_iter=200000).fit(X, y)
        assert _rel(batched.coef[k], ref.coef_) <= 1e-6
    again = fit(jsp.from_scipy(2.0 * X, block=4), y, alphas)    # same shapes: no retrace
    ref = Lasso(alpha=float(alphas[1]), tol=1e-15, max_iter=200000).fit(2.0 * X, y)
    assert _rel(again.coef[1], ref.coef_) <= 1e-6
    assert len(traces) == 1


# --------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------


@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_sklearn_path_functions_match_on_sparse(l1_ratio, rng):
    X, y = _problem(rng, *SHAPES["wide"])
    alphas, coefs, gaps = jaxreg.enet_path(X, y, l1_ratio=l1_ratio, alphas=None, n_alphas=8,
                                           eps=5e-2, tol=1e-13, max_iter=50000)
    ref_alphas, ref_coefs, _ = (sk_lasso_path(X, y, alphas=alphas, tol=1e-14, max_iter=200000)
                                if l1_ratio == 1.0 else
                                sk_enet_path(X, y, l1_ratio=l1_ratio, alphas=alphas, tol=1e-14,
                                             max_iter=200000))
    # alpha_max: scikit-learn's max |X^T y| / (n l1_ratio) (no intercept).
    np.testing.assert_allclose(alphas[0], np.max(np.abs(X.T @ y)) / (len(y) * l1_ratio),
                               rtol=1e-13)
    assert coefs.shape == (X.shape[1], 8)
    assert np.max(np.abs(coefs - ref_coefs)) <= 1e-6 * np.max(np.abs(ref_coefs))
    assert (gaps <= 2e-13 * (y @ y) / len(y)).all()


def test_path_with_intercept_and_weights_matches_dense_path(rng):
    X, y = _problem(rng, *SHAPES["tall"])
    sample_weight = rng.uniform(0.2, 3.0, X.shape[0])
    kwargs = dict(n_alphas=10, eps=1e-3, sample_weight=sample_weight, tol=1e-13)
    result = jaxreg.path(X, y, SquaredLoss(), L1(1.0), **kwargs)
    dense = jaxreg.path(X.toarray(), y, SquaredLoss(), L1(1.0), **kwargs)
    np.testing.assert_allclose(result.alphas, dense.alphas, rtol=1e-13)
    scale = np.max(np.abs(dense.coefs))
    assert np.max(np.abs(result.coefs - dense.coefs)) <= 1e-6 * scale
    assert np.max(np.abs(result.intercepts - dense.intercepts)) <= 1e-6 * scale
    assert bool(result.converged.all())
    # One point against scikit-learn's weighted sparse fit.
    ref = Lasso(alpha=float(result.alphas[6]), tol=1e-15, max_iter=200000).fit(
        X, y, sample_weight=sample_weight)
    assert _rel(result.coefs[6], ref.coef_) <= 1e-6


@pytest.mark.parametrize("loss, solver", [(SquaredLoss(), "cd"), (LogisticLoss(), "fista")],
                         ids=["squared-cd", "logistic-fista"])
def test_sparse_path_forms_no_dense_array(loss, solver, rng):
    """No intermediate of the sparse path has n x p / 4 entries (a dense X has n x p;
    the stored values with their padding are ~3000 + 1024 here)."""
    n, p = 200, 300
    X, y = _problem(rng, n, p, density=0.05)
    if solver == "fista":
        y = np.where(y > np.median(y), 1.0, -1.0)
    design = jsp.from_scipy(X)
    alphas = jnp.geomspace(0.5, 0.01, 5)
    options = (("anderson", 5), ("check_every", 5)) if solver == "cd" else ()
    jaxpr = jax.make_jaxpr(lambda d, y: sparse_path_core(
        d, y, loss, L1(1.0), alphas, solver=solver, options=options))(design, jnp.asarray(y))
    sizes = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            for var in eqn.outvars:
                sizes.append(int(np.prod(getattr(var.aval, "shape", ()))))
            for param in eqn.params.values():
                for sub in (param if isinstance(param, (tuple, list)) else (param,)):
                    if isinstance(sub, jax.extend.core.ClosedJaxpr):
                        walk(sub.jaxpr)
                    elif isinstance(sub, jax.extend.core.Jaxpr):
                        walk(sub)

    walk(jaxpr.jaxpr)
    assert len(sizes) > 100                   # the solver's loops were walked into
    assert max(sizes) < n * p / 4, max(sizes)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


def test_bad_sparse_input_gets_clear_errors(rng):
    X, y = _problem(rng, 20, 8, density=0.5)
    bad = X.tocsc(copy=True)
    bad.data[3] = np.nan
    row, column = bad.indices[3], np.searchsorted(bad.indptr, 3, side="right") - 1
    with pytest.raises(ValueError, match=f"1 non-finite stored values \\(first at row {row}, "
                                         f"column {column}\\)"):
        jaxreg.solve(bad, y, SquaredLoss(), L1(0.1))
    bad.data[3] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        jaxreg.path(bad, y, SquaredLoss(), L1(1.0))
    with pytest.raises(ValueError, match="X has 20 rows but y has 19"):
        jaxreg.solve(X, y[:-1], SquaredLoss(), L1(0.1))
    with pytest.raises(ValueError, match="X has 20 rows but sample_weight has 3"):
        jaxreg.path(X, y, SquaredLoss(), L1(1.0), sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="real numeric values"):
        jaxreg.solve(X.astype(complex), y, SquaredLoss(), L1(0.1))
    with pytest.raises(NotImplementedError, match="AbsoluteLoss"):
        jaxreg.solve(X, y, AbsoluteLoss(), L1(0.1))
    with pytest.raises(NotImplementedError, match="solver='primal_dual'"):
        jaxreg.solve(X, y, SquaredLoss(), L1(0.1), solver="primal_dual")
    with pytest.raises(NotImplementedError, match="solver='cd' on sparse X"):
        jaxreg.solve(X, np.sign(y - y.mean()), LogisticLoss(), L1(0.1), solver="cd")
    with pytest.raises(NotImplementedError, match="zero weights"):
        jaxreg.path(X, y, SquaredLoss(), WeightedL1(np.r_[0.0, np.ones(7)]), alphas=[1.0])
    with pytest.raises(ValueError, match="WeightedL1 needs one weight per feature"):
        jaxreg.solve(X, y, SquaredLoss(), WeightedL1(np.ones(3)))
    with pytest.raises(NotImplementedError, match="Unpenalized"):
        jaxreg.solve(X, y, SquaredLoss(), None)
    with pytest.raises(ValueError, match="empty"):
        jaxreg.solve(sp.csr_matrix((0, 3)), np.zeros(0), SquaredLoss(), L1(0.1))


# --------------------------------------------------------------------------
# Estimators (scikit-learn's own sparse checks run in test_estimators.py)
# --------------------------------------------------------------------------


def test_estimators_on_sparse_match_sklearn_sparse_fits(rng):
    from sklearn import linear_model as sk

    from jaxreg.estimators import ElasticNet as JElasticNet
    from jaxreg.estimators import Lasso as JLasso

    X, y = _problem(rng, 50, 30, density=0.3)
    sample_weight = rng.uniform(0.2, 3.0, 50)
    for ours, theirs, params in [(JLasso, sk.Lasso, {}),
                                 (JElasticNet, sk.ElasticNet, {"l1_ratio": 0.5})]:
        for fit_intercept in (True, False):
            kwargs = dict(alpha=0.02, fit_intercept=fit_intercept, max_iter=100000, **params)
            model = ours(tol=1e-14, **kwargs).fit(X.tocoo(), y, sample_weight=sample_weight)
            ref = theirs(tol=1e-15, **kwargs).fit(X, y, sample_weight=sample_weight)
            assert _rel(model.coef_, ref.coef_) <= 1e-6
            scale = np.max(np.abs(ref.coef_))
            assert abs(model.intercept_ - ref.intercept_) <= 1e-6 * scale
            np.testing.assert_allclose(model.predict(X), ref.predict(X), atol=1e-5 * scale)


# --------------------------------------------------------------------------
# Cross-validation
# --------------------------------------------------------------------------


def test_cv_on_sparse_matches_sklearn_lassocv(rng):
    from sklearn.linear_model import LassoCV

    X, y = _problem(rng, 80, 40, density=0.3)
    result = jaxreg.cv(X, y, SquaredLoss(), L1(1.0), n_alphas=10, tol=1e-12)
    ref = LassoCV(alphas=np.asarray(result.alphas), cv=5, tol=1e-14, max_iter=100000).fit(X, y)
    # The fold paths are exact to ~1e-9, so the scores agree to round-off of the gap.
    np.testing.assert_allclose(result.scores, ref.mse_path_.T, rtol=1e-8)
    assert result.alpha_min == pytest.approx(ref.alpha_, rel=1e-12)
    assert _rel(result.solution.coef, ref.coef_) <= 1e-6
    assert abs(float(result.solution.intercept) - ref.intercept_) <= 1e-6 * np.max(
        np.abs(ref.coef_))


# --------------------------------------------------------------------------
# Other smooth losses: FISTA with sparse products
# --------------------------------------------------------------------------


def test_l1_logistic_on_sparse_matches_sklearn(rng):
    from sklearn.linear_model import LogisticRegression

    X, z = _problem(rng, 60, 30, density=0.3)
    y = np.where(z - np.median(z) + 0.5 * rng.standard_normal(60) > 0, 1.0, -1.0)
    sample_weight = rng.uniform(0.2, 3.0, 60)
    alpha = 0.02
    sol = jaxreg.solve(X, y, LogisticLoss(), L1(alpha), sample_weight=sample_weight, tol=1e-12)
    assert bool(sol.converged)
    # scikit-learn: C sum_i s_i log-loss_i + ||w||_1 = C sum(s) x (our objective, weights
    # normalised), so C = 1 / (alpha sum(s)); saga leaves the intercept unpenalized.
    ref = LogisticRegression(l1_ratio=1.0, C=1.0 / (alpha * sample_weight.sum()), solver="saga",
                             tol=1e-12, max_iter=200000).fit(X, y, sample_weight=sample_weight)
    assert _rel(sol.coef, ref.coef_[0]) <= 1e-6
    assert abs(float(sol.intercept) - ref.intercept_[0]) <= 1e-6 * np.max(np.abs(ref.coef_))


@pytest.mark.slow
def test_huber_and_logistic_on_sparse_match_dense(rng):
    X, z = _problem(rng, 60, 30, density=0.3)
    y = np.where(z - np.median(z) + 0.5 * rng.standard_normal(60) > 0, 1.0, -1.0)
    sample_weight = rng.uniform(0.2, 3.0, 60)
    for loss, target in [(LogisticLoss(), y), (HuberLoss(1.0), z)]:
        for fit_intercept in (True, False):
            kwargs = dict(sample_weight=sample_weight, tol=1e-12, fit_intercept=fit_intercept)
            sparse = jaxreg.solve(X, target, loss, L1(0.02), **kwargs)
            dense = jaxreg.solve(X.toarray(), target, loss, L1(0.02), **kwargs)
            assert _rel(sparse.coef, dense.coef) <= 1e-6
            assert abs(float(sparse.intercept - dense.intercept)) <= 1e-6 * np.max(
                np.abs(dense.coef))


@pytest.mark.slow
def test_logistic_path_on_sparse_matches_dense_path(rng):
    X, z = _problem(rng, 60, 30, density=0.3)
    y = np.where(z - np.median(z) + 0.5 * rng.standard_normal(60) > 0, 1.0, -1.0)
    result = jaxreg.path(X, y, LogisticLoss(), L1(1.0), n_alphas=5, eps=0.05, tol=1e-10)
    dense = jaxreg.path(X.toarray(), y, LogisticLoss(), L1(1.0), n_alphas=5, eps=0.05,
                        tol=1e-10)
    np.testing.assert_allclose(result.alphas, dense.alphas, rtol=1e-13)
    assert np.max(np.abs(result.coefs - dense.coefs)) <= 1e-6 * np.max(np.abs(dense.coefs))
    assert bool(result.converged.all())


@pytest.mark.slow
def test_multinomial_elastic_net_on_sparse_matches_dense(rng):
    from jaxreg.losses import MultinomialLoss

    X, z = _problem(rng, 60, 20, density=0.3)
    y = np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))           # 3 classes
    penalty = ElasticNetPenalty(0.02, 0.5)
    sparse = jaxreg.solve(X, y, MultinomialLoss(n_classes=3), penalty, tol=1e-12)
    dense = jaxreg.solve(X.toarray(), y, MultinomialLoss(n_classes=3), penalty, tol=1e-12)
    assert bool(sparse.converged)
    assert sparse.coef.shape == (20, 3)
    assert _rel(sparse.coef, dense.coef) <= 1e-6
