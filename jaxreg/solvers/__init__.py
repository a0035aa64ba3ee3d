"""Solvers: pure functions ``(X, y, loss, penalty, ...) -> Solution``.

- :func:`fista`, :func:`ista` (:mod:`.prox_grad`): smooth loss, any penalty;
- :func:`coordinate_descent` (:mod:`.cd`): squared loss, separable penalty;
- :func:`ridge` (:mod:`.ridge`): squared loss, L2 or no penalty, closed form;
- :func:`primal_dual` (:mod:`.primal_dual`): absolute and quantile losses,
  first order (any penalty, many features);
- :func:`interior_point` (:mod:`.interior_point`): absolute and quantile
  losses with no, L1, L2 or elastic-net penalty, exact (Frisch–Newton).
"""

from jaxreg.solvers import _common
from jaxreg.solvers._common import Solution, optimality
from jaxreg.solvers.cd import coordinate_descent
from jaxreg.solvers.interior_point import interior_point
from jaxreg.solvers.primal_dual import primal_dual
from jaxreg.solvers.prox_grad import fista, ista
from jaxreg.solvers.ridge import ridge, ridge_path

__all__ = ["Solution", "fista", "ista", "coordinate_descent", "ridge", "ridge_path",
           "primal_dual", "interior_point", "optimality", "duality_gap", "null_objective"]


def null_objective(X, y, loss, *, sample_weight=None, fit_intercept=True):
    r"""Objective of the best intercept-only model, :math:`P_{\text{null}}`.

    .. math:: P_{\text{null}} = \min_b \frac1n \sum_i s_i \ell(y_i, b)

    (:math:`b = 0` without an intercept): the scale of every solver's ``tol``.
    For the squared loss it is :math:`\|y - \bar y_s\|_s^2 / (2n)`.

    Examples
    --------
    >>> from jaxreg.losses import SquaredLoss
    >>> null_objective(jnp.ones((3, 1)), jnp.array([0.0, 1.0, 2.0]), SquaredLoss())
    Array(0.33333333, dtype=float64)
    """
    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    return _common.null_objective(problem, loss)


def duality_gap(X, y, loss, penalty, coef, intercept, *, sample_weight=None,
                fit_intercept=True, dual=None):
    r"""Duality gap :math:`F(w, b) - D(u)` at ``(coef, intercept)``.

    The dual point is built from :math:`u = \partial\ell/\partial z` at the
    given point (or from ``dual`` for the non-smooth losses), made feasible by
    projection and scaling (:mod:`jaxreg.solvers._common`). The gap bounds the
    suboptimality :math:`F(w, b) - F^\star`.
    """
    from jaxreg.penalties import NoPenalty

    problem = _common.make_problem(X, y, sample_weight, fit_intercept)
    penalty = NoPenalty() if penalty is None else penalty
    certificate = _common.make_certificate(problem, loss, penalty)
    return _common.duality_gap(problem, loss, penalty, certificate, coef, intercept, u=dual)
