r"""Properties of every loss (hypothesis, float64, seeded by the "ci" profile).

Each loss is compared with an independent NumPy formula written here (DESIGN.md):
values, gradients (autodiff and central differences), the Lipschitz bound on
the second derivative, the prox of the non-smooth losses (closed form, random
perturbations, scipy), Moreau's identity in its Fenchel–Young form, the
conjugate (closed form, numerical supremum, its domain and ``dual_bounds``),
``dual_scale``, and the pytree contract (``delta`` and ``quantile`` are
leaves, ``n_classes`` is static).

Library calls go through a few jitted functions of ``(loss, arrays)`` with
fixed shapes, so hypothesis examples never recompile.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxreg.losses import (AbsoluteLoss, HuberLoss, LogisticLoss, MultinomialLoss,
                           QuantileLoss, SquaredLoss)

jax.config.update("jax_enable_x64", True)

N = 6  # samples
K = 3  # outputs of the 2-D squared loss, classes of the multinomial loss

# ---------------------------------------------------------------------------
# Independent NumPy references
# ---------------------------------------------------------------------------


class Ref:
    """NumPy description of a loss: per-sample value, conjugate and its domain."""

    kind = "real"  # targets: real, sign (±1) or class
    two_d = False  # predictions (N, K)
    smooth = True
    lipschitz = None

    def bounds(self, y):
        """The box of the conjugate's domain, or None."""
        return None

    def value(self, y, z):
        raise NotImplementedError

    def conjugate(self, y, u):
        raise NotImplementedError

    def dual_sample(self, y, raw):
        """Map raw in [-1, 2] to a dual point: inside the domain iff 0 <= raw <= 1."""
        lo, hi = self.bounds(y)
        return lo + raw * (hi - lo)

    def outside(self, y, u):
        """Per sample: u outside the (closed) domain, exactly (no round-off slack)."""
        box = self.bounds(y)
        if box is None:
            return np.zeros(len(y), bool)
        return (u < box[0]) | (u > box[1])

    def inside(self, y, raw):
        """Per sample: True inside, False outside, None within 1e-9 of the boundary
        (where rounding decides)."""
        margin = 1e-9
        strictly_in = (raw > margin) & (raw < 1 - margin)
        strictly_out = (raw < -margin) | (raw > 1 + margin)
        return np.where(strictly_in, True, np.where(strictly_out, False, None))


class SquaredRef(Ref):
    lipschitz = 1.0

    def value(self, y, z):
        return 0.5 * (y - z) ** 2

    def conjugate(self, y, u):  # argmax z = y + u
        return u * y + 0.5 * u**2

    def dual_sample(self, y, raw):
        return 4.0 * raw - 2.0

    def inside(self, y, raw):
        return np.full(raw.shape[:1], True, dtype=object)


class Squared2DRef(SquaredRef):
    two_d = True

    def value(self, y, z):
        return np.sum(0.5 * (y - z) ** 2, axis=1)

    def conjugate(self, y, u):
        return np.sum(u * y + 0.5 * u**2, axis=1)


class AbsoluteRef(Ref):
    smooth = False

    def bounds(self, y):
        return -1.0, 1.0

    def value(self, y, z):
        return np.abs(y - z)

    def conjugate(self, y, u):
        return u * y

    def prox(self, y, z, step):
        r = z - y
        return y + np.sign(r) * np.maximum(np.abs(r) - step, 0.0)


class QuantileRef(Ref):
    smooth = False

    def __init__(self, tau):
        self.tau = tau

    def bounds(self, y):
        # l(y, z) has slopes -tau (z < y) and 1 - tau (z > y) in z.
        return -self.tau, 1.0 - self.tau

    def value(self, y, z):
        r = y - z
        return np.where(r >= 0, self.tau * r, (self.tau - 1.0) * r)

    def conjugate(self, y, u):
        return u * y

    def prox(self, y, z, step):
        # Move z towards y by step*(1 - tau) from above, step*tau from below.
        out = z.copy()
        above, below = z - y > step * (1 - self.tau), z - y < -step * self.tau
        out[above] = z[above] - step * (1 - self.tau)
        out[below] = z[below] + step * self.tau
        inside = ~above & ~below
        out[inside] = y[inside]
        return out


