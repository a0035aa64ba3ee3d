r"""Penalties :math:`P(w)` on the coefficients (never on the intercept).

Every penalty is a frozen pytree: its hyperparameters (``alpha``, ``l1_ratio``,
per-feature ``weights``) are leaves, so that a grid of them can be solved with
:func:`jax.vmap` and differentiated; switches (``positive``, ``groups``) are
static. The vocabulary (``STYLE.md``):

``value(w)``
    :math:`P(w)`.
``prox(v, step)``
    :math:`\operatorname{prox}_{\mathrm{step}\,P}(v) =
    \operatorname{argmin}_w \|w - v\|^2 / (2\,\mathrm{step}) + P(w)`.
``conjugate(v)``
    :math:`P^*(v) = \sup_w v^\top w - P(w)` (``inf`` outside its domain).
``dual_scale(v)``
    the largest :math:`t \in (0, 1]` with :math:`t v` in the domain of
    :math:`P^*`, ignoring the unpenalized coordinates (the solvers project
    those to zero first).
``unpenalized()``
    a boolean mask of unpenalized coordinates, or ``None`` when there are none
    (a static property of the class).
``subdiff_distance(w, grad)``
    per coordinate, the distance from :math:`-\mathrm{grad}` to
    :math:`\partial P(w)`: zero at a KKT point of the penalized problem.
``coordinate(j)``
    the one-dimensional penalty acting on coordinate ``j`` (separable
    penalties only; used by coordinate descent).

``w`` may be a vector (n_features,) or a matrix (n_features, n_outputs); the
penalties act entrywise (the group lasso acts on groups of rows).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxreg import _pytree

__all__ = ["L1", "L2", "ElasticNetPenalty", "WeightedL1", "GroupLassoPenalty", "NoPenalty"]

_static = dict(static=True)


def _soft_threshold(v, threshold, positive=False):
    r"""Soft-thresholding :math:`\operatorname{sign}(v)\max(|v| - \tau, 0)`.

    With ``positive=True``, the projection onto :math:`w \ge 0` follows:
    :math:`\max(v - \tau, 0)`.
    """
    if positive:
        return jnp.maximum(v - threshold, 0.0)
    return jnp.sign(v) * jnp.maximum(jnp.abs(v) - threshold, 0.0)


def _safe_shrink(dtype):
    """Factor just below 1 so that a rescaled point lands inside a closed set."""
    return 1.0 - 4.0 * jnp.finfo(dtype).eps


def _within(value, bound):
    """``value <= bound`` up to a few units of round-off of ``bound``.

    Indicator conjugates use it so that a point computed exactly on the
    boundary (e.g. ``(v - prox(v)) / step``) counts as inside.
    """
    value = jnp.asarray(value)
    return value <= bound + 4.0 * jnp.finfo(value.dtype).eps * jnp.abs(bound)


def _indicator(inside, dtype):
    """0 where ``inside`` holds, +inf elsewhere, in ``dtype``."""
    return jnp.where(inside, jnp.zeros((), dtype), jnp.asarray(jnp.inf, dtype))


def _ball_scale(norm, radius):
    r"""Largest :math:`t \le 1` with :math:`t\,\mathrm{norm} \le \mathrm{radius}`.

    ``norm`` and ``radius`` are arrays; coordinates with radius ``inf`` do not
    bind.
    """
    norm = jnp.asarray(norm)
    ratio = jnp.where(norm > radius, radius / jnp.where(norm > radius, norm, 1.0), 1.0)
    t = jnp.min(ratio, initial=1.0)
    return jnp.where(t < 1.0, t * _safe_shrink(norm.dtype), t)


def _l1_subdiff_distance(w, grad, alpha, positive):
    """Distance from -grad to alpha * d|w| (entrywise), with w >= 0 if positive."""
    if positive:
        return jnp.where(w > 0, jnp.abs(grad + alpha), jnp.maximum(-grad - alpha, 0.0))
    return jnp.where(
        w != 0, jnp.abs(grad + alpha * jnp.sign(w)), jnp.maximum(jnp.abs(grad) - alpha, 0.0)
    )


@_pytree.register
@dataclasses.dataclass(frozen=True)
class L1:
    r"""Lasso penalty.

    .. math:: P(w) = \alpha \|w\|_1, \qquad
              P^*(v) = \iota\{\|v\|_\infty \le \alpha\}

    (with ``positive=True``: :math:`P(w) = \alpha\|w\|_1 + \iota\{w \ge 0\}` and
    :math:`P^*(v) = \iota\{v \le \alpha\}`).

    Parameters
    ----------
    alpha : float
        Regularization strength :math:`\alpha \ge 0` (a pytree leaf).
    positive : bool, default=False
        Constrain the coefficients to be non-negative (static).

    Examples
    --------
    >>> L1(0.5).prox(jnp.array([-2.0, 0.2, 1.0]), 1.0)
    Array([-1.5,  0. ,  0.5], dtype=float64)
    """

    alpha: jax.Array
    positive: bool = dataclasses.field(default=False, metadata=_static)

    def value(self, w):
        return self.alpha * jnp.sum(jnp.abs(w))

    def prox(self, v, step):
        return _soft_threshold(v, step * self.alpha, self.positive)

    def conjugate(self, v):
        bound = v if self.positive else jnp.abs(v)
        return _indicator(jnp.all(_within(bound, self.alpha)), jnp.result_type(v))

    def dual_scale(self, v):
        bound = jnp.maximum(v, 0.0) if self.positive else jnp.abs(v)
        return _ball_scale(bound, self.alpha)

    def unpenalized(self):
        return None

    def subdiff_distance(self, w, grad):
        return _l1_subdiff_distance(w, grad, self.alpha, self.positive)

    def coordinate(self, j):
        return self


@_pytree.register
@dataclasses.dataclass(frozen=True)
class L2:
    r"""Ridge penalty.

    .. math:: P(w) = \frac{\alpha}{2}\|w\|_2^2, \qquad
              P^*(v) = \frac{1}{2\alpha}\|v\|_2^2

    (with ``positive=True``: :math:`P^*(v) = \|\max(v, 0)\|_2^2 / (2\alpha)`).
    scikit-learn's ``Ridge(alpha)`` on ``n`` samples is ``L2(alpha / n)`` with
    :class:`~jaxreg.losses.SquaredLoss` (the conversion lives in the estimators).

    Parameters
    ----------
    alpha : float
        Regularization strength :math:`\alpha \ge 0` (a pytree leaf).
    positive : bool, default=False
        Constrain the coefficients to be non-negative (static).

    Examples
    --------
    >>> L2(1.0).prox(jnp.array([2.0, -4.0]), 1.0)
    Array([ 1., -2.], dtype=float64)
    """

    alpha: jax.Array
    positive: bool = dataclasses.field(default=False, metadata=_static)

    def value(self, w):
        return 0.5 * self.alpha * jnp.sum(w**2)

    def prox(self, v, step):
        v = jnp.maximum(v, 0.0) if self.positive else v
        return v / (1.0 + step * self.alpha)

    def conjugate(self, v):
        v = jnp.maximum(v, 0.0) if self.positive else v
        # alpha = 0 is the unpenalized case: P* is the indicator of {0}.
        return jnp.sum(jnp.where(v == 0, 0.0, v**2 / (2.0 * self.alpha)))

    def dual_scale(self, v):
        # alpha = 0: only t = 0 puts t v in {0} (unless v = 0 already).
        v = jnp.maximum(v, 0.0) if self.positive else v
        one = jnp.ones((), jnp.result_type(v))
        return jnp.where((self.alpha > 0) | jnp.all(v == 0), one, 0.0 * one)

    def unpenalized(self):
        return None

    def subdiff_distance(self, w, grad):
        g = grad + self.alpha * w
        if self.positive:
            return jnp.where(w > 0, jnp.abs(g), jnp.maximum(-g, 0.0))
        return jnp.abs(g)

    def coordinate(self, j):
        return self


@_pytree.register
@dataclasses.dataclass(frozen=True)
class ElasticNetPenalty:
    r"""Elastic-net penalty, scikit-learn's parametrization.

    .. math::
        P(w) = \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|_2^2, \qquad
        P^*(v) = \sum_j \frac{(|v_j| - \alpha\rho)_+^2}{2\alpha(1-\rho)}

    (for :math:`\rho = 1`, the lasso's indicator of :math:`\|v\|_\infty \le \alpha`).

    Parameters
    ----------
    alpha : float
        Regularization strength :math:`\alpha \ge 0` (a pytree leaf).
    l1_ratio : float, default=0.5
        Mixing parameter :math:`\rho \in [0, 1]` (a pytree leaf).
    positive : bool, default=False
        Constrain the coefficients to be non-negative (static).
    """

    alpha: jax.Array
    l1_ratio: jax.Array = 0.5
    positive: bool = dataclasses.field(default=False, metadata=_static)

    def _split(self):
        return self.alpha * self.l1_ratio, self.alpha * (1.0 - self.l1_ratio)

    def value(self, w):
        a1, a2 = self._split()
        return a1 * jnp.sum(jnp.abs(w)) + 0.5 * a2 * jnp.sum(w**2)

    def prox(self, v, step):
        a1, a2 = self._split()
        return _soft_threshold(v, step * a1, self.positive) / (1.0 + step * a2)

    def conjugate(self, v):
        a1, a2 = self._split()
        excess = jnp.maximum((v if self.positive else jnp.abs(v)) - a1, 0.0)
        quadratic = jnp.sum(jnp.where(excess == 0, 0.0, excess**2 / (2.0 * a2)))
        return quadratic

    def dual_scale(self, v):
        a1, a2 = self._split()
        bound = jnp.maximum(v, 0.0) if self.positive else jnp.abs(v)
        return jnp.where(a2 > 0, jnp.ones((), bound.dtype), _ball_scale(bound, a1))

    def unpenalized(self):
        return None

    def subdiff_distance(self, w, grad):
        a1, a2 = self._split()
        return _l1_subdiff_distance(w, grad + a2 * w, a1, self.positive)

    def coordinate(self, j):
        return self


@_pytree.register
@dataclasses.dataclass(frozen=True)
class WeightedL1:
    r"""Weighted lasso penalty with one weight per feature.

    .. math:: P(w) = \sum_j \lambda_j |w_j|, \qquad
              P^*(v) = \iota\{|v_j| \le \lambda_j \ \forall j\}

    A zero weight leaves its feature unpenalized.

    Parameters
    ----------
    weights : array of shape (n_features,)
        The :math:`\lambda_j \ge 0` (a pytree leaf).
    positive : bool, default=False
        Constrain the coefficients to be non-negative (static).
    """

    weights: jax.Array
    positive: bool = dataclasses.field(default=False, metadata=_static)

    def _broadcast(self, w):
        weights = jnp.asarray(self.weights)
        return weights.reshape(weights.shape + (1,) * (jnp.ndim(w) - weights.ndim))

    def value(self, w):
        return jnp.sum(self._broadcast(w) * jnp.abs(w))

    def prox(self, v, step):
        return _soft_threshold(v, step * self._broadcast(v), self.positive)

    def conjugate(self, v):
        bound = v if self.positive else jnp.abs(v)
        return _indicator(jnp.all(_within(bound, self._broadcast(v))), jnp.result_type(v))

    def dual_scale(self, v):
        weights = self._broadcast(v)
        bound = jnp.maximum(v, 0.0) if self.positive else jnp.abs(v)
        return _ball_scale(jnp.where(weights > 0, bound, 0.0), weights)

    def unpenalized(self):
        return jnp.asarray(self.weights) == 0

    def subdiff_distance(self, w, grad):
        return _l1_subdiff_distance(w, grad, self._broadcast(w), self.positive)

    def coordinate(self, j):
        return L1(jnp.asarray(self.weights)[j], positive=self.positive)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class GroupLassoPenalty:
    r"""Group lasso penalty.

    .. math::
        P(w) = \alpha \sum_g \sqrt{|g|}\, \|w_g\|_2, \qquad
        P^*(v) = \iota\{\|v_g\|_2 \le \alpha\sqrt{|g|} \ \forall g\}

    Parameters
    ----------
    alpha : float
        Regularization strength :math:`\alpha \ge 0` (a pytree leaf).
    groups : tuple of int
        The group index (``0, ..., n_groups - 1``) of every feature (static;
        one group is the unsquared Euclidean norm).

    Examples
    --------
    >>> GroupLassoPenalty(1.0, groups=(0, 0)).value(jnp.array([3.0, 4.0]))
    Array(7.07106781, dtype=float64)
    """

    alpha: jax.Array
    groups: tuple = dataclasses.field(default=(), metadata=_static)

    @property
    def _n_groups(self):
        return max(self.groups) + 1

    def _group_sizes(self, dtype):
        ids = jnp.asarray(self.groups)
        return jax.ops.segment_sum(jnp.ones(len(self.groups), dtype), ids, self._n_groups)

    def _group_norms(self, w):
        # Scaled by the group's largest entry (no underflow of tiny groups) and
        # square-rooted only where positive (a finite derivative at w_g = 0).
        ids = jnp.asarray(self.groups)
        largest = jnp.abs(w) if w.ndim == 1 else jnp.max(jnp.abs(w), axis=tuple(range(1, w.ndim)))
        scale = jax.ops.segment_max(largest, ids, self._n_groups)
        scale = jnp.where(scale > 0, scale, 1.0)
        scaled = w / self._per_feature(scale, w)
        squares = scaled**2 if w.ndim == 1 else jnp.sum(scaled**2, axis=tuple(range(1, w.ndim)))
        sums = jax.ops.segment_sum(squares, ids, self._n_groups)
        return jnp.where(sums > 0, scale * jnp.sqrt(jnp.where(sums > 0, sums, 1.0)), 0.0)

    def _radius(self, dtype):
        return self.alpha * jnp.sqrt(self._group_sizes(dtype))

    def _per_feature(self, per_group, w):
        per_feature = per_group[jnp.asarray(self.groups)]
        return per_feature.reshape(per_feature.shape + (1,) * (w.ndim - 1))

    def value(self, w):
        return jnp.sum(self._radius(w.dtype) * self._group_norms(w))

    def prox(self, v, step):
        norms = self._group_norms(v)
        threshold = step * self._radius(v.dtype)
        shrink = norms > threshold
        factor = jnp.where(shrink, 1.0 - threshold / jnp.where(shrink, norms, 1.0), 0.0)
        return v * self._per_feature(factor, v)

    def conjugate(self, v):
        inside = _within(self._group_norms(v), self._radius(v.dtype))
        return _indicator(jnp.all(inside), jnp.result_type(v))

    def dual_scale(self, v):
        return _ball_scale(self._group_norms(v), self._radius(v.dtype))

    def unpenalized(self):
        return None

    def subdiff_distance(self, w, grad):
        # Per group: ||grad_g + r_g w_g / ||w_g|| || if w_g != 0, else
        # max(||grad_g|| - r_g, 0); reported on every feature of the group.
        norms = self._group_norms(w)
        radius = self._radius(w.dtype)
        direction = w / self._per_feature(jnp.where(norms > 0, norms, 1.0), w)
        residual = self._group_norms(grad + self._per_feature(radius, w) * direction)
        inactive = jnp.maximum(self._group_norms(grad) - radius, 0.0)
        per_group = jnp.where(norms > 0, residual, inactive)
        return self._per_feature(per_group, w) * jnp.ones_like(w)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class NoPenalty:
    r"""No penalty: :math:`P = 0`, :math:`P^*(v) = \iota\{v = 0\}`.

    ``jaxreg.solve(..., penalty=None)`` uses it; every coordinate is
    unpenalized.
    """

    def value(self, w):
        return jnp.zeros((), jnp.result_type(w))

    def prox(self, v, step):
        return v

    def conjugate(self, v):
        return _indicator(jnp.all(v == 0), jnp.result_type(v))

    def dual_scale(self, v):
        return jnp.ones((), jnp.result_type(v))

    def unpenalized(self):
        return True

    def subdiff_distance(self, w, grad):
        return jnp.abs(grad)

    def coordinate(self, j):
        return self
