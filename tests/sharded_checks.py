"""Checks of :mod:`jaxreg.sharding` on 4 simulated CPU devices.

Not collected by the suite (the name does not start with ``test_``):
``tests/test_sharding.py`` runs this file in its own pytest process with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (set before JAX starts),
so that the rest of the suite keeps one device.
"""

import re

import jax
import numpy as np
import pytest

import jaxreg
from jaxreg import crossval, paths

TOL = 1e-12
D = 4


@pytest.fixture(scope="module", autouse=True)
def four_devices():
    if jax.device_count() != D:
        pytest.fail(f"run with XLA_FLAGS=--xla_force_host_platform_device_count={D} "
                    f"(found {jax.device_count()} devices)")


@pytest.fixture(scope="module")
def mesh():
    return jax.make_mesh((D,), ("devices",))


def _problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:5] = [3.0, -2.0, 1.5, 1.0, -0.5]
    return X, X @ w + 0.5 * rng.standard_normal(n) + 1.0, rng.uniform(0.5, 2.0, n)


def _lasso_objective(X, y, w, b, alpha, s):
    r"""NumPy: :math:`\sum_i s_i (y_i - x_i^\top w - b)^2 / (2 \sum_i s_i) + \alpha \|w\|_1`."""
    r = y - X @ w - b
    return 0.5 * np.sum(s * r * r) / np.sum(s) + alpha * np.abs(w).sum()


def _assert_same_path(sharded, single, X, y, s):
    coefs, ref = np.asarray(sharded.coefs), np.asarray(single.coefs)
    assert coefs.shape == ref.shape
    np.testing.assert_allclose(coefs, ref, rtol=0, atol=1e-6 * np.abs(ref).max())
    for k, alpha in enumerate(np.asarray(single.alphas)):
        got = _lasso_objective(X, y, coefs[k], np.asarray(sharded.intercepts)[k], alpha, s)
        want = _lasso_objective(X, y, ref[k], np.asarray(single.intercepts)[k], alpha, s)
        assert abs(got - want) <= 1e-10 * abs(want), (k, got, want)
    assert bool(np.asarray(sharded.converged).all())


def _spy(monkeypatch, module, name):
    """Record the compiled program (HLO text) and the arguments of ``module.name``."""
    seen = {}
    original = getattr(module, name)

    def spy(*args, **kwargs):
        seen["args"] = args
        seen["hlo"] = original.lower(*args, **kwargs).compile().as_text()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def _entry_parameters(hlo):
    """Shapes of the partitioned program's parameters, e.g. ['f64[101,30]', ...]."""
    entry = next(line for line in hlo.splitlines() if line.startswith("ENTRY"))
    return re.findall(r"param[\w.]*: ([a-z]+\d*\[[\d,]*\])", entry)


# (n, p): tall (Gram form, 403 rows: not a multiple of 4) and wide (residual form)
SHAPES = [(403, 30), (60, 120)]


@pytest.mark.parametrize("shape, weighted", [((403, 30), True), ((60, 120), False),
                                             ((403, 30), False)])
@pytest.mark.parametrize("shard", ["alphas", "rows"])
def test_sharded_path_equals_one_device(mesh, shape, shard, weighted):
    X, y, s = _problem(*shape)
    kwargs = dict(n_alphas=18, eps=0.05, tol=TOL, sample_weight=s if weighted else None,
                  fit_intercept=weighted)
    single = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), **kwargs)
    sharded = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), mesh=mesh, shard=shard,
                          **kwargs)
    _assert_same_path(sharded, single, X, y, s if weighted else np.ones(len(y)))
    assert sharded.coefs.sharding.is_fully_replicated


def test_alphas_program_holds_a_block_of_the_grid_per_device(mesh, monkeypatch):
    X, y, _ = _problem(403, 30)
    seen = _spy(monkeypatch, paths, "_sharded_path_jit")
    jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=18, tol=1e-8, mesh=mesh,
                shard="alphas")
    # 18 alphas padded to 20: 5 per device; the Gram statistics (30 x 30) whole.
    parameters = _entry_parameters(seen["hlo"])
    assert "f64[5]" in parameters and "f64[20]" not in parameters, parameters
    assert "f64[30,30]" in parameters, parameters


def test_rows_program_holds_a_block_of_rows_and_reduces_across_devices(mesh, monkeypatch):
    X, y, _ = _problem(403, 30)
    seen = _spy(monkeypatch, paths, "_sharded_path_jit")
    jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=18, tol=1e-8, mesh=mesh,
                shard="rows")
    X_placed = seen["args"][0]
    # 403 rows padded to 404: 101 per device, n p / D of X on each.
    assert X_placed.shape == (404, 30)
    assert [shard.data.shape for shard in X_placed.addressable_shards] == [(101, 30)] * D
    assert len({shard.device for shard in X_placed.addressable_shards}) == D
    parameters = _entry_parameters(seen["hlo"])
    assert "f64[101,30]" in parameters and "f64[404,30]" not in parameters, parameters
    assert "all-reduce" in seen["hlo"]        # X^T S X = sum over devices of X_d^T S_d X_d


