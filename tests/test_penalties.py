r"""Properties of every penalty (hypothesis, float64, seeded by the "ci" profile).

Every penalty is compared with an independent NumPy description written here:
a separable penalty is :math:`\sum_j \lambda_j |w_j| + \frac{\mu_j}{2} w_j^2`
(plus :math:`\iota\{w \ge 0\}` when ``positive``), the group lasso is
:math:`\alpha \sum_g \sqrt{|g|}\,\|w_g\|_2` (DESIGN.md). On top of values,
proxes, conjugates and subdifferential distances against those formulas, the
tests check the optimality of the prox against random perturbations and a
scipy 1-D minimisation, Moreau's identity in its Fenchel–Young form
:math:`P(p) + P^*(d) = p^\top d` with :math:`p = \mathrm{prox}_{sP}(v)`,
:math:`d = (v - p)/s`, the Fenchel–Young inequality at dual points made
feasible by ``dual_scale``, the conjugate against a numerical supremum, and the
pytree contract (hyperparameters are leaves, switches are static).

Library calls go through a handful of jitted functions of ``(penalty, arrays)``
with fixed shapes, so hypothesis examples never recompile.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from jaxreg.penalties import (L1, L2, ElasticNetPenalty, GroupLassoPenalty, NoPenalty,
                              WeightedL1)

jax.config.update("jax_enable_x64", True)

P = 7
WEIGHTS = np.array([0.0, 0.5, 1.0, 1.5, 0.2, 2.0, 0.0])  # two unpenalized features
GROUPS = (0, 0, 2, 2, 2, 3, 0)  # unsorted ids, group 1 empty, a singleton group
GROUP_ALPHA = 0.6

# ---------------------------------------------------------------------------
# Independent NumPy references
# ---------------------------------------------------------------------------


class Separable:
    r"""NumPy reference for :math:`\sum_j l1_j|w_j| + \frac{l2_j}{2} w_j^2` (+ w >= 0)."""

    def __init__(self, l1, l2, positive=False):
        self.l1 = np.broadcast_to(np.asarray(l1, float), (P,))
        self.l2 = np.broadcast_to(np.asarray(l2, float), (P,))
        self.positive = positive

    def _cols(self, a, w):  # broadcast a per-feature array against w (features first)
        return a.reshape((P,) + (1,) * (np.ndim(w) - 1))

    def value(self, w):
        l1, l2 = self._cols(self.l1, w), self._cols(self.l2, w)
        return float(np.sum(l1 * np.abs(w) + 0.5 * l2 * w**2))

    def objective_value(self, w):
        """The value including the constraint (what the prox minimises)."""
        if self.positive and np.any(w < 0):
            return np.inf
        return self.value(w)

    def coordinate(self, j, w):
        """P restricted to coordinate j (scalar w), constraint included."""
        if self.positive and w < 0:
            return np.inf
        return self.l1[j] * abs(w) + 0.5 * self.l2[j] * w**2

    def prox(self, v, step):
        l1, l2 = self._cols(self.l1, v), self._cols(self.l2, v)
        if self.positive:
            shrunk = np.maximum(v - step * l1, 0.0)
        else:
            shrunk = np.sign(v) * np.maximum(np.abs(v) - step * l1, 0.0)
        return shrunk / (1.0 + step * l2)

    def conjugate(self, v):
        # sup_w v w - l1|w| - l2 w^2/2 = (|v| - l1)_+^2 / (2 l2), or the indicator
        # of |v| <= l1 when l2 = 0 (v instead of |v| when w >= 0).
        l1, l2 = self._cols(self.l1, v), self._cols(self.l2, v)
        excess = np.maximum((v if self.positive else np.abs(v)) - l1, 0.0)
        safe_l2 = np.where(l2 > 0, l2, 1.0)
        per = np.where(excess == 0, 0.0, np.where(l2 > 0, excess**2 / (2 * safe_l2), np.inf))
        return float(np.sum(per))

    def subdiff_distance(self, w, grad):
        # dP(w) = l1 d|w| + l2 w (+ normal cone of w >= 0); distance from -grad.
        l1, l2 = self._cols(self.l1, w), self._cols(self.l2, w)
        c = -grad - l2 * w
        if self.positive:
            return np.where(w > 0, np.abs(c - l1), np.maximum(c - l1, 0.0))
        return np.where(w != 0, np.abs(c - l1 * np.sign(w)), np.maximum(np.abs(c) - l1, 0.0))


class Group:
    r"""NumPy reference for :math:`\alpha \sum_g \sqrt{|g|} \|w_g\|_2` (rows of w)."""

    positive = False

    def __init__(self, alpha, groups):
        self.alpha, self.groups = alpha, np.asarray(groups)
        self.members = [np.flatnonzero(self.groups == g) for g in np.unique(self.groups)]

    def radius(self, idx):
        return self.alpha * np.sqrt(len(idx))

    def value(self, w):
        return float(sum(self.radius(i) * np.linalg.norm(w[i]) for i in self.members))

    objective_value = value

    def prox(self, v, step):
        out = np.zeros_like(v)
        for i in self.members:
            norm = np.linalg.norm(v[i])
            if norm > step * self.radius(i):
                out[i] = (1.0 - step * self.radius(i) / norm) * v[i]
        return out

    def conjugate(self, v):
        inside = all(np.linalg.norm(v[i]) <= self.radius(i) for i in self.members)
        return 0.0 if inside else np.inf

    def subdiff_distance(self, w, grad):
        out = np.zeros_like(w)
        for i in self.members:
            norm, r = np.linalg.norm(w[i]), self.radius(i)
            if norm > 0:
                out[i] = np.linalg.norm(grad[i] + r * w[i] / norm)
            else:
                out[i] = max(np.linalg.norm(grad[i]) - r, 0.0)
        return out


CASES = {
    "l1": (L1(0.7), Separable(0.7, 0.0)),
    "l1+": (L1(0.7, positive=True), Separable(0.7, 0.0, positive=True)),
    "l2": (L2(0.9), Separable(0.0, 0.9)),
    "l2+": (L2(0.9, positive=True), Separable(0.0, 0.9, positive=True)),
    "enet": (ElasticNetPenalty(0.8, 0.3), Separable(0.8 * 0.3, 0.8 * 0.7)),
    "enet+": (ElasticNetPenalty(0.8, 0.3, positive=True),
              Separable(0.8 * 0.3, 0.8 * 0.7, positive=True)),
    "enet-rho1": (ElasticNetPenalty(0.8, 1.0), Separable(0.8, 0.0)),
    "enet-rho0": (ElasticNetPenalty(0.8, 0.0), Separable(0.0, 0.8)),
    "wl1": (WeightedL1(WEIGHTS), Separable(WEIGHTS, 0.0)),
    "wl1+": (WeightedL1(WEIGHTS, positive=True), Separable(WEIGHTS, 0.0, positive=True)),
    "group": (GroupLassoPenalty(GROUP_ALPHA, GROUPS), Group(GROUP_ALPHA, GROUPS)),
    "none": (NoPenalty(), Separable(0.0, 0.0)),
}
NAMES = list(CASES)
SEPARABLE = [name for name in NAMES if name != "group"]
# Penalties whose conjugate is an indicator (a dual ball that dual_scale must reach).
INDICATOR = ["l1", "l1+", "enet-rho1", "wl1", "wl1+", "group", "none"]

# ---------------------------------------------------------------------------
# Jitted library calls: one compilation per (penalty structure, shape).
# ---------------------------------------------------------------------------

_value = jax.jit(lambda pen, w: pen.value(w))
_prox = jax.jit(lambda pen, v, step: pen.prox(v, step))
_conjugate = jax.jit(lambda pen, v: pen.conjugate(v))
_dual_scale = jax.jit(lambda pen, v: pen.dual_scale(v))
_subdiff = jax.jit(lambda pen, w, g: pen.subdiff_distance(w, g))


def value(pen, w):
    return float(_value(pen, w))


def prox(pen, v, step):
    return np.asarray(_prox(pen, v, step))


def conjugate(pen, v):
    return float(_conjugate(pen, v))


def dual_scale(pen, v):
    return float(_dual_scale(pen, v))


def subdiff_distance(pen, w, g):
    return np.asarray(_subdiff(pen, w, g))


def unpenalized_mask(pen, shape):
    mask = pen.unpenalized()
    if mask is None:
        return np.zeros(shape, bool)
    mask = np.asarray(mask)
    return np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim)), shape)


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

# Magnitudes below 1e-100 become 0: XLA on CPU flushes subnormals (v**2 at |v| ~ 1e-160)
# to zero where NumPy keeps them, which is a difference of platforms, not of formulas.
def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_subnormal=False).map(
        lambda x: 0.0 if abs(x) < 1e-100 else x)


def _array(elements, shape):
    """Fixed-shape float arrays (tuples draw about twice as fast as hypothesis' arrays)."""
    return st.tuples(*[elements] * int(np.prod(shape))).map(
        lambda t: np.array(t, dtype=float).reshape(shape))


coordinates = _floats(-4.0, 4.0)
vectors = _array(coordinates, (P,))
matrices = _array(coordinates, (P, 2))
wide = _array(_floats(-40.0, 40.0), (P,))
masks = st.tuples(*[st.booleans()] * P).map(np.array)
steps = st.floats(0.05, 3.0)
seeds = st.integers(0, 2**32 - 1)

MANY = settings(max_examples=100)
SOME = settings(max_examples=30)


def feasible(name, w):
    """Project w onto the domain of the penalty (w >= 0 for positive ones)."""
    return np.abs(w) if CASES[name][1].positive else w


# ---------------------------------------------------------------------------
# Value, prox
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(w=vectors)
def test_value_matches_numpy(name, w):
    pen, ref = CASES[name]
    w = feasible(name, w)
    np.testing.assert_allclose(value(pen, w), ref.value(w), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(v=vectors, step=steps)
def test_prox_matches_closed_form(name, v, step):
    pen, ref = CASES[name]
    p = prox(pen, v, step)
    assert p.shape == v.shape
    np.testing.assert_allclose(p, ref.prox(v, step), rtol=1e-12, atol=1e-14)
    if ref.positive:
        assert np.all(p >= 0)


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(v=vectors, step=steps, seed=seeds)
def test_prox_beats_perturbations(name, v, step, seed):
    """No nearby (feasible) point has a smaller prox objective ||w - v||²/(2 step) + P(w)."""
    pen, ref = CASES[name]
    p = prox(pen, v, step)

    def objective(w):
        return np.sum((w - v) ** 2) / (2 * step) + ref.objective_value(w)

    best = objective(p)
    assert np.isfinite(best)
    rng = np.random.default_rng(seed)
    candidates = [p + scale * rng.standard_normal(P) for scale in (1e-1, 1e-3, 1e-6)
                  for _ in range(6)]
    candidates += [p + h * e for h in (1e-4, -1e-4) for e in np.eye(P)]
    candidates += [np.zeros(P), v, 0.5 * (p + v), 0.99 * p]
    tol = 1e-12 * max(1.0, abs(best))
    for q in candidates:
        q = np.maximum(q, 0.0) if ref.positive else q
        assert objective(q) >= best - tol, (q, objective(q), best)


def _scipy_prox_coordinate(ref, j, vj, step):
    lo, hi = min(vj, 0.0) - 1.0, max(vj, 0.0) + 1.0
    if ref.positive:
        lo = 0.0
    res = scipy.optimize.minimize_scalar(
        lambda w: (w - vj) ** 2 / (2 * step) + ref.coordinate(j, w),
        bounds=(lo, hi), method="bounded", options=dict(xatol=1e-11))
    # The minimiser may sit on the kink at 0, which Brent only approaches.
    return min((res.x, 0.0), key=lambda w: (w - vj) ** 2 / (2 * step) + ref.coordinate(j, w))


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(v=vectors, step=steps)
def test_prox_matches_scipy(name, v, step):
    """prox against a numerical 1-D minimisation (per coordinate, or per group along v_g)."""
    pen, ref = CASES[name]
    p = prox(pen, v, step)
    if name == "group":
        # The prox of a group keeps the direction of v_g: minimise over its length c v_g.
        expected = np.zeros(P)
        for i in ref.members:
            norm = np.linalg.norm(v[i])
            res = scipy.optimize.minimize_scalar(
                lambda c: (1 - c) ** 2 * norm**2 / (2 * step) + ref.radius(i) * c * norm,
                bounds=(0.0, 1.0), method="bounded", options=dict(xatol=1e-11))
            c = min((res.x, 0.0), key=lambda c: (1 - c) ** 2 * norm**2 / (2 * step)
                    + ref.radius(i) * c * norm)
            expected[i] = c * v[i]
    else:
        expected = np.array([_scipy_prox_coordinate(ref, j, v[j], step) for j in range(P)])
    # Brent's bounded search stops at |dx| ~ 1.5e-8 |x| + xatol: 1e-6 covers |x| <= 5.
    np.testing.assert_allclose(p, expected, atol=1e-6)


# ---------------------------------------------------------------------------
# Moreau identity / Fenchel–Young, subdifferential distance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(v=vectors, step=steps)
def test_prox_point_moreau_identity_and_kkt(name, v, step):
    r"""With p = prox_{step P}(v) and d = (v - p)/step (so that v = p + step·d,
    Moreau's decomposition), d is in dP(p):

    - Fenchel–Young holds with equality, P(p) + P*(d) = pᵀd (d lies on the boundary
      of an indicator's domain up to rounding: dual_scale must bring it inside by a
      factor 1 - O(eps), not more);
    - subdiff_distance(p, -d) = 0."""
    pen, _ = CASES[name]
    p = prox(pen, v, step)
    d = (v - p) / step
    t = dual_scale(pen, d)
    assert 1.0 - 1e-12 <= t <= 1.0
    lhs = value(pen, p) + conjugate(pen, t * d)
    assert np.isfinite(lhs)
    np.testing.assert_allclose(lhs, np.dot(p, t * d), rtol=1e-10, atol=1e-10)
    dist = subdiff_distance(pen, p, -d)
    assert dist.shape == v.shape
    np.testing.assert_allclose(dist, 0.0, atol=1e-12 * (1 + np.max(np.abs(v)) / step))


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(v=vectors, step=steps, delta=_array(st.floats(0.01, 3.0), (P,)), signs=masks)
def test_subdiff_distance_off_the_kkt_point(name, v, step, delta, signs):
    """Where dP(p) is a single point (p_j != 0, or p_g != 0 for a group), moving the
    gradient by delta moves it exactly |delta| (||delta_g||) away from dP(p)."""
    pen, ref = CASES[name]
    p = prox(pen, v, step)
    delta = np.where(signs, delta, -delta)
    dist = subdiff_distance(pen, p, -(v - p) / step + delta)
    assert np.all(dist >= 0)
    if name == "group":
        for i in ref.members:
            if np.linalg.norm(p[i]) > 0:
                np.testing.assert_allclose(dist[i], np.linalg.norm(delta[i]), rtol=1e-9)
    else:
        active = p != 0
        np.testing.assert_allclose(dist[active], np.abs(delta[active]), rtol=1e-9, atol=1e-12)
    # Where dP(p) is an interval, a large enough move always leaves it (downwards
    # when dP(0) = (-inf, l1] for w >= 0).
    shift = -100.0 * np.ones(P) if ref.positive else 100.0 * np.where(signs, 1.0, -1.0)
    far = subdiff_distance(pen, p, -(v - p) / step + shift)
    assert np.all(far > 0)


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(w=vectors, g=vectors, zeros=masks)
def test_subdiff_distance_matches_numpy(name, w, g, zeros):
    pen, ref = CASES[name]
    w = feasible(name, np.where(zeros, 0.0, w))
    np.testing.assert_allclose(subdiff_distance(pen, w, g), ref.subdiff_distance(w, g),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------
# Conjugate, dual_scale, Fenchel–Young inequality
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(v=wide)
def test_conjugate_matches_closed_form(name, v):
    pen, ref = CASES[name]
    expected = ref.conjugate(v)
    got = conjugate(pen, v)
    if np.isinf(expected):
        assert got == np.inf
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _numerical_sup(f, nonnegative=False, radius=1e2):
    """sup over the line (w >= 0 if nonnegative) of a concave piecewise-quadratic 1-D
    function f: +inf if it still increases between |w| = radius and 10 radius (a
    concave function that increases far out is linear there), else Brent's
    maximum over [-radius, radius] (its maximiser is inside: |w| <= 4/0.56 here)."""
    ends = [radius] if nonnegative else [radius, -radius]
    if any(f(10 * w) > f(w) for w in ends):
        return np.inf
    lo = 0.0 if nonnegative else -radius
    res = scipy.optimize.minimize_scalar(lambda w: -f(w), bounds=(lo, radius),
                                         method="bounded", options=dict(xatol=1e-12))
    return max(-res.fun, f(0.0))


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(v=vectors)
def test_conjugate_matches_numerical_sup(name, v):
    r"""P*(v) = sup_w vᵀw − P(w), computed numerically: separable penalties split into
    1-D suprema, a group's supremum lies along v_g."""
    pen, ref = CASES[name]
    if name == "group":
        pieces = []
        for i in ref.members:
            norm = np.linalg.norm(v[i])
            pieces.append(lambda c, norm=norm, r=ref.radius(i): c * norm**2 - r * abs(c) * norm)
    else:
        pieces = [lambda w, j=j: v[j] * w - ref.coordinate(j, w) for j in range(P)]
    expected = sum(_numerical_sup(f, ref.positive) for f in pieces)
    got = conjugate(pen, v)
    if np.isinf(expected):
        assert got == np.inf
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(w=vectors, v=wide)
def test_fenchel_young_inequality_at_scaled_dual_points(name, w, v):
    r"""t = dual_scale(v) in [0, 1] puts t·v in dom P* (unpenalized coordinates
    projected to 0 first), t is maximal up to rounding, and
    P(w) + P*(t v) >= t vᵀw."""
    pen, _ = CASES[name]
    w = feasible(name, w)
    projected = np.where(unpenalized_mask(pen, v.shape), 0.0, v)
    t = dual_scale(pen, projected)
    assert dual_scale(pen, v) == t, "unpenalized coordinates must not change dual_scale"
    v = projected
    assert 0.0 <= t <= 1.0
    conj = conjugate(pen, t * v)
    assert np.isfinite(conj), "dual_scale must land in the domain of the conjugate"
    assert value(pen, w) + conj >= t * np.dot(v, w) - 1e-10 * (1 + abs(t * np.dot(v, w)))
    if t < 1.0:
        assert conjugate(pen, min(t * (1 + 1e-9), 1.0) * v) == np.inf, "t is not maximal"


@pytest.mark.parametrize("name", NAMES)
@MANY
@given(w=vectors, v=vectors)
def test_fenchel_young_inequality_inside_the_domain(name, w, v):
    """Fenchel–Young on dual points sampled inside the domain (v shrunk into the
    dual ball by an independent NumPy computation)."""
    pen, ref = CASES[name]
    w = feasible(name, w)
    v = np.where(unpenalized_mask(pen, v.shape), 0.0, v)
    if name == "group":
        for i in ref.members:
            norm = np.linalg.norm(v[i])
            if norm > ref.radius(i):
                v[i] *= 0.999 * ref.radius(i) / norm
    else:
        bound = np.where(ref.l2 > 0, np.inf, ref.l1)
        v = np.clip(v, -np.inf if ref.positive else -bound, bound)
    conj = conjugate(pen, v)
    assert np.isfinite(conj)
    assert value(pen, w) + conj >= np.dot(v, w) - 1e-10 * (1 + abs(np.dot(v, w)))
    assert dual_scale(pen, v) == 1.0  # already inside: nothing to scale


@pytest.mark.parametrize("name", INDICATOR)
@MANY
@given(v=vectors, factor=st.floats(1.0 + 1e-6, 10.0), j=st.integers(0, P - 1))
def test_conjugate_is_infinite_outside_the_domain(name, v, factor, j):
    """Push one coordinate (group) past the boundary of the dual ball: P* = inf, and
    dual_scale pulls it back (unless the coordinate is unpenalized: dual_scale
    ignores those, the solvers project them to 0)."""
    pen, ref = CASES[name]
    if name == "group":
        i = next(i for i in ref.members if j in i)
        direction = np.zeros(P)
        direction[i] = np.where(v[i] == 0, 1.0, v[i])
        v = factor * ref.radius(i) * direction / np.linalg.norm(direction)
    else:
        v = np.zeros(P)
        v[j] = factor * max(ref.l1[j], 1e-3)
    assert conjugate(pen, v) == np.inf
    if not unpenalized_mask(pen, (P,))[j]:
        assert dual_scale(pen, v) < 1.0


# ---------------------------------------------------------------------------
# unpenalized, coordinate, matrices of coefficients
# ---------------------------------------------------------------------------


def test_unpenalized_masks():
    np.testing.assert_array_equal(WeightedL1(WEIGHTS).unpenalized(), WEIGHTS == 0)
    np.testing.assert_array_equal(WeightedL1(WEIGHTS, positive=True).unpenalized(),
                                  WEIGHTS == 0)
    assert np.all(unpenalized_mask(NoPenalty(), (P,)))
    for name in ["l1", "l1+", "l2", "l2+", "enet", "enet+", "group"]:
        assert CASES[name][0].unpenalized() is None, name


@pytest.mark.parametrize("name", SEPARABLE)
@SOME
@given(w=vectors, v=vectors, step=steps)
def test_coordinate_penalties_compose_the_penalty(name, w, v, step):
    """Coordinate descent's 1-D penalties add up to the penalty and its prox."""
    pen, ref = CASES[name]
    w = feasible(name, w)
    parts = [pen.coordinate(j) for j in range(P)]
    np.testing.assert_allclose(sum(value(c, w[j:j + 1]) for j, c in enumerate(parts)),
                               ref.value(w), rtol=1e-12, atol=1e-12)
    by_coordinate = np.concatenate([prox(c, v[j:j + 1], step) for j, c in enumerate(parts)])
    np.testing.assert_allclose(by_coordinate, ref.prox(v, step), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(w=matrices, v=matrices, step=steps)
def test_coefficient_matrices(name, w, v, step):
    """A coefficient matrix (n_features, n_outputs): separable penalties act entrywise,
    the group lasso on groups of rows (Frobenius norm)."""
    pen, ref = CASES[name]
    w = feasible(name, w)
    np.testing.assert_allclose(value(pen, w), ref.value(w), rtol=1e-12, atol=1e-12)
    p = prox(pen, v, step)
    np.testing.assert_allclose(p, ref.prox(v, step), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(subdiff_distance(pen, p, -(v - p) / step), 0.0, atol=1e-10)
    np.testing.assert_allclose(subdiff_distance(pen, w, v), ref.subdiff_distance(w, v),
                               rtol=1e-12, atol=1e-12)
    u = np.where(unpenalized_mask(pen, v.shape), 0.0, 10.0 * v)
    expected, got = ref.conjugate(u), conjugate(pen, u)
    if np.isinf(expected):
        assert got == np.inf
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    t = dual_scale(pen, u)
    assert 0.0 <= t <= 1.0 and np.isfinite(ref.conjugate(t * u))
    if name in SEPARABLE:
        assert t == min(dual_scale(pen, np.ascontiguousarray(u[:, k])) for k in range(2))


# ---------------------------------------------------------------------------
# Targeted cases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_prox_examples(name):
    pen, _ = CASES[name]
    v = np.array([-2.0, 0.3, 1.0, 0.0, 5.0, -0.1, 2.0])
    expected = {
        # soft-thresholding at 0.7 (step 1)
        "l1": [-1.3, 0.0, 0.3, 0.0, 4.3, 0.0, 1.3],
        "l1+": [0.0, 0.0, 0.3, 0.0, 4.3, 0.0, 1.3],
        "l2": np.array([-2.0, 0.3, 1.0, 0.0, 5.0, -0.1, 2.0]) / 1.9,
        "l2+": np.array([0.0, 0.3, 1.0, 0.0, 5.0, 0.0, 2.0]) / 1.9,
        "enet": np.array([-1.76, 0.06, 0.76, 0.0, 4.76, 0.0, 1.76]) / 1.56,
        "enet+": np.array([0.0, 0.06, 0.76, 0.0, 4.76, 0.0, 1.76]) / 1.56,
        "enet-rho1": [-1.2, 0.0, 0.2, 0.0, 4.2, 0.0, 1.2],
        "enet-rho0": np.array([-2.0, 0.3, 1.0, 0.0, 5.0, -0.1, 2.0]) / 1.8,
        # weights [0, .5, 1, 1.5, .2, 2, 0]
        "wl1": [-2.0, 0.0, 0.0, 0.0, 4.8, 0.0, 2.0],
        "wl1+": [0.0, 0.0, 0.0, 0.0, 4.8, 0.0, 2.0],
        # groups {0, 1, 6}: norm 3, radius 0.6 sqrt 3; {2, 3, 4}: norm sqrt 26; {5}: zero
        "group": np.concatenate([
            (1 - 0.6 * np.sqrt(3) / np.sqrt(4.09 + 4.0)) * np.array([-2.0, 0.3]),
            (1 - 0.6 * np.sqrt(3) / np.sqrt(26.0)) * np.array([1.0, 0.0, 5.0]),
            [0.0],
            (1 - 0.6 * np.sqrt(3) / np.sqrt(8.09)) * np.array([2.0])]),
        "none": v,
    }[name]
    np.testing.assert_allclose(prox(pen, v, 1.0), expected, rtol=1e-12, atol=1e-15)


def test_group_lasso_one_group_is_the_unsquared_norm():
    pen = GroupLassoPenalty(2.0, groups=(0, 0, 0, 0))
    np.testing.assert_allclose(pen.value(jnp.array([1.0, 2.0, 2.0, 4.0])), 2.0 * 2.0 * 5.0)
    singletons = GroupLassoPenalty(0.7, groups=(0, 1, 2, 3, 4, 5, 6))
    w = np.linspace(-1, 2, P)
    np.testing.assert_allclose(value(singletons, w), value(L1(0.7), w), rtol=1e-14)
    np.testing.assert_allclose(prox(singletons, w, 0.3), prox(L1(0.7), w, 0.3), rtol=1e-14)


@SOME
@given(v=_array(_floats(-1e3, 1e3), (48,)), alpha=st.floats(1e-3, 10.0))
def test_dual_scale_reaches_the_ball_of_a_large_group(v, alpha):
    """Rounding in a 48-term norm must not push t·v back outside the ball."""
    pen = GroupLassoPenalty(alpha, groups=(0,) * 40 + (1,) * 8)
    t = dual_scale(pen, v)
    assert np.isfinite(conjugate(pen, t * v))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_group_prox_of_a_tiny_group_is_zero(dtype):
    """||v_g|| < step * radius gives prox_g = 0, also where ||v_g||² underflows to 0
    (|v| ~ 1e-170 in float64, ~ 1e-25 in float32)."""
    tiny = 1e-170 if dtype == np.float64 else 1e-25
    pen = GroupLassoPenalty(0.6, (0, 0, 1))
    p = np.asarray(pen.prox(jnp.array([tiny, -tiny, 3.0], dtype), 1.0))
    np.testing.assert_array_equal(p[:2], 0.0)
    np.testing.assert_allclose(p[2], 3.0 - 0.6, rtol=1e-6)


@pytest.mark.parametrize("pen", [L1(0.0), L2(0.0), ElasticNetPenalty(0.0, 0.5),
                                 ElasticNetPenalty(0.0, 1.0), GroupLassoPenalty(0.0, GROUPS)],
                         ids=["l1", "l2", "enet", "enet-rho1", "group"])
def test_zero_alpha_is_no_penalty(pen):
    """alpha = 0 is P = 0: prox is the identity, P* is the indicator of {0}, and the
    dual_scale contract (t·v in dom P*) still holds, with t = 0."""
    v = np.linspace(-1.0, 2.0, P)
    np.testing.assert_allclose(prox(pen, v, 0.5), v)
    assert value(pen, v) == 0.0
    assert conjugate(pen, v) == np.inf
    assert conjugate(pen, np.zeros(P)) == 0.0
    t = dual_scale(pen, v)
    assert 0.0 <= t <= 1.0
    assert np.isfinite(conjugate(pen, t * v)), f"dual_scale gave t = {t}"


# ---------------------------------------------------------------------------
# Differentiability of the prox in v (unrolled differentiation through solvers)
# ---------------------------------------------------------------------------

_prox_jacobians = jax.jit(
    lambda pen, v, step: (jax.jacfwd(pen.prox)(v, step), jax.jacrev(pen.prox)(v, step)))


def test_group_prox_jacobian_at_a_zero_group():
    """Unrolled differentiation through a solver differentiates the prox at zero
    groups (most groups of a group-lasso solution): the Jacobian there is 0, not NaN."""
    pen = GroupLassoPenalty(0.5, (0, 0, 1, 1))
    v = jnp.array([0.0, 0.0, 1.0, 2.0])
    forward, reverse = _prox_jacobians(pen, v, 0.5)
    np.testing.assert_array_equal(np.asarray(forward)[:2], 0.0)
    np.testing.assert_array_equal(np.asarray(reverse)[:, :2], 0.0)


@pytest.mark.parametrize("name", NAMES)
@settings(SOME, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no slow shrinking
@given(v=vectors, step=steps, zeros=masks)
def test_prox_jacobian_is_finite_and_matches_finite_differences(name, v, step, zeros):
    """Forward and reverse Jacobians of the prox in v are finite everywhere (also at
    v_g = 0 and v_j = 0), and equal central differences away from kinks."""
    pen, ref = CASES[name]
    v = np.where(zeros, 0.0, v)
    jac, jac_rev = (np.asarray(j) for j in _prox_jacobians(pen, v, step))
    assert np.all(np.isfinite(jac)) and np.all(np.isfinite(jac_rev)), jac
    np.testing.assert_allclose(jac, jac_rev, rtol=1e-12, atol=1e-14)
    h = 1e-7
    fd = np.stack([(ref.prox(v + h * e, step) - ref.prox(v - h * e, step)) / (2 * h)
                   for e in np.eye(P)], axis=1)
    # Kinks: |v_j| = step*l1_j (separable) or ||v_g|| = step*radius or 0 (groups).
    if name == "group":
        smooth = all(abs(np.linalg.norm(v[i]) - step * ref.radius(i)) > 1e-4
                     and np.linalg.norm(v[i]) > 1e-4 for i in ref.members)
    else:
        smooth = np.all(np.abs(np.abs(v) - step * ref.l1) > 1e-4) and (
            not ref.positive or np.all(np.abs(v) > 1e-4))
    if smooth:
        np.testing.assert_allclose(jac, fd, atol=1e-6)


# ---------------------------------------------------------------------------
# Pytree contract: hyperparameters are leaves, switches are static
# ---------------------------------------------------------------------------

HYPER = {
    "l1": lambda a: L1(a),
    "l1+": lambda a: L1(a, positive=True),
    "l2": lambda a: L2(a),
    "enet-alpha": lambda a: ElasticNetPenalty(a, 0.4),
    "enet-l1_ratio": lambda r: ElasticNetPenalty(0.9, r),
    "enet+": lambda a: ElasticNetPenalty(a, 0.4, positive=True),
    "wl1-scale": lambda a: WeightedL1(a * WEIGHTS),
    "group": lambda a: GroupLassoPenalty(a, GROUPS),
}
V = np.array([-2.0, 0.3, 1.0, 0.0, 5.0, -0.1, 2.0])


def _all_methods(pen, step):
    return (pen.prox(V, step), pen.value(V), pen.conjugate(0.2 * V), pen.dual_scale(V),
            pen.subdiff_distance(V, -V))


@pytest.mark.parametrize("name", list(HYPER))
def test_vmap_over_hyperparameter_equals_loop(name):
    make = HYPER[name]
    params = np.array([0.05, 0.3, 0.6, 0.95])
    batched = jax.jit(jax.vmap(lambda a: _all_methods(make(a), 0.7)))(params)
    one = jax.jit(lambda a: _all_methods(make(a), 0.7))
    for k, a in enumerate(params):
        for got, expected in zip(batched, one(a)):
            np.testing.assert_allclose(got[k], expected, rtol=1e-14)
    # ... and the loop is the penalty with a plain float hyperparameter.
    np.testing.assert_allclose(batched[0][2], make(0.6).prox(V, 0.7), rtol=1e-14)


@pytest.mark.parametrize("name", list(HYPER))
def test_grad_of_prox_with_respect_to_hyperparameter(name):
    """d/da of a smooth function of prox(v) against central differences (a where no
    coordinate sits on a kink)."""
    make = HYPER[name]
    step, a0, h = 0.7, 0.45, 1e-6
    weights = np.linspace(1.0, 2.0, P)

    def f(a):
        return jnp.sum(weights * make(a).prox(V, step) ** 2) + make(a).value(V)

    grad = jax.grad(f)(a0)
    fd = (f(a0 + h) - f(a0 - h)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7)
    assert float(grad) != 0.0


def test_grad_with_respect_to_per_feature_weights():
    step = 0.7

    def f(weights):
        return jnp.sum(WeightedL1(weights).prox(V, step) ** 2)

    w0 = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05])
    grad = np.asarray(jax.grad(f)(w0))
    # d/dλ_j of (|v_j| - step λ_j)_+^2 = -2 step (|v_j| - step λ_j)_+
    np.testing.assert_allclose(grad, -2 * step * np.maximum(np.abs(V) - step * w0, 0.0),
                               rtol=1e-12)
    batched = jax.vmap(lambda w: WeightedL1(w).prox(V, step))(np.stack([w0, 2 * w0]))
    np.testing.assert_allclose(batched[1], WeightedL1(2 * w0).prox(V, step), rtol=1e-14)


def test_no_recompilation_for_new_hyperparameter_values():
    traces = []

    @jax.jit
    def f(pen, v):
        traces.append(1)
        return pen.prox(v, 0.5)

    for a in (0.1, 0.2, 0.3):
        f(L1(jnp.asarray(a)), V)
        f(ElasticNetPenalty(jnp.asarray(a), jnp.asarray(1 - a)), V)
        f(WeightedL1(a * WEIGHTS), V)
    assert len(traces) == 3


@pytest.mark.parametrize(("pen", "leaves"), [
    (L1(0.3), [0.3]), (L1(0.3, positive=True), [0.3]),
    (L2(0.4, positive=True), [0.4]),
    (ElasticNetPenalty(0.5, 0.25, positive=True), [0.5, 0.25]),
    (WeightedL1(np.array([1.0, 2.0]), positive=True), [np.array([1.0, 2.0])]),
    (GroupLassoPenalty(0.6, (0, 0, 1)), [0.6]),
    (NoPenalty(), []),
], ids=["l1", "l1+", "l2+", "enet+", "wl1+", "group", "none"])
def test_static_fields_are_not_leaves(pen, leaves):
    got = jax.tree_util.tree_leaves(pen)
    assert len(got) == len(leaves)
    for a, b in zip(got, leaves):
        np.testing.assert_array_equal(a, b)
    # Static fields survive a tree_map that touches every leaf.
    doubled = jax.tree_util.tree_map(lambda x: 2 * x, pen)
    assert type(doubled) is type(pen)
    for field in ("positive", "groups"):
        if hasattr(pen, field):
            assert getattr(doubled, field) == getattr(pen, field)


def test_static_fields_are_part_of_the_treedef():
    structure = jax.tree_util.tree_structure
    assert structure(L1(0.3)) != structure(L1(0.3, positive=True))
    assert structure(L2(0.3)) != structure(L2(0.3, positive=True))
    assert structure(GroupLassoPenalty(0.3, (0, 1))) != structure(
        GroupLassoPenalty(0.3, (0, 0)))
    assert structure(L1(0.3)) == structure(L1(0.7))


# ---------------------------------------------------------------------------
# float32 (a supported mode): results keep the dtype of the coefficients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_out(name):
    pen, ref = CASES[name]
    if name.startswith("wl1"):
        pen = WeightedL1(WEIGHTS.astype(np.float32), positive=ref.positive)
    v = jnp.asarray(V, jnp.float32)
    results = {
        "value": pen.value(v), "prox": pen.prox(v, 0.5), "conjugate": pen.conjugate(0.1 * v),
        "dual_scale": pen.dual_scale(v), "subdiff_distance": pen.subdiff_distance(v, v),
    }
    wrong = {k: str(r.dtype) for k, r in results.items() if r.dtype != jnp.float32}
    assert not wrong, f"{type(pen).__name__} returns {wrong} for float32 input"
