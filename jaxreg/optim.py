r"""Regularization inside optax optimizers: L2 in the gradient, decoupled weight
decay, and proximal steps that give exact zeros.

Three places a penalty can enter an optax chain, for a base optimizer that maps
the gradient :math:`g_t = \nabla f(w_{t-1})` to an update :math:`u_t`
(:math:`w_t = w_{t-1} + u_t`):

**L2 in the gradient** (:func:`l2_gradient`, :func:`l2_regularized`): the
gradient of :math:`f + \frac{\alpha}{2}\|w\|^2` goes *into* the optimizer,

.. math:: u_t = \mathrm{opt}(g_t + \alpha w_{t-1}).

**Decoupled weight decay** (:func:`decoupled_weight_decay`, AdamW/SGDW): the
decay is added to the step that *comes out* of the optimizer,

.. math:: u_t = \mathrm{opt}(g_t) - c_t \lambda w_{t-1},

with :math:`c_t = \eta_t` (the learning rate, optax's ``adamw`` convention) or
:math:`c_t` the schedule multiplier alone (the AdamW paper's convention).

**Proximal step** (:func:`proximal`, :func:`prox_l1`, :func:`prox_elastic_net`):
the step of the base optimizer is followed by the proximal operator of the
penalty with the same learning rate,

.. math:: w_t = \operatorname{prox}_{\eta_t P}(w_{t-1} + \mathrm{opt}(g_t)),

which for :math:`P = \alpha\|\cdot\|_1` is soft-thresholding at
:math:`\eta_t\alpha` and sets weights exactly to zero.

Where they coincide (``docs/optax.md`` has the derivations and measurements):

=====================  ==========================================================
base optimizer         L2 in the gradient vs decoupled decay
=====================  ==========================================================
SGD                    equal, with :math:`\alpha = c_t\lambda/\eta_t`
SGD + momentum         equal if the decay enters *before* the momentum trace
                       (that is L2 in the gradient); different after it (SGDW)
Adam (any adaptive)    different: under L2 weight :math:`j` decays by about
                       :math:`\eta\alpha/(\sqrt{\hat v_j}+\epsilon)` per step,
                       under AdamW by :math:`c_t\lambda` for every weight
=====================  ==========================================================

Every factory returns an ``optax.GradientTransformation`` (its ``update`` needs
``params``), works under :func:`jax.jit`, and takes a ``mask`` (a pytree of
booleans, or a function of the parameters returning one, as in
``optax.masked``) to leave some parameter groups alone; :func:`matrix_mask`
is the usual one (no decay on biases and normalization scales).

Examples
--------
>>> import optax
>>> params = {"w": jnp.array([[0.3, -2.0]]), "b": jnp.array([1.0])}
>>> tx = optax.chain(optax.sgd(0.5), prox_l1(1.0, learning_rate=0.5, mask=matrix_mask))
>>> grads = {"w": jnp.array([[0.0, 0.0]]), "b": jnp.array([0.0])}
>>> updates, _ = tx.update(grads, tx.init(params), params)
>>> optax.apply_updates(params, updates)["w"]
Array([[ 0. , -1.5]], dtype=float64)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxreg import penalties as _penalties
from jaxreg._validation import check_parameter

__all__ = [
    "l2_gradient", "l2_regularized", "decoupled_weight_decay",
    "proximal", "prox_l1", "prox_elastic_net", "ProximalState", "matrix_mask",
]


def _check_learning_rate(owner, learning_rate, name="learning_rate"):
    """A float must be > 0; a schedule (callable) is trusted."""
    if not callable(learning_rate):
        check_parameter(owner, name, learning_rate, low=0.0, low_open=True)


def _check_alpha(owner, alpha, name="alpha"):
    if not callable(alpha):
        check_parameter(owner, name, alpha, low=0.0)


def matrix_mask(params):
    """Mask that is ``True`` on leaves with ``ndim >= 2`` (weight matrices, kernels).

    Vectors and scalars (biases, layer-norm and batch-norm scales and offsets)
    get ``False``: the usual choice of which parameters to decay or threshold.

    Parameters
    ----------
    params : pytree of arrays

    Returns
    -------
    mask : pytree of bool with the structure of ``params``

    Examples
    --------
    >>> matrix_mask({"w": jnp.ones((3, 2)), "b": jnp.ones(2)})
    {'b': False, 'w': True}
    """
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def l2_gradient(alpha, *, mask=None):
    r"""Add :math:`\alpha w` to the gradient: L2 regularization, before an optimizer.

    .. math:: g \leftarrow g + \alpha w = \nabla_w \Big[f(w) + \frac{\alpha}{2}\|w\|_2^2\Big]

    Placed in front of any optimizer (``optax.chain(l2_gradient(alpha), opt)``,
    or :func:`l2_regularized`) it gives the optimizer the gradient of the
    L2-regularized loss, the same as adding ``(alpha / 2) * sum(w**2)`` to the
    loss (jaxreg's ``L2(alpha)``). The arithmetic is that of
    ``optax.add_decayed_weights(alpha)``; what makes it "L2 regularization"
    rather than "weight decay" is its position *before* the optimizer.

    Parameters
    ----------
    alpha : float or optax schedule
        :math:`\alpha \ge 0`; a schedule is evaluated at the update count.
    mask : pytree of bool or callable, default=None
        Which leaves to regularize (``optax.masked``'s convention); ``None``:
        all of them.

    Returns
    -------
    optax.GradientTransformation

    Raises
    ------
    ValueError
        If ``alpha`` is negative.

    Examples
    --------
    >>> tx = l2_gradient(0.1)
    >>> w = jnp.array([1.0, -2.0])
    >>> tx.update(jnp.zeros(2), tx.init(w), w)[0]
    Array([ 0.1, -0.2], dtype=float64)
    """
    _check_alpha("l2_gradient", alpha)
    return optax.add_decayed_weights(alpha, mask)


def l2_regularized(optimizer, alpha, *, mask=None):
    r"""``optimizer`` run on the gradient of the L2-regularized loss.

    .. math:: u_t = \mathrm{opt}\big(\nabla f(w_{t-1}) + \alpha w_{t-1}\big)

    For the common optimizers (:math:`\eta_t` the learning rate,
    :math:`\tilde g_t = \nabla f(w_{t-1}) + \alpha w_{t-1}`):

    - ``optax.sgd(eta)``: :math:`w_t = (1 - \eta_t\alpha) w_{t-1} - \eta_t\nabla f(w_{t-1})`
      (each step shrinks the weights by :math:`1 - \eta_t\alpha`);
    - ``optax.sgd(eta, momentum=mu)``: :math:`b_t = \mu b_{t-1} + \tilde g_t`,
      :math:`w_t = w_{t-1} - \eta_t b_t` (the decay passes through the momentum
      trace); with ``nesterov=True``, :math:`w_t = w_{t-1} - \eta_t(\mu b_t + \tilde g_t)`;
    - ``optax.adam(eta)``: :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1)\tilde g_t`,
      :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2)\tilde g_t^2`,
      :math:`w_t = w_{t-1} - \eta_t \hat m_t / (\sqrt{\hat v_t} + \epsilon)`
      with :math:`\hat m_t = m_t/(1-\beta_1^t)`, :math:`\hat v_t = v_t/(1-\beta_2^t)`:
      the decay of weight :math:`j` is divided by :math:`\sqrt{\hat v_{t,j}}+\epsilon`,
      so weights with a large gradient history are regularized less.

    Parameters
    ----------
    optimizer : optax.GradientTransformation
        Any optax optimizer (``optax.sgd``, ``optax.adam``, ...), learning
        rate included.
    alpha : float or optax schedule
        :math:`\alpha \ge 0`, in the units of the loss (jaxreg's ``L2(alpha)``).
    mask : pytree of bool or callable, default=None
        Leaves to regularize; ``None``: all.

    Returns
    -------
    optax.GradientTransformation
        ``optax.chain(l2_gradient(alpha, mask=mask), optimizer)``.

    Examples
    --------
    >>> import optax
    >>> tx = l2_regularized(optax.sgd(0.5), 0.5)
    >>> w = jnp.array([4.0])
    >>> tx.update(jnp.zeros(1), tx.init(w), w)[0]   # w <- (1 - 0.25) w
    Array([-1.], dtype=float64)
    """
    return optax.chain(l2_gradient(alpha, mask=mask), optimizer)


def decoupled_weight_decay(optimizer, weight_decay, *, learning_rate=None,
                           schedule_multiplier=None, mask=None):
    r"""``optimizer`` followed by decoupled weight decay (SGDW, AdamW).

    .. math:: u_t = \mathrm{opt}\big(\nabla f(w_{t-1})\big) - c_t \lambda w_{t-1}

    Give exactly one of the two couplings of :math:`c_t`:

    ``learning_rate=eta`` (optax's convention)
        :math:`c_t = \eta_t`, the learning rate (a float or the same schedule
        given to ``optimizer``): the decay is multiplied by the learning rate,
        as in ``optax.adamw(eta, weight_decay=lam)`` (which
        ``decoupled_weight_decay(optax.adam(eta), lam, learning_rate=eta)``
        reproduces) and PyTorch's ``AdamW``. The per-step shrink is
        :math:`\eta_t\lambda`.
    ``schedule_multiplier=s`` (the AdamW paper's convention)
        :math:`c_t = s_t`, the schedule multiplier alone (``1.0`` for a constant
        learning rate): Loshchilov & Hutter's Algorithms 1 and 2,
        :math:`w_t = w_{t-1} - s_t(\alpha\,d_t + \lambda w_{t-1})` with the
        optimizer's learning rate :math:`\eta_t = \alpha s_t`. The per-step
        shrink :math:`s_t\lambda` does not depend on :math:`\alpha`.
        Optax's :math:`\lambda` is the paper's divided by :math:`\alpha`.

    For the common optimizers (:math:`g_t = \nabla f(w_{t-1})`):

    - ``optax.sgd(eta)``: :math:`w_t = (1 - c_t\lambda) w_{t-1} - \eta_t g_t`:
      the same trajectory as :func:`l2_regularized` with
      :math:`\alpha = c_t\lambda/\eta_t` (:math:`\alpha = \lambda` with optax's
      coupling, :math:`\alpha = \lambda/\alpha_{\mathrm{lr}}` with the paper's);
    - ``optax.sgd(eta, momentum=mu)`` (SGDW): :math:`b_t = \mu b_{t-1} + g_t`,
      :math:`w_t = w_{t-1} - \eta_t b_t - c_t\lambda w_{t-1}`: the decay does
      not pass through the momentum trace, which makes it differ from L2 (the
      paper writes :math:`m_t = \beta_1 m_{t-1} + \eta_t g_t`,
      :math:`w_t = w_{t-1} - m_t - c_t\lambda w_{t-1}`, identical for a constant
      learning rate; optax applies a schedule outside the trace);
    - ``optax.adam(eta)`` (AdamW): :math:`w_t = w_{t-1} - \eta_t \hat m_t /
      (\sqrt{\hat v_t}+\epsilon) - c_t\lambda w_{t-1}`, moments of :math:`g_t`
      alone: every weight decays by the same :math:`c_t\lambda` per step.

    Parameters
    ----------
    optimizer : optax.GradientTransformation
        Any optax optimizer, learning rate included.
    weight_decay : float
        :math:`\lambda \ge 0`.
    learning_rate : float or optax schedule, default=None
        Optax's coupling: the learning rate given to ``optimizer``.
    schedule_multiplier : float or optax schedule, default=None
        The paper's coupling: the schedule multiplier :math:`s_t` (> 0).
    mask : pytree of bool or callable, default=None
        Leaves to decay; ``None``: all (:func:`matrix_mask`: no biases, norms).

    Returns
    -------
    optax.GradientTransformation
        ``optax.chain(optimizer, optax.add_decayed_weights(-lam * c, mask))``
        (a schedule :math:`c` is evaluated at the update count, which is the
        optimizer's own count when both start together).

    Raises
    ------
    ValueError
        If ``weight_decay`` is negative, the learning rate or multiplier is not
        positive, or not exactly one coupling is given.

    Examples
    --------
    >>> import optax
    >>> w = jnp.array([1.0])
    >>> tx = decoupled_weight_decay(optax.sgd(0.1), 0.5, learning_rate=0.1)
    >>> tx.update(jnp.zeros(1), tx.init(w), w)[0]   # -0.1 * 0.5 * w
    Array([-0.05], dtype=float64)
    >>> tx = decoupled_weight_decay(optax.sgd(0.1), 0.5, schedule_multiplier=1.0)
    >>> tx.update(jnp.zeros(1), tx.init(w), w)[0]   # -0.5 * w
    Array([-0.5], dtype=float64)
    """
    owner = "decoupled_weight_decay"
    if (learning_rate is None) == (schedule_multiplier is None):
        raise ValueError(
            f"{owner} needs exactly one coupling of the decay: learning_rate= (optax's "
            "convention, the decay is multiplied by the learning rate, as in optax.adamw) "
            "or schedule_multiplier= (the AdamW paper's, e.g. 1.0 for a constant learning "
            f"rate). Got learning_rate={learning_rate!r}, "
            f"schedule_multiplier={schedule_multiplier!r}.")
    check_parameter(owner, "weight_decay", weight_decay, low=0.0)
    if learning_rate is not None:
        _check_learning_rate(owner, learning_rate)
        multiplier = learning_rate
    else:
        _check_learning_rate(owner, schedule_multiplier, name="schedule_multiplier")
        multiplier = schedule_multiplier
    if callable(multiplier):
        def decay(count):
            return -weight_decay * multiplier(count)
    else:
        decay = -weight_decay * multiplier
    return optax.chain(optimizer, optax.add_decayed_weights(decay, mask))


class ProximalState(NamedTuple):
    """State of :func:`proximal`: the number of updates so far (for schedules)."""

    count: jax.Array  # () int32


def proximal(penalty, learning_rate, *, mask=None):
    r"""Turn the preceding optimizer's update into a proximal step on ``penalty``.

    .. math:: w_t = \operatorname{prox}_{\eta_t P}(w_{t-1} + u_t), \qquad
              \operatorname{prox}_{\eta P}(v) = \operatorname{argmin}_w
              \frac{1}{2\eta}\|w - v\|^2 + P(w)

    where :math:`u_t` is the update of the transformations before it in an
    ``optax.chain`` (the base optimizer) and :math:`\eta_t` the learning rate
    that optimizer applied. The returned update is
    :math:`\operatorname{prox}_{\eta_t P}(w_{t-1} + u_t) - w_{t-1}`, so that
    ``optax.apply_updates`` lands on the proximal point; where the prox is zero
    the update is :math:`-w_{t-1}` and the weight becomes exactly ``0.0``.

    What the chain computes depends on the base optimizer (:math:`F = f + P`):

    - ``optax.sgd(eta)``: :math:`w_t = \operatorname{prox}_{\eta P}(w_{t-1} -
      \eta\nabla f(w_{t-1}))`, proximal gradient descent (ISTA). For convex
      :math:`f` with an :math:`L`-Lipschitz gradient and :math:`\eta \le 1/L`
      it converges to a minimizer of :math:`F`.
    - ``optax.sgd(eta, momentum=mu)`` (or ``nesterov=True``): a fixed point
      has :math:`b = \nabla f/(1-\mu)`, so where it converges it minimizes
      :math:`f + (1-\mu)P`, not :math:`F`: pass :math:`P/(1-\mu)` to target :math:`F`.
    - ``optax.adam(eta)`` (any preconditioned optimizer): the prox is taken in
      the Euclidean metric while the step is preconditioned, and the
      iteration does **not** minimize :math:`F`. For
      L1 a weight is zeroed whenever :math:`|w_j + u_j| \le \eta\alpha`, i.e.
      when its Adam step, of size about :math:`\eta|\hat m_j|/\sqrt{\hat v_j}
      \le \eta`, cannot carry it past the threshold; ``alpha`` is therefore
      dimensionless, in units of Adam's normalized step
      (:math:`\alpha \ge 1` zeroes almost everything, whatever the scale of
      the gradients). A weight stays non-zero only while its normalized
      gradient :math:`|\hat m_j|/(\sqrt{\hat v_j}+\epsilon)` exceeds about
      :math:`\alpha`. With mini-batch gradients that ratio is the
      signal-to-noise ratio of :math:`\partial_j f`, and weights whose
      gradient is mostly noise become exactly zero: the result is sparse, but
      it is not the lasso solution. With exact (full-batch) gradients the
      moments settle to :math:`\hat m_j = g_j`, :math:`\hat v_j = g_j^2`, and
      the fixed points are those of the lasso with the tiny strength
      :math:`\epsilon\alpha/(1-\alpha)` (:math:`\alpha < 1`): a dense,
      nearly unregularized fit. (A prox in Adam's metric, thresholding at
      :math:`\eta\alpha/(\sqrt{\hat v_j}+\epsilon)`, has the minimizers
      of :math:`F` as its fixed points; it is not provided.)

    Parameters
    ----------
    penalty : a penalty of :mod:`jaxreg.penalties`
        Applied leaf by leaf (entrywise penalties act on any leaf;
        ``WeightedL1`` and ``GroupLassoPenalty`` need leaves of the shape they
        were built for: select them with ``mask``).
    learning_rate : float or optax schedule
        The learning rate the base optimizer applied: the same float or
        schedule. A schedule is evaluated at this transformation's own update
        count, which matches the optimizer's when both start together
        (wrappers that skip updates, e.g. ``optax.MultiSteps`` around the
        optimizer alone, break this).
    mask : pytree of bool or callable, default=None
        Leaves to apply the prox to; the others keep the optimizer's update.

    Returns
    -------
    optax.GradientTransformation
        Its state is a :class:`ProximalState`; ``update`` needs ``params``.

    Raises
    ------
    ValueError
        If ``learning_rate`` is a float that is not positive, or the penalty's
        ``alpha`` (``weights``) is negative or its ``l1_ratio`` outside [0, 1].

    Examples
    --------
    >>> import optax
    >>> from jaxreg.penalties import L1
    >>> tx = optax.chain(optax.sgd(0.5), proximal(L1(0.4), 0.5))
    >>> w = jnp.array([1.0, 0.1, -0.3])
    >>> updates, state = tx.update(jnp.array([0.0, 0.0, 0.2]), tx.init(w), w)
    >>> optax.apply_updates(w, updates)   # soft-thresholding at 0.5 * 0.4
    Array([ 0.8,  0. , -0.2], dtype=float64)
    """
    owner = f"proximal({type(penalty).__name__})"
    _check_learning_rate(owner, learning_rate)
    if hasattr(penalty, "alpha"):
        check_parameter(owner, "alpha", penalty.alpha, low=0.0)
    if hasattr(penalty, "l1_ratio"):
        check_parameter(owner, "l1_ratio", penalty.l1_ratio, low=0.0, high=1.0)
    if hasattr(penalty, "weights"):
        check_parameter(owner, "weights", penalty.weights, low=0.0)

    def init(params):
        del params
        return ProximalState(count=jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("A proximal step needs the parameters: call "
                             "tx.update(updates, state, params).")
        step = learning_rate(state.count) if callable(learning_rate) else learning_rate

        def leaf(u, w):
            if u is None:
                return None
            # The update that lands on prox(w + u): exactly -w where the prox is 0.
            return (penalty.prox(w + u, step) - w).astype(u.dtype)

        new_updates = jax.tree.map(leaf, updates, params, is_leaf=lambda x: x is None)
        return new_updates, ProximalState(count=optax.safe_increment(state.count))

    transformation = optax.GradientTransformation(init, update)
    if mask is not None:
        return optax.masked(transformation, mask)
    return transformation


def prox_l1(alpha, learning_rate, *, mask=None):
    r"""Proximal L1 step after an optimizer: soft-thresholding at ``learning_rate * alpha``.

    .. math:: w_t = \operatorname{sign}(v)\max(|v| - \eta_t\alpha, 0), \qquad
              v = w_{t-1} + u_t

    With ``optax.sgd(eta)`` before it, this is ISTA on
    :math:`f(w) + \alpha\|w\|_1`; with momentum or Adam see :func:`proximal`
    for what is (not) minimized.

    Parameters
    ----------
    alpha : float
        :math:`\alpha \ge 0` (jaxreg's ``L1(alpha)``).
    learning_rate : float or optax schedule
        The base optimizer's learning rate (the same float or schedule).
    mask : pytree of bool or callable, default=None
        Leaves to threshold (:func:`matrix_mask`: not the biases).

    Returns
    -------
    optax.GradientTransformation

    Raises
    ------
    ValueError
        If ``alpha`` is negative or ``learning_rate`` is not positive.

    Examples
    --------
    >>> import optax
    >>> tx = optax.chain(optax.sgd(1.0), prox_l1(0.5, 1.0))
    >>> w = jnp.array([2.0, -0.25])
    >>> updates, _ = tx.update(jnp.zeros(2), tx.init(w), w)
    >>> optax.apply_updates(w, updates)
    Array([1.5, 0. ], dtype=float64)
    """
    check_parameter("prox_l1", "alpha", alpha, low=0.0)
    _check_learning_rate("prox_l1", learning_rate)
    return proximal(_penalties.L1(alpha), learning_rate, mask=mask)


def prox_elastic_net(alpha, l1_ratio, learning_rate, *, mask=None):
    r"""Proximal elastic-net step after an optimizer (scikit-learn's parametrization).

    .. math:: P(w) = \alpha\rho\|w\|_1 + \frac{\alpha(1-\rho)}{2}\|w\|_2^2, \qquad
              w_t = \frac{\operatorname{sign}(v)\max(|v| - \eta_t\alpha\rho, 0)}
                         {1 + \eta_t\alpha(1-\rho)}, \quad v = w_{t-1} + u_t

    Parameters
    ----------
    alpha : float
        :math:`\alpha \ge 0`.
    l1_ratio : float
        :math:`\rho \in [0, 1]` (1: :func:`prox_l1`; 0: a proximal ridge step).
    learning_rate : float or optax schedule
        The base optimizer's learning rate (the same float or schedule).
    mask : pytree of bool or callable, default=None
        Leaves to apply it to.

    Returns
    -------
    optax.GradientTransformation

    Raises
    ------
    ValueError
        If ``alpha`` is negative, ``l1_ratio`` is outside [0, 1] or
        ``learning_rate`` is not positive.

    Examples
    --------
    >>> import optax
    >>> tx = optax.chain(optax.sgd(1.0), prox_elastic_net(1.0, 0.5, 1.0))
    >>> w = jnp.array([3.0, 0.25])
    >>> updates, _ = tx.update(jnp.zeros(2), tx.init(w), w)
    >>> optax.apply_updates(w, updates)   # (3 - 0.5) / 1.5
    Array([1.66666667, 0.        ], dtype=float64)
    """
    owner = "prox_elastic_net"
    check_parameter(owner, "alpha", alpha, low=0.0)
    check_parameter(owner, "l1_ratio", l1_ratio, low=0.0, high=1.0)
    _check_learning_rate(owner, learning_rate)
    return proximal(_penalties.ElasticNetPenalty(alpha, l1_ratio), learning_rate, mask=mask)