class HuberRef(Ref):
    lipschitz = 1.0

    def __init__(self, delta):
        self.delta = delta

    def bounds(self, y):
        return -self.delta, self.delta

    def value(self, y, z):
        r = np.abs(y - z)
        return np.where(r <= self.delta, 0.5 * r**2, self.delta * (r - 0.5 * self.delta))

    def conjugate(self, y, u):
        return u * y + 0.5 * u**2


class LogisticRef(Ref):
    kind = "sign"
    lipschitz = 0.25

    def bounds(self, y):
        # The slope of log(1 + exp(-y z)) is -y sigmoid(-y z): between 0 and -y.
        return np.minimum(-y, 0.0), np.maximum(-y, 0.0)

    def value(self, y, z):
        return np.logaddexp(0.0, -y * z)

    def conjugate(self, y, u):
        a = -y * u
        return scipy.special.xlogy(a, a) + scipy.special.xlogy(1 - a, 1 - a)


class MultinomialRef(Ref):
    kind = "class"
    two_d = True
    lipschitz = 0.5

    def value(self, y, z):
        return scipy.special.logsumexp(z, axis=1) - z[np.arange(len(y)), y]

    def conjugate(self, y, u):
        p = u + np.eye(K)[y]
        return np.sum(scipy.special.xlogy(p, p), axis=1)

    def dual_sample(self, y, raw):
        # p = raw moved onto the hyperplane sum(p) = 1 (in the simplex iff p >= 0),
        # u = p - e_y has rows summing to zero.
        p = raw - (np.sum(raw, axis=1, keepdims=True) - 1.0) / K
        return p - np.eye(K)[y]

    def outside(self, y, u):
        return np.any(u + np.eye(K)[y] < 0, axis=1) | (np.abs(np.sum(u, axis=1)) > 1e-12)

    def inside(self, y, raw):
        p = raw - (np.sum(raw, axis=1, keepdims=True) - 1.0) / K
        return np.where(np.all(p > 1e-9, axis=1), True,
                        np.where(np.any(p < -1e-9, axis=1), False, None))


CASES = {
    "squared": (SquaredLoss(), SquaredRef()),
    "squared-2d": (SquaredLoss(), Squared2DRef()),
    "absolute": (AbsoluteLoss(), AbsoluteRef()),
    "quantile-0.3": (QuantileLoss(0.3), QuantileRef(0.3)),
    "quantile-0.85": (QuantileLoss(quantile=0.85), QuantileRef(0.85)),
    "huber": (HuberLoss(1.3), HuberRef(1.3)),
    "huber-0.2": (HuberLoss(delta=0.2), HuberRef(0.2)),
    "logistic": (LogisticLoss(), LogisticRef()),
    "multinomial": (MultinomialLoss(n_classes=K), MultinomialRef()),
}
NAMES = list(CASES)
SMOOTH = [name for name in NAMES if CASES[name][1].smooth]
NONSMOOTH = [name for name in NAMES if not CASES[name][1].smooth]
BOX = [name for name in NAMES if name not in ("squared", "squared-2d", "multinomial")]

# ---------------------------------------------------------------------------
# Jitted library calls
# ---------------------------------------------------------------------------

_value = jax.jit(lambda loss, y, z: loss.value(y, z))
_grad = jax.jit(lambda loss, y, z: loss.grad(y, z))
_autodiff_grad = jax.jit(lambda loss, y, z: jax.grad(lambda z: jnp.sum(loss.value(y, z)))(z))
_prox = jax.jit(lambda loss, y, z, step: loss.prox(y, z, step))
_conjugate = jax.jit(lambda loss, y, u: loss.conjugate(y, u))
_dual_scale = jax.jit(lambda loss, y, u: loss.dual_scale(y, u))


def value(loss, y, z):
    return np.asarray(_value(loss, y, z))


def conjugate(loss, y, u):
    return np.asarray(_conjugate(loss, y, u))


def dual_scale(loss, y, u):
    return float(_dual_scale(loss, y, u))