def test_rows_residual_form_reduces_every_product(mesh, monkeypatch):
    X, y, _ = _problem(60, 120)
    seen = _spy(monkeypatch, paths, "_sharded_path_jit")
    jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=5, eps=0.1, tol=1e-8,
                mesh=mesh, shard="rows")
    assert "f64[15,120]" in _entry_parameters(seen["hlo"])
    assert "all-reduce" in seen["hlo"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("shard", ["folds", "alphas", "rows"])
def test_sharded_cv_equals_one_device(mesh, shape, shard):
    X, y, s = _problem(*shape, seed=1)
    kwargs = dict(n_alphas=10, eps=0.05, tol=TOL, sample_weight=s)
    single = jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), **kwargs)
    sharded = jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), mesh=mesh, shard=shard,
                        **kwargs)
    ref = np.asarray(single.fold_paths.coefs)
    np.testing.assert_allclose(np.asarray(sharded.fold_paths.coefs), ref, rtol=0,
                               atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(np.asarray(sharded.scores), np.asarray(single.scores), rtol=1e-9)
    assert sharded.alpha_min == single.alpha_min and sharded.alpha_1se == single.alpha_1se
    np.testing.assert_allclose(np.asarray(sharded.solution.coef),
                               np.asarray(single.solution.coef), rtol=0,
                               atol=1e-6 * np.abs(ref).max())


def test_folds_program_holds_a_block_of_folds_per_device(mesh, monkeypatch):
    X, y, _ = _problem(60, 120, seed=2)          # residual form: X and the folds go in
    seen = _spy(monkeypatch, crossval, "_sharded_cv_jit")
    jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=5, eps=0.1, tol=1e-8,
              folds=8, mesh=mesh, shard="folds")
    parameters = _entry_parameters(seen["hlo"])
    # 8 folds' training weights over 60 rows: 2 folds per device; X whole.
    assert "f64[2,60]" in parameters and "f64[8,60]" not in parameters, parameters
    assert "f64[60,120]" in parameters, parameters


def test_logistic_path_sharded_equals_one_device(mesh):
    X, y, _ = _problem(203, 12, seed=3)
    labels = np.where(y > np.median(y), 1.0, -1.0)
    kwargs = dict(n_alphas=8, eps=0.05, tol=1e-10)
    single = jaxreg.path(X, labels, jaxreg.LogisticLoss(), jaxreg.L1(1.0), **kwargs)
    for shard in ("alphas", "rows"):
        sharded = jaxreg.path(X, labels, jaxreg.LogisticLoss(), jaxreg.L1(1.0), mesh=mesh,
                              shard=shard, **kwargs)
        ref = np.asarray(single.coefs)
        np.testing.assert_allclose(np.asarray(sharded.coefs), ref, rtol=0,
                                   atol=1e-6 * np.abs(ref).max())


def test_ambient_mesh_two_axes_and_results_usable_under_it():
    mesh = jax.make_mesh((2, 2), ("a", "b"))      # explicit axes, JAX's default
    X, y, _ = _problem(403, 30)
    single = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=18, tol=TOL)
    with jax.set_mesh(mesh):
        sharded = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=18, tol=TOL)
        nonzeros = (sharded.coefs != 0).sum(axis=1)          # a JAX op under the mesh
    assert sharded.coefs.sharding.mesh.shape == {"a": 2, "b": 2}
    np.testing.assert_array_equal(np.asarray(nonzeros), (np.asarray(single.coefs) != 0).sum(1))
    np.testing.assert_allclose(np.asarray(sharded.coefs), np.asarray(single.coefs), rtol=0,
                               atol=1e-6 * np.abs(np.asarray(single.coefs)).max())


def test_auto_choice(mesh):
    from jaxreg.sharding import choose_shard
    assert choose_shard("auto", mesh, 1000, 50) == "alphas"
    assert choose_shard("auto", mesh, 1000, 50, cv=True) == "folds"
    assert choose_shard("auto", mesh, 200_000, 100) == "rows"
    assert choose_shard("auto", mesh, 200_000, 100, cv=True) == "rows"
    assert choose_shard("auto", mesh, 200_000, 50_000) == "alphas"


@pytest.mark.parametrize("shard", ["folds", "rows"])
def test_lasso_cv_estimator_on_the_mesh(mesh, shard):
    from jaxreg.estimators import LassoCV
    X, y, _ = _problem(203, 12, seed=4)
    single = LassoCV(alphas=12, tol=1e-10).fit(X, y)
    sharded = LassoCV(alphas=12, tol=1e-10, mesh=mesh, shard=shard).fit(X, y)
    assert sharded.alpha_ == single.alpha_
    np.testing.assert_allclose(sharded.mse_path_, single.mse_path_, rtol=1e-9)
    np.testing.assert_allclose(sharded.coef_, single.coef_, rtol=0,
                               atol=1e-6 * np.abs(single.coef_).max())


def test_lasso_path_passes_the_mesh_on(mesh):
    X, y, _ = _problem(403, 30)
    X, y = X - X.mean(0), y - y.mean()
    alphas, coefs, gaps = jaxreg.lasso_path(X, y, n_alphas=10, tol=1e-12)
    sharded = jaxreg.lasso_path(X, y, n_alphas=10, tol=1e-12, mesh=mesh, shard="rows")
    np.testing.assert_allclose(sharded[0], alphas, rtol=1e-14)
    np.testing.assert_allclose(sharded[1], coefs, rtol=0, atol=1e-6 * np.abs(coefs).max())
