"""Properties of every loss and penalty (hypothesis, float64, seeded).

Prox optimality against random perturbations, Moreau's identity written with
the conjugate (Fenchel–Young with equality at the prox point), Fenchel–Young
inequality on sampled dual points, values against NumPy formulas, gradients
against autodiff, conjugates against a numerical supremum, and pytree
structure (leaves vs static fields).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jaxreg import losses, penalties

P = 6
finite = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False)
vectors = arrays(np.float64, P, elements=finite)
steps = st.floats(0.05, 3.0)
examples = settings(max_examples=200)

PENALTIES = {
    "l1": penalties.L1(0.7),
    "l1+": penalties.L1(0.7, positive=True),
    "l2": penalties.L2(0.9),
    "l2+": penalties.L2(0.9, positive=True),
    "enet": penalties.ElasticNetPenalty(0.8, 0.3),
    "enet+": penalties.ElasticNetPenalty(0.8, 0.3, positive=True),
    "lasso-as-enet": penalties.ElasticNetPenalty(0.8, 1.0),
    "weighted": penalties.WeightedL1(np.array([0.0, 0.5, 1.0, 1.5, 0.2, 2.0])),
    "weighted+": penalties.WeightedL1(np.array([0.3, 0.5, 1.0, 1.5, 0.2, 2.0]), positive=True),
    "group": penalties.GroupLassoPenalty(0.6, (0, 0, 1, 1, 1, 2)),
    "none": penalties.NoPenalty(),
}

NUMPY_VALUES = {
    "l1": lambda w: 0.7 * np.abs(w).sum(),
    "l2": lambda w: 0.45 * (w**2).sum(),
    "enet": lambda w: 0.8 * 0.3 * np.abs(w).sum() + 0.4 * 0.7 * (w**2).sum(),
    "weighted": lambda w: np.sum(np.array([0.0, 0.5, 1.0, 1.5, 0.2, 2.0]) * np.abs(w)),
    "group": lambda w: 0.6 * (np.sqrt(2) * np.linalg.norm(w[:2]) + np.sqrt(3)
                              * np.linalg.norm(w[2:5]) + abs(w[5])),
    "none": lambda w: 0.0,
}


def _feasible(name, w):
    return np.all(w >= 0) if name.endswith("+") else True


@pytest.mark.parametrize("name", list(NUMPY_VALUES))
@examples
@given(w=vectors)
def test_penalty_value_matches_numpy(name, w):
    np.testing.assert_allclose(PENALTIES[name].value(w), NUMPY_VALUES[name](w), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("name", list(PENALTIES))
@examples
@given(v=vectors, step=steps, seed=st.integers(0, 2**32 - 1))
def test_penalty_prox_beats_perturbations(name, v, step, seed):
    penalty = PENALTIES[name]
    p = np.asarray(penalty.prox(v, step))
    assert _feasible(name, p)

    def prox_objective(w):
        return float(np.sum((w - v) ** 2) / (2 * step) + penalty.value(w))

    best = prox_objective(p)
    rng = np.random.default_rng(seed)
    for scale in (1e-1, 1e-3):
        for _ in range(5):
            q = p + scale * rng.standard_normal(P)
            if name.endswith("+"):
                q = np.maximum(q, 0.0)
            assert prox_objective(q) >= best - 1e-12


@pytest.mark.parametrize("name", list(PENALTIES))
@examples
@given(v=vectors, step=steps)
def test_penalty_moreau_identity(name, v, step):
    """p = prox(v): (v - p)/step in dP(p), so P(p) + P*((v - p)/step) = p.(v - p)/step."""
    penalty = PENALTIES[name]
    p = penalty.prox(v, step)
    # (v - p) carries round-off of order eps * |v|; step back from the boundary
    # of the conjugate's domain by more than that.
    dual = (v - p) / step * (1.0 - 1e-12)
    lhs = penalty.value(p) + penalty.conjugate(dual)
    assert np.isfinite(float(lhs))
    np.testing.assert_allclose(lhs, jnp.vdot(p, dual), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(penalty.subdiff_distance(p, -dual), 0.0, atol=1e-9)


@pytest.mark.parametrize("name", list(PENALTIES))
@examples
@given(w=vectors, v=vectors)
def test_penalty_fenchel_young(name, w, v):
    penalty = PENALTIES[name]
    if name.endswith("+"):
        w = np.abs(w)
    t = penalty.dual_scale(v)
    assert 0.0 <= float(t) <= 1.0
    mask = penalty.unpenalized()
    if mask is not None:
        v = np.where(np.broadcast_to(mask, v.shape), 0.0, v)
    u = t * v
    conj = float(penalty.conjugate(u))
    assert np.isfinite(conj), "dual_scale must land in the conjugate's domain"
    assert float(penalty.value(w)) + conj >= float(np.dot(w, u)) - 1e-10


@pytest.mark.parametrize("name", ["l1", "l1+", "weighted", "group", "lasso-as-enet"])
def test_penalty_conjugate_is_infinite_outside_its_domain(name):
    v = np.full(P, 10.0)
    assert float(PENALTIES[name].conjugate(v)) == np.inf
    assert float(PENALTIES[name].dual_scale(v)) < 1.0


@pytest.mark.parametrize("name", ["l2", "enet", "l2+", "enet+"])
@examples
@given(v=st.floats(-5.0, 5.0))
def test_penalty_conjugate_matches_numerical_sup(name, v):
    """1-D conjugate against a maximum over a grid of spacing 1e-3."""
    penalty = PENALTIES[name]
    grid = np.linspace(-30, 30, 60001)
    values = np.asarray(jax.vmap(lambda w: penalty.value(w[None]))(grid))
    if name.endswith("+"):
        values = np.where(grid >= 0, values, np.inf)
    sup = np.max(v * grid - values)
    np.testing.assert_allclose(float(penalty.conjugate(np.array([v]))), sup, atol=1e-6)


def test_penalty_weights_zero_mark_unpenalized():
    mask = PENALTIES["weighted"].unpenalized()
    np.testing.assert_array_equal(mask, [True] + [False] * (P - 1))
    assert PENALTIES["l1"].unpenalized() is None


@pytest.mark.parametrize("make", [
    lambda a: penalties.L1(a), lambda a: penalties.L2(a),
    lambda a: penalties.ElasticNetPenalty(a, 0.4), lambda a: penalties.GroupLassoPenalty(a, (0, 0, 1, 1, 2, 2)),
], ids=["l1", "l2", "enet", "group"])
def test_penalty_hyperparameters_are_leaves(make):
    v = np.linspace(-2, 2, P)
    alphas = np.array([0.1, 0.5, 1.3])
    batched = jax.vmap(lambda a: make(a).prox(v, 0.7))(alphas)
    for k, a in enumerate(alphas):
        np.testing.assert_allclose(batched[k], make(a).prox(v, 0.7), rtol=1e-14)
    grad = jax.grad(lambda a: jnp.sum(make(a).prox(v, 0.7) ** 2))(0.5)
    h = 1e-6
    fd = (np.sum(np.asarray(make(0.5 + h).prox(v, 0.7)) ** 2)
          - np.sum(np.asarray(make(0.5 - h).prox(v, 0.7)) ** 2)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_static_fields_are_not_leaves():
    assert len(jax.tree_util.tree_leaves(penalties.L1(0.3, positive=True))) == 1
    assert len(jax.tree_util.tree_leaves(penalties.GroupLassoPenalty(0.3, (0, 1)))) == 1
    assert len(jax.tree_util.tree_leaves(losses.MultinomialLoss(n_classes=3))) == 0
    assert len(jax.tree_util.tree_leaves(losses.QuantileLoss(0.2))) == 1


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

N = 5
LOSSES = {
    "squared": losses.SquaredLoss(),
    "huber": losses.HuberLoss(1.3),
    "logistic": losses.LogisticLoss(),
    "absolute": losses.AbsoluteLoss(),
    "quantile": losses.QuantileLoss(0.3),
}
SMOOTH = ["squared", "huber", "logistic"]
NONSMOOTH = ["absolute", "quantile"]


def _target(name, y):
    return np.where(y > 0, 1.0, -1.0) if name == "logistic" else y


def _numpy_loss(name, y, z):
    r = y - z
    return {
        "squared": 0.5 * r**2,
        "huber": np.where(np.abs(r) <= 1.3, 0.5 * r**2, 1.3 * (np.abs(r) - 0.65)),
        "logistic": np.log1p(np.exp(-y * z)),
        "absolute": np.abs(r),
        "quantile": np.maximum(0.3 * r, -0.7 * r),
    }[name]


samples = arrays(np.float64, N, elements=finite)


@pytest.mark.parametrize("name", list(LOSSES))
@examples
@given(y=samples, z=samples)
def test_loss_value_matches_numpy(name, y, z):
    y = _target(name, y)
    np.testing.assert_allclose(LOSSES[name].value(y, z), _numpy_loss(name, y, z), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("name", SMOOTH)
@examples
@given(y=samples, z=samples)
def test_loss_grad_and_fenchel_young_equality(name, y, z):
    loss = LOSSES[name]
    y = _target(name, y)
    auto = jax.grad(lambda z: jnp.sum(loss.value(y, z)))(z)
    u = loss.grad(y, z)
    np.testing.assert_allclose(u, auto, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss.value(y, z) + loss.conjugate(y, u), u * z, rtol=1e-8,
                               atol=1e-8)
    # Lipschitz constant bounds the second derivative.
    second = jax.vmap(jax.grad(lambda zi, yi: loss.grad(yi, zi)))(z, y)
    assert np.all(np.asarray(second) <= loss.lipschitz + 1e-12)


@pytest.mark.parametrize("name", NONSMOOTH)
@examples
@given(y=samples, z=samples, step=steps, seed=st.integers(0, 2**32 - 1))
def test_loss_prox_optimal_and_moreau(name, y, z, step, seed):
    loss = LOSSES[name]
    p = np.asarray(loss.prox(y, z, step))

    def objective(v):
        return np.asarray(loss.value(y, v)) + (v - z) ** 2 / (2 * step)

    rng = np.random.default_rng(seed)
    for scale in (1e-1, 1e-4):
        q = p + scale * rng.standard_normal(N)
        assert np.all(objective(q) >= objective(p) - 1e-12)
    dual = (z - p) / step * (1.0 - 1e-12)
    lhs = loss.value(y, p) + loss.conjugate(y, dual)
    np.testing.assert_allclose(lhs, p * dual, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", list(LOSSES))
@examples
@given(y=samples, z=samples, u=samples)
def test_loss_fenchel_young_inequality(name, y, z, u):
    loss = LOSSES[name]
    y = _target(name, y)
    t = loss.dual_scale(y, u)
    assert 0.0 <= float(t) <= 1.0
    u = t * u
    conj = np.asarray(loss.conjugate(y, u))
    assert np.all(np.isfinite(conj))
    assert np.all(np.asarray(loss.value(y, z)) + conj >= u * z - 1e-10)


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("u0", [-0.8, -0.2, 0.1, 0.6])
def test_loss_conjugate_matches_numerical_sup(name, u0):
    loss = LOSSES[name]
    y = np.array([1.0 if name == "logistic" else 0.4])
    if name == "logistic":
        u0 = -abs(u0)  # the domain for y = +1 is [-1, 0]
    if name == "quantile":
        u0 = min(max(u0, -0.25), 0.65)  # the domain is [-0.3, 0.7]
    grid = np.linspace(-60, 60, 1200001)
    sup = np.max(u0 * grid - np.asarray(loss.value(np.full_like(grid, y[0]), grid)))
    np.testing.assert_allclose(loss.conjugate(y, np.array([u0]))[0], sup, atol=1e-6)


def test_loss_conjugate_infinite_outside_domain():
    y = np.array([0.5])
    assert float(losses.AbsoluteLoss().conjugate(y, np.array([1.5]))[0]) == np.inf
    assert float(losses.QuantileLoss(0.3).conjugate(y, np.array([0.75]))[0]) == np.inf
    assert float(losses.HuberLoss(1.0).conjugate(y, np.array([-1.1]))[0]) == np.inf
    assert float(losses.LogisticLoss().conjugate(np.array([1.0]), np.array([0.2]))[0]) == np.inf


def test_multinomial_value_grad_conjugate():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 3))
    y = np.array([0, 1, 2, 2, 1, 0, 1])
    loss = losses.MultinomialLoss(n_classes=3)
    lse = np.log(np.exp(z).sum(axis=1))
    np.testing.assert_allclose(loss.value(y, z), lse - z[np.arange(7), y], rtol=1e-12)
    u = loss.grad(y, z)
    auto = jax.grad(lambda z: jnp.sum(loss.value(y, z)))(z)
    np.testing.assert_allclose(u, auto, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(loss.value(y, z) + loss.conjugate(y, u), np.sum(u * z, axis=1),
                               rtol=1e-9)
    # Off the simplex: infinite.
    assert np.all(np.asarray(loss.conjugate(y, u + 0.1)) == np.inf)
    t = loss.dual_scale(y, 3.0 * u)
    assert 0 < float(t) < 1 and np.all(np.isfinite(np.asarray(loss.conjugate(y, t * 3.0 * u))))


@pytest.mark.parametrize("make", [lambda d: losses.HuberLoss(d), lambda q: losses.QuantileLoss(q)],
                         ids=["huber-delta", "quantile-tau"])
def test_loss_hyperparameters_are_leaves(make):
    y, z = np.linspace(-2, 2, N), np.linspace(1, -1, N)
    params = np.array([0.2, 0.5, 0.9])
    batched = jax.vmap(lambda a: make(a).value(y, z))(params)
    for k, a in enumerate(params):
        np.testing.assert_allclose(batched[k], make(a).value(y, z), rtol=1e-14)
    assert np.isfinite(float(jax.grad(lambda a: jnp.sum(make(a).value(y, z)))(0.5)))