@jax.jit
def _second_derivative(loss, y, z):
    """Diagonal of the Hessian of sum_i l(y_i, z_i) (1-D losses: the whole Hessian)."""
    return jax.jvp(lambda z: loss.grad(y, z), (z,), (jnp.ones_like(z),))[1]


@jax.jit
def _largest_hessian_eigenvalue(loss, y, z):
    """Per sample, the largest eigenvalue of d²l(y_i, z_i)/dz_i² (2-D predictions)."""
    def one(yi, zi):
        return loss.value(yi[None], zi[None])[0]

    hessians = jax.vmap(jax.hessian(one, argnums=1))(y, z)
    return jnp.linalg.eigvalsh(hessians)[:, -1]


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------


def _floats(lo, hi):
    # Magnitudes below 1e-100 become 0 (XLA on CPU flushes subnormals, NumPy does not).
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False).map(
        lambda x: 0.0 if abs(x) < 1e-100 else x)


def _array(elements, shape, dtype=float):
    return st.tuples(*[elements] * int(np.prod(shape))).map(
        lambda t: np.array(t, dtype=dtype).reshape(shape))


def targets(name):
    ref = CASES[name][1]
    if ref.kind == "sign":
        return _array(st.sampled_from([-1.0, 1.0]), (N,))
    if ref.kind == "class":
        return _array(st.integers(0, K - 1), (N,), dtype=np.int64)
    return _array(_floats(-4.0, 4.0), (N, K) if ref.two_d else (N,))


def predictions(name, lo=-10.0, hi=10.0):
    return _array(_floats(lo, hi), (N, K) if CASES[name][1].two_d else (N,))


steps = st.floats(0.05, 3.0)
seeds = st.integers(0, 2**32 - 1)

MANY = settings(max_examples=100)
SOME = settings(max_examples=30)


def per_sample_dot(u, z):
    return np.sum(u * z, axis=1) if u.ndim == 2 else u * z


# ---------------------------------------------------------------------------
# Values, gradients, Lipschitz constants
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(data=st.data())
def test_value_matches_numpy(name, data):
    loss, ref = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name, -40.0, 40.0))
    got = value(loss, y, z)
    assert got.shape == (N,)
    np.testing.assert_allclose(got, ref.value(y, z), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", SMOOTH)
@MANY
@given(data=st.data())
def test_grad_matches_autodiff_and_finite_differences(name, data):
    loss, ref = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name))
    grad = np.asarray(_grad(loss, y, z))
    assert grad.shape == z.shape
    np.testing.assert_allclose(grad, _autodiff_grad(loss, y, z), rtol=1e-12, atol=1e-14)
    # Central differences of the NumPy formula (per-sample losses: one column at a time).
    h = 1e-6
    columns = [np.eye(K)[k] for k in range(K)] if ref.two_d else [1.0]
    fd = np.stack([(ref.value(y, z + h * e) - ref.value(y, z - h * e)) / (2 * h)
                   for e in columns], axis=-1)
    # Across Huber's kink |r| = delta the central difference is off by up to h/2.
    np.testing.assert_allclose(grad, fd.reshape(grad.shape), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", SMOOTH)
@MANY
@given(data=st.data())
def test_lipschitz_bounds_the_second_derivative(name, data):
    loss, ref = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name))
    assert loss.lipschitz == ref.lipschitz
    if name == "multinomial":
        curvature = np.asarray(_largest_hessian_eigenvalue(loss, y, z))
    else:
        curvature = np.asarray(_second_derivative(loss, y, z))
        h = 1e-5
        fd = (np.asarray(_grad(loss, y, z + h)) - np.asarray(_grad(loss, y, z - h))) / (2 * h)
        # A kink of the gradient (Huber's |r| = delta) gives a one-sided slope in between.
        assert np.all(fd <= loss.lipschitz * (1 + 1e-6) + 1e-6)
    assert np.all(curvature >= -1e-12)
    assert np.all(curvature <= loss.lipschitz + 1e-12)


