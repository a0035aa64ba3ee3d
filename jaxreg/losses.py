r"""Per-sample losses :math:`\ell(y, z)` of a target ``y`` and a prediction ``z``.

Every loss is a frozen pytree whose hyperparameters (Huber's ``delta``, the
``quantile``) are leaves, so that they can be batched with :func:`jax.vmap` and
differentiated. The vocabulary (``STYLE.md``):

``value(y, z)``
    :math:`\ell(y_i, z_i)` per sample, shape ``(n_samples,)``.
``grad(y, z)``
    :math:`\partial \ell / \partial z`, same shape as ``z`` (smooth losses only).
``lipschitz``
    a bound on :math:`\partial^2 \ell / \partial z^2` (smooth losses only).
``prox(y, z, step)``
    :math:`\operatorname{argmin}_v \ell(y, v) + \|v - z\|^2 / (2\,\mathrm{step})`
    (non-smooth losses).
``conjugate(y, u)``
    the Fenchel conjugate in ``z``,
    :math:`\ell^*(y, u) = \sup_z u z - \ell(y, z)`, per sample, ``inf`` outside
    its domain.
``dual_bounds(y)``
    for losses whose conjugate lives on a box, the bounds ``(lo, hi)`` of that
    box (broadcastable to ``y``); ``None`` where the domain is the whole line.
``dual_scale(y, u)``
    the largest :math:`t \in [0, 1]` with :math:`t u` in the domain of
    :math:`\ell^*` (the domain contains 0 for every loss here).

Targets are ``(n_samples,)``; :class:`SquaredLoss` also takes
``(n_samples, n_outputs)`` and :class:`MultinomialLoss` takes integer classes
with predictions of shape ``(n_samples, n_classes)``.

The weighted mean :math:`\frac1n\sum_i s_i \ell(y_i, z_i)` is written once, in
:mod:`jaxreg.solvers._common`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxreg import _pytree

__all__ = [
    "SquaredLoss",
    "AbsoluteLoss",
    "QuantileLoss",
    "HuberLoss",
    "LogisticLoss",
    "MultinomialLoss",
]


def _per_sample(a):
    """Sum the output axis of a (n,) or (n, k) array: one value per sample."""
    return a if a.ndim <= 1 else jnp.sum(a, axis=tuple(range(1, a.ndim)))


def _box_scale(u, lo, hi):
    """Largest t in [0, 1] with t*u inside [lo, hi] (a box containing 0)."""
    safe = 1.0 - 4.0 * jnp.finfo(u.dtype).eps
    t_hi = jnp.where(u > hi, hi / jnp.where(u > hi, u, 1.0), 1.0)
    t_lo = jnp.where(u < lo, lo / jnp.where(u < lo, u, 1.0), 1.0)
    t = jnp.minimum(t_hi, t_lo)
    t = jnp.where(t < 1.0, t * safe, t)
    return jnp.clip(jnp.min(t, initial=1.0), 0.0, 1.0)


def _box_indicator(u, lo, hi):
    """0 where lo <= u <= hi (up to a few units of round-off), +inf elsewhere."""
    slack = 4.0 * jnp.finfo(jnp.result_type(u, float)).eps * (1.0 + jnp.maximum(jnp.abs(lo), jnp.abs(hi)))
    return jnp.where((u >= lo - slack) & (u <= hi + slack), 0.0, jnp.inf)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class SquaredLoss:
    r"""Squared loss (L2 loss, least squares).

    .. math:: \ell(y, z) = \tfrac12 (y - z)^2, \qquad
              \ell^*(y, u) = u y + \tfrac12 u^2 .

    With a 2-D target ``y`` of shape (n_samples, n_outputs) the loss is summed
    over outputs (multi-output least squares, coefficient matrix of shape
    (n_features, n_outputs)).

    Examples
    --------
    >>> SquaredLoss().value(jnp.array([1.0]), jnp.array([3.0]))
    Array([2.], dtype=float64)
    """

    lipschitz = 1.0
    smooth = True

    def value(self, y, z):
        return _per_sample(0.5 * (y - z) ** 2)

    def grad(self, y, z):
        return z - y

    def conjugate(self, y, u):
        return _per_sample(u * y + 0.5 * u**2)

    def dual_bounds(self, y):
        return None

    def dual_scale(self, y, u):
        return jnp.ones((), u.dtype)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class HuberLoss:
    r"""Huber loss of the residual :math:`r = y - z`.

    .. math::
        \ell(y, z) = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\
                     \delta (|r| - \delta/2) & |r| > \delta \end{cases},
        \qquad \ell^*(y, u) = u y + \tfrac12 u^2 \text{ on } |u| \le \delta .

    Parameters
    ----------
    delta : float, default=1.0
        Threshold :math:`\delta > 0` between the quadratic and the linear part
        (a pytree leaf).
    """

    delta: jax.Array = 1.0
    lipschitz = 1.0
    smooth = True

    def value(self, y, z):
        r = jnp.abs(z - y)
        return 0.5 * jnp.minimum(r, self.delta) * (r + jnp.maximum(r - self.delta, 0.0))

    def grad(self, y, z):
        return jnp.clip(z - y, -self.delta, self.delta)

    def conjugate(self, y, u):
        return u * y + 0.5 * u**2 + _box_indicator(u, -self.delta, self.delta)

    def dual_bounds(self, y):
        return -self.delta, self.delta

    def dual_scale(self, y, u):
        return _box_scale(u, -self.delta, self.delta)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class QuantileLoss:
    r"""Quantile (pinball) loss of the residual :math:`r = y - z`.

    .. math::
        \ell(y, z) = \rho_\tau(r) = \max(\tau r, (\tau - 1) r), \qquad
        \ell^*(y, u) = u y \text{ on } -\tau \le u \le 1 - \tau .

    ``QuantileLoss(0.5)`` is half the absolute loss. Non-smooth: solved by
    :func:`jaxreg.solvers.primal_dual`.

    Parameters
    ----------
    quantile : float, default=0.5
        The quantile :math:`\tau \in (0, 1)` (a pytree leaf).
    """

    quantile: jax.Array = 0.5
    smooth = False

    def value(self, y, z):
        r = y - z
        return jnp.maximum(self.quantile * r, (self.quantile - 1.0) * r)

    def prox(self, y, z, step):
        # argmin_v rho_tau(y - v) + (v - z)^2 / (2 step): shift z towards y by
        # step*tau from below and step*(1 - tau) from above, stopping at y.
        r = z - y
        return y + jnp.where(
            r > step * (1.0 - self.quantile),
            r - step * (1.0 - self.quantile),
            jnp.where(r < -step * self.quantile, r + step * self.quantile, 0.0),
        )

    def conjugate(self, y, u):
        return u * y + _box_indicator(u, -self.quantile, 1.0 - self.quantile)

    def dual_bounds(self, y):
        return -self.quantile, 1.0 - self.quantile

    def dual_scale(self, y, u):
        return _box_scale(u, -self.quantile, 1.0 - self.quantile)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class AbsoluteLoss:
    r"""Absolute loss (L1 loss, least absolute deviations).

    .. math:: \ell(y, z) = |y - z|, \qquad \ell^*(y, u) = u y \text{ on } |u| \le 1 .

    Non-smooth: solved by :func:`jaxreg.solvers.primal_dual`.
    """

    smooth = False

    def value(self, y, z):
        return jnp.abs(y - z)

    def prox(self, y, z, step):
        r = z - y
        return y + jnp.sign(r) * jnp.maximum(jnp.abs(r) - step, 0.0)

    def conjugate(self, y, u):
        return u * y + _box_indicator(u, -1.0, 1.0)

    def dual_bounds(self, y):
        return -1.0, 1.0

    def dual_scale(self, y, u):
        return _box_scale(u, -1.0, 1.0)


def _xlogx(a):
    return jnp.where(a > 0.0, a * jnp.log(jnp.where(a > 0.0, a, 1.0)), 0.0)


@_pytree.register
@dataclasses.dataclass(frozen=True)
class LogisticLoss:
    r"""Binary logistic loss, labels :math:`y \in \{-1, +1\}`.

    .. math::
        \ell(y, z) = \log(1 + e^{-y z}), \qquad
        \ell^*(y, u) = a \log a + (1 - a) \log(1 - a), \quad a = -y u \in [0, 1] .
    """

    lipschitz = 0.25
    smooth = True

    def value(self, y, z):
        return jnp.logaddexp(0.0, -y * z)

    def grad(self, y, z):
        return -y * jax.nn.sigmoid(-y * z)

    def conjugate(self, y, u):
        a = -y * u
        return _xlogx(a) + _xlogx(1.0 - a) + _box_indicator(a, 0.0, 1.0)

    def dual_bounds(self, y):
        # -y u in [0, 1]: u in [-1, 0] for y = +1 and [0, 1] for y = -1.
        return jnp.minimum(-y, 0.0), jnp.maximum(-y, 0.0)

    def dual_scale(self, y, u):
        # A wrong sign cannot be scaled into the box: _box_scale gives t = 0.
        return _box_scale(u, *self.dual_bounds(y))


@_pytree.register
@dataclasses.dataclass(frozen=True)
class MultinomialLoss:
    r"""Multinomial logistic (softmax cross-entropy) loss, integer classes.

    Predictions ``z`` have shape (n_samples, n_classes); ``y`` holds class
    indices in ``0, ..., n_classes - 1``.

    .. math::
        \ell(y, z) = \log \sum_k e^{z_k} - z_y, \qquad
        \ell^*(y, u) = \sum_k p_k \log p_k, \quad p = u + e_y \in \Delta_K ,

    (``inf`` unless ``p`` lies in the probability simplex).

    Parameters
    ----------
    n_classes : int or None, default=None
        Number of classes :math:`K` (static). :func:`jaxreg.solve` infers it
        from ``y`` when called outside ``jit``; give it under ``jit``.
    """

    n_classes: int | None = dataclasses.field(default=None, metadata=dict(static=True))
    lipschitz = 0.5
    smooth = True

    def value(self, y, z):
        return jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(
            z, y[:, None].astype(jnp.int32), axis=-1
        )[:, 0]

    def grad(self, y, z):
        return jax.nn.softmax(z, axis=-1) - jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype)

    def conjugate(self, y, u):
        p = u + jax.nn.one_hot(y, u.shape[-1], dtype=u.dtype)
        eps = 64 * jnp.finfo(u.dtype).eps
        feasible = jnp.all(p >= 0.0, axis=-1) & (jnp.abs(jnp.sum(u, axis=-1)) <= eps)
        return jnp.sum(_xlogx(p), axis=-1) + jnp.where(feasible, 0.0, jnp.inf)

    def dual_bounds(self, y):
        return None

    def dual_scale(self, y, u):
        # p = e_y + t u >= 0: the entry of the true class may go down to -1,
        # the others to 0 (a negative one there gives t = 0).
        # Rows off the hyperplane sum_k u_k = 0 admit only t = 0.
        onehot = jax.nn.one_hot(y, u.shape[-1], dtype=u.dtype)
        eps = 64 * jnp.finfo(u.dtype).eps
        on_plane = jnp.all(jnp.abs(jnp.sum(u, axis=-1)) <= eps)
        return jnp.where(on_plane, _box_scale(u, -onehot, jnp.inf), 0.0)