@pytest.mark.parametrize(("name", "y", "z"), [
    ("squared", [0.3], [2.0]),
    ("huber", [0.3], [0.5]),
    ("logistic", [1.0], [0.0]),
    ("multinomial", [0], [[0.0, 0.0, -60.0]]),
])
def test_lipschitz_is_attained(name, y, z):
    """The constant is the supremum of the curvature, not a loose bound: a solver's
    step 1/L is then as long as it can be."""
    loss, _ = CASES[name]
    y = np.array(y, dtype=np.int64 if name == "multinomial" else float)
    z = np.array(z)
    if name == "multinomial":
        curvature = float(_largest_hessian_eigenvalue(loss, y, z)[0])
    else:
        curvature = float(_second_derivative(loss, y, z)[0])
    np.testing.assert_allclose(curvature, loss.lipschitz, rtol=1e-12)


def test_losses_without_a_gradient_do_not_define_one():
    for name in NONSMOOTH:
        loss = CASES[name][0]
        assert not loss.smooth and not hasattr(loss, "grad") and hasattr(loss, "prox")
    for name in SMOOTH:
        loss = CASES[name][0]
        assert loss.smooth and hasattr(loss, "grad") and hasattr(loss, "lipschitz")


# ---------------------------------------------------------------------------
# Prox of the non-smooth losses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NONSMOOTH)
@MANY
@given(data=st.data(), step=steps, seed=seeds)
def test_prox_closed_form_and_perturbations(name, data, step, seed):
    r"""p = argmin_v l(y, v) + (v - z)²/(2 step), sample by sample: the closed form,
    and no perturbation does better."""
    loss, ref = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name))
    p = np.asarray(_prox(loss, y, z, step))
    np.testing.assert_allclose(p, ref.prox(y, z, step), rtol=1e-13, atol=1e-13)

    def objective(v):
        return ref.value(y, v) + (v - z) ** 2 / (2 * step)

    best = objective(p)
    rng = np.random.default_rng(seed)
    for scale in (1e-1, 1e-4, 1e-7):
        for _ in range(4):
            assert np.all(objective(p + scale * rng.standard_normal(N)) >= best - 1e-12)
    for q in (y, z, 0.5 * (p + z)):
        assert np.all(objective(q) >= best - 1e-12)


@pytest.mark.parametrize("name", NONSMOOTH)
@SOME
@given(data=st.data(), step=steps)
def test_prox_matches_scipy(name, data, step):
    loss, ref = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name))
    p = np.asarray(_prox(loss, y, z, step))
    for i in range(N):
        def objective(v, i=i):
            return float(ref.value(y[i:i + 1], np.array([v]))[0]) + (v - z[i]) ** 2 / (2 * step)

        res = scipy.optimize.minimize_scalar(
            objective, bounds=(min(y[i], z[i]) - 1, max(y[i], z[i]) + 1), method="bounded",
            options=dict(xatol=1e-11))
        best = min((res.x, y[i]), key=objective)  # the kink at y, which Brent approaches
        np.testing.assert_allclose(p[i], best, atol=1e-6)


@pytest.mark.parametrize("name", NONSMOOTH)
@MANY
@given(data=st.data(), step=steps)
def test_prox_moreau_identity_as_fenchel_young_equality(name, data, step):
    r"""With p = prox(y, z, step) and d = (z - p)/step (so z = p + step·d), d is a
    subgradient of l(y, ·) at p: l(y, p) + l*(y, d) = p·d. d lies on the boundary of
    the conjugate's box up to rounding; dual_scale brings it inside by 1 - O(eps)."""
    loss, _ = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name))
    p = np.asarray(_prox(loss, y, z, step))
    d = (z - p) / step
    t = dual_scale(loss, y, d)
    assert 1.0 - 1e-12 <= t <= 1.0
    lhs = value(loss, y, p) + conjugate(loss, y, t * d)
    assert np.all(np.isfinite(lhs))
    np.testing.assert_allclose(lhs, p * t * d, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------
# Conjugates
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMOOTH)
@MANY
@given(data=st.data())
def test_fenchel_young_equality_at_the_gradient(name, data):
    """u = dl/dz(y, z) attains the supremum: l(y, z) + l*(y, u) = u·z."""
    loss, _ = CASES[name]
    y, z = data.draw(targets(name)), data.draw(predictions(name))
    u = np.asarray(_grad(loss, y, z))
    lhs = value(loss, y, z) + conjugate(loss, y, u)
    assert np.all(np.isfinite(lhs))
    np.testing.assert_allclose(lhs, per_sample_dot(u, z), rtol=1e-9, atol=1e-9)


def dual_raw(name):
    return _array(_floats(-1.0, 2.0), (N, K) if CASES[name][1].two_d else (N,))


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(data=st.data())
def test_conjugate_matches_closed_form_and_domain(name, data):
    """Inside the domain the conjugate is the NumPy formula; outside it is +inf;
    dual_scale is 1 exactly when every sample is inside."""
    loss, ref = CASES[name]
    y, raw = data.draw(targets(name)), data.draw(dual_raw(name))
    u = ref.dual_sample(y, raw)
    got = conjugate(loss, y, u)
    inside = ref.inside(y, raw)
    for i in range(N):
        if inside[i] is True:
            np.testing.assert_allclose(got[i], ref.conjugate(y[i:i + 1], u[i:i + 1])[0],
                                       rtol=1e-12, atol=1e-12)
        elif inside[i] is False:
            assert got[i] == np.inf
    if all(inside[i] is True for i in range(N)):
        assert dual_scale(loss, y, u) == 1.0
    if any(inside[i] is False for i in range(N)):
        assert dual_scale(loss, y, u) < 1.0


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(data=st.data())
def test_fenchel_young_inequality_at_scaled_dual_points(name, data):
    r"""t = dual_scale(y, u) in [0, 1] puts t·u in the domain (every sample finite), t is
    maximal up to rounding, and l(y, z) + l*(y, t u) >= t u·z for every z."""
    loss, _ = CASES[name]
    y, z, raw = data.draw(targets(name)), data.draw(predictions(name)), data.draw(dual_raw(name))
    ref = CASES[name][1]
    u = 3.0 * ref.dual_sample(y, raw)  # reaches far outside the domain
    t = dual_scale(loss, y, u)
    assert 0.0 <= t <= 1.0
    conj = conjugate(loss, y, t * u)
    assert np.all(np.isfinite(conj)), "dual_scale must land in the domain of the conjugate"
    dot = per_sample_dot(t * u, z)
    assert np.all(value(loss, y, z) + conj >= dot - 1e-10 * (1 + np.abs(dot)))
    if t < 1.0:  # maximal: a little more leaves the exact domain
        larger = min(t * (1 + 1e-9) + 1e-12, 1.0)
        assert np.any(ref.outside(y, larger * u)), "t is not maximal"


def _sup_1d(f, center):
    """sup_z f(z) of a concave 1-D function whose maximiser (if any) is within 40 of
    center: +inf if f still grows far out (by more than rounding), else Brent."""
    if f(center + 1e4) > f(center + 1e3) + 1e-7 or f(center - 1e4) > f(center - 1e3) + 1e-7:
        return np.inf
    res = scipy.optimize.minimize_scalar(lambda z: -f(z), bounds=(center - 40, center + 40),
                                         method="bounded", options=dict(xatol=1e-12))
    return max(-res.fun, f(center))  # piecewise-linear losses peak at their kink z = y


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_conjugate_matches_numerical_sup(name, data):
    r"""l*(y, u) = sup_z u·z - l(y, z), maximised numerically with the NumPy value
    (per output for the 2-D squared loss; BFGS over R^K for the multinomial loss),
    at dual points inside and outside the domain."""
    loss, ref = CASES[name]
    y = data.draw(targets(name))
    if name == "multinomial":
        # p in the interior of the simplex: the supremum is attained at z = log p.
        raw = data.draw(_array(_floats(0.05, 1.0), (N, K)))
        u = raw / np.sum(raw, axis=1, keepdims=True) - np.eye(K)[y]
        got = conjugate(loss, y, u)
        for i in range(N):
            res = scipy.optimize.minimize(
                lambda zi: float(ref.value(y[i:i + 1], zi[None])[0] - u[i] @ zi),
                np.zeros(K), method="BFGS", options=dict(gtol=1e-10))
            np.testing.assert_allclose(got[i], -res.fun, atol=1e-8)
        return
    raw = data.draw(_array(_floats(-0.5, 1.5), (N, K) if ref.two_d else (N,)))
    if name == "logistic":
        # Off the ends a = 0, 1 of the box, where the supremum is only approached.
        raw = np.where((raw > 0) & (raw < 1), np.clip(raw, 1e-3, 1 - 1e-3), raw)
    u = ref.dual_sample(y, raw)
    inside = ref.inside(y, raw)
    got = conjugate(loss, y, u)
    for i in range(N):
        if inside[i] is None:
            continue
        if ref.two_d:
            sup = sum(_sup_1d(lambda zk, k=k: u[i, k] * zk - 0.5 * (y[i, k] - zk) ** 2,
                              y[i, k]) for k in range(K))
        else:
            sup = _sup_1d(lambda zi: u[i] * zi - float(ref.value(y[i:i + 1],
                                                                 np.array([zi]))[0]), y[i])
        if np.isinf(sup):
            assert got[i] == np.inf
        else:
            np.testing.assert_allclose(got[i], sup, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_dual_bounds_are_the_box_of_the_domain(name):
    loss, ref = CASES[name]
    y = np.array([1.0, -1.0, 1.0, -1.0, 0.5, 2.0]) if ref.kind != "class" else np.arange(N) % K
    if ref.kind == "sign":
        y = np.sign(y)
    if ref.two_d and ref.kind == "real":
        y = np.ones((N, K))
    bounds = loss.dual_bounds(y)
    if name not in BOX:
        assert bounds is None
        return
    lo, hi = (np.broadcast_to(np.asarray(b, float), (N,)) for b in bounds)
    ref_lo, ref_hi = (np.broadcast_to(b, (N,)) for b in ref.bounds(y))
    np.testing.assert_array_equal(lo, ref_lo)
    np.testing.assert_array_equal(hi, ref_hi)
    # The box is closed: the conjugate is finite (the formula) on its ends, +inf beyond.
    np.testing.assert_allclose(conjugate(loss, y, lo), ref.conjugate(y, lo), rtol=1e-14)
    np.testing.assert_allclose(conjugate(loss, y, hi), ref.conjugate(y, hi), rtol=1e-14)
    assert np.all(np.isinf(conjugate(loss, y, lo - 1e-12)))
    assert np.all(np.isinf(conjugate(loss, y, hi + 1e-12)))
    assert dual_scale(loss, y, hi) == 1.0 and dual_scale(loss, y, lo) == 1.0


def test_multinomial_conjugate_needs_rows_summing_to_zero():
    loss = MultinomialLoss(n_classes=K)
    y = np.arange(N) % K
    u = np.full((N, K), 0.1) - np.eye(K)[y] * 0.3  # rows sum to 0, p = e_y + u >= 0
    assert np.all(np.isfinite(conjugate(loss, y, u)))
    assert np.all(np.isinf(conjugate(loss, y, u + 1e-6)))
    negative = u.copy()
    negative[:, :] = np.eye(K)[y] * -1.2 + (1 - np.eye(K)[y]) * 0.6  # p_y = -0.2
    assert np.all(np.isinf(conjugate(loss, y, negative)))


def test_multinomial_dual_scale_of_rows_not_summing_to_zero():
    """dual_scale's contract (t·u in the domain) also for u off the hyperplane
    sum_k u_k = 0: no t > 0 can fix the row sums, so only t = 0 qualifies."""
    loss = MultinomialLoss(n_classes=K)
    y = np.arange(N) % K
    u = np.full((N, K), 0.1)  # p = e_y + t u >= 0 for every t, but rows sum to 0.3
    t = dual_scale(loss, y, u)
    assert 0.0 <= t <= 1.0
    assert np.all(np.isfinite(conjugate(loss, y, t * u))), f"dual_scale gave t = {t}"


# ---------------------------------------------------------------------------
# Consistency between losses
# ---------------------------------------------------------------------------


@settings(max_examples=100)
@given(y=_array(st.sampled_from([-1.0, 1.0]), (N,)), z=_array(_floats(-30, 30), (N,)))
def test_logistic_is_two_class_multinomial(y, z):
    classes = ((y + 1) / 2).astype(np.int64)
    two = np.stack([np.zeros(N), z], axis=1)
    multinomial = MultinomialLoss(n_classes=2)
    np.testing.assert_allclose(value(LogisticLoss(), y, z), value(multinomial, classes, two),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_grad(LogisticLoss(), y, z), _grad(multinomial, classes, two)[:, 1],
                               rtol=1e-12, atol=1e-14)


@settings(max_examples=100)
@given(y=_array(_floats(-4, 4), (N,)), z=_array(_floats(-4, 4), (N,)), step=steps)
def test_median_quantile_is_half_the_absolute_loss(y, z, step):
    half, absolute = QuantileLoss(0.5), AbsoluteLoss()
    np.testing.assert_allclose(value(half, y, z), 0.5 * value(absolute, y, z), rtol=1e-15)
    np.testing.assert_allclose(_prox(half, y, z, step), _prox(absolute, y, z, step / 2),
                               rtol=1e-14, atol=1e-15)


def test_huber_with_a_large_delta_is_squared():
    y, z = np.linspace(-3, 3, N), np.linspace(2, -1, N)
    np.testing.assert_allclose(value(HuberLoss(1e3), y, z), value(SquaredLoss(), y, z),
                               rtol=1e-15)
    np.testing.assert_allclose(conjugate(HuberLoss(1e3), y, z),
                               conjugate(SquaredLoss(), y, z), rtol=1e-15)


def test_squared_2d_is_the_sum_over_outputs():
    rng = np.random.default_rng(0)
    y, z = rng.standard_normal((N, K)), rng.standard_normal((N, K))
    loss = SquaredLoss()
    columns = sum(value(loss, y[:, k], z[:, k]) for k in range(K))
    np.testing.assert_allclose(value(loss, y, z), columns, rtol=1e-14)
    np.testing.assert_allclose(conjugate(loss, y, z),
                               sum(conjugate(loss, y[:, k], z[:, k]) for k in range(K)),
                               rtol=1e-14)
    np.testing.assert_allclose(_grad(loss, y, z), z - y, rtol=1e-15)


# ---------------------------------------------------------------------------
# Pytree contract: delta and quantile are leaves, n_classes is static
# ---------------------------------------------------------------------------

Y = np.array([1.5, -0.5, 0.2, 3.0, -2.0, 0.0])
Z = np.array([0.5, 0.5, 0.1, -1.0, -1.8, 0.7])
U = np.array([0.3, -0.4, 0.05, 0.9, -0.1, 0.0])


def test_vmap_over_huber_delta_equals_loop():
    deltas = np.array([0.1, 0.5, 1.0, 2.5])
    batched = jax.vmap(lambda d: (HuberLoss(d).value(Y, Z), HuberLoss(d).grad(Y, Z),
                                  HuberLoss(d).conjugate(Y, U), HuberLoss(d).dual_scale(Y, U))
                       )(deltas)
    for k, d in enumerate(deltas):
        loss = HuberLoss(float(d))
        for got, expected in zip(batched, (loss.value(Y, Z), loss.grad(Y, Z),
                                           loss.conjugate(Y, U), loss.dual_scale(Y, U))):
            np.testing.assert_allclose(got[k], expected, rtol=1e-15)


def test_vmap_over_quantile_equals_loop():
    taus = np.array([0.1, 0.3, 0.5, 0.95])
    batched = jax.vmap(lambda q: (QuantileLoss(q).value(Y, Z), QuantileLoss(q).prox(Y, Z, 0.7),
                                  QuantileLoss(q).conjugate(Y, U),
                                  QuantileLoss(q).dual_scale(Y, U)))(taus)
    for k, q in enumerate(taus):
        loss = QuantileLoss(float(q))
        for got, expected in zip(batched, (loss.value(Y, Z), loss.prox(Y, Z, 0.7),
                                           loss.conjugate(Y, U), loss.dual_scale(Y, U))):
            np.testing.assert_allclose(got[k], expected, rtol=1e-15)


def test_grad_with_respect_to_delta():
    """d/dδ of Huber: 0 on |r| <= δ and |r| - δ beyond; also through jit."""
    def f(d):
        return jnp.sum(HuberLoss(d).value(Y, Z))

    d0 = 0.6
    r = np.abs(Y - Z)
    expected = np.sum(np.where(r > d0, r - d0, 0.0))
    np.testing.assert_allclose(jax.jit(jax.grad(f))(d0), expected, rtol=1e-14)
    np.testing.assert_allclose(jax.grad(f)(d0), (f(d0 + 1e-6) - f(d0 - 1e-6)) / 2e-6, rtol=1e-7)


def test_grad_with_respect_to_quantile():
    """d/dτ of a function of the prox against central differences and the closed form
    dprox/dτ = +step where z is shifted down, +step where shifted up, 0 at y."""
    step = 0.7

    def f(q):
        return jnp.sum(jnp.arange(1.0, N + 1) * QuantileLoss(q).prox(Y, Z, step))

    q0 = 0.35
    ref = QuantileRef(q0)
    moved = np.asarray(ref.prox(Y, Z, step)) != Y
    expected = np.sum(np.arange(1.0, N + 1) * np.where(moved, step, 0.0))
    np.testing.assert_allclose(jax.grad(f)(q0), expected, rtol=1e-14)
    np.testing.assert_allclose(jax.grad(f)(q0), (f(q0 + 1e-6) - f(q0 - 1e-6)) / 2e-6, rtol=1e-7)


def test_no_recompilation_for_new_hyperparameter_values():
    traces = []

    @jax.jit
    def f(loss, y, z):
        traces.append(1)
        return loss.value(y, z)

    for a in (0.1, 0.2, 0.3):
        f(HuberLoss(jnp.asarray(a)), Y, Z)
        f(QuantileLoss(jnp.asarray(a)), Y, Z)
    assert len(traces) == 2


@pytest.mark.parametrize(("loss", "leaves"), [
    (SquaredLoss(), []), (AbsoluteLoss(), []), (LogisticLoss(), []),
    (HuberLoss(1.3), [1.3]), (QuantileLoss(0.3), [0.3]), (MultinomialLoss(n_classes=4), []),
], ids=["squared", "absolute", "logistic", "huber", "quantile", "multinomial"])
def test_hyperparameters_are_the_only_leaves(loss, leaves):
    assert jax.tree_util.tree_leaves(loss) == leaves
    assert type(jax.tree_util.tree_map(lambda x: 2 * x, loss)) is type(loss)


def test_n_classes_is_static():
    structure = jax.tree_util.tree_structure
    assert structure(MultinomialLoss(n_classes=3)) != structure(MultinomialLoss(n_classes=4))
    assert jax.tree_util.tree_map(lambda x: x, MultinomialLoss(n_classes=4)).n_classes == 4
    # Static: usable as a Python int inside jit.
    out = jax.jit(lambda loss: jnp.zeros(loss.n_classes))(MultinomialLoss(n_classes=5))
    assert out.shape == (5,)


# ---------------------------------------------------------------------------
# float32 (a supported mode): results keep the dtype of the data
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    loss, ref = CASES[name]
    z = jnp.ones((N, K) if ref.two_d else (N,), jnp.float32)
    y = {"class": jnp.arange(N) % K, "sign": jnp.ones(N, jnp.float32)}.get(
        ref.kind, jnp.zeros(z.shape, jnp.float32))
    u = -0.1 * z if name != "multinomial" else jnp.zeros_like(z)
    results = {"value": loss.value(y, z), "conjugate": loss.conjugate(y, u),
               "dual_scale": loss.dual_scale(y, u)}
    if ref.smooth:
        results["grad"] = loss.grad(y, z)
    else:
        results["prox"] = loss.prox(y, z, 0.5)
    wrong = {k: str(r.dtype) for k, r in results.items() if r.dtype != jnp.float32}
    assert not wrong, f"{type(loss).__name__} returns {wrong} for float32 input"
