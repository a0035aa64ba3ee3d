r"""Independent references, in float64, that never call jaxreg.

Problems are described by plain specs, so that a bug in jaxreg's losses or
penalties cannot leak into its reference:

- loss: ``"squared"``, ``"absolute"``, ``("quantile", tau)``, ``("huber", delta)``,
  ``"logistic"`` (labels in {-1, +1}), ``"multinomial"`` (labels 0, ..., k-1);
- penalty: ``("l1", alpha)``, ``("l2", alpha)``, ``("enet", alpha, l1_ratio)``,
  ``("weighted_l1", weights)``, ``("group", alpha, groups)`` (``groups`` holds the
  group index of each feature) or ``None``.

Objective (DESIGN.md), with s rescaled to sum to n and b unpenalized:

.. math:: F(w, b) = \frac1n \sum_i s_i \ell(y_i, x_i^\top w + b) + P(w).

Which solver answers (:func:`reference_solution`):

- squared + l1/enet (one output): scikit-learn's ElasticNet, tol=1e-14;
- squared + l2/None (no ``positive``): the closed form (:func:`ridge_closed_form`);
- absolute/quantile + l1/weighted_l1/None: an exact LP, scipy's HiGHS
  (:func:`linprog_solution`), which also returns an exact dual point;
- everything else: cvxpy + Clarabel at tolerances 1e-12 (:func:`cvxpy_solution`),
  then, for smooth losses, Newton's method on the support
  (:func:`newton_polish`, kept only if it lowers the duality gap).

Measured agreement (tests/test_references.py on the problems of _problems.py;
|F_a - F_b| / P_null unless stated):

- ElasticNet/Lasso (sklearn CD) vs cvxpy: <= 1.6e-12 (plain, positive,
  weighted, no intercept);
- ridge closed form vs sklearn Ridge(alpha * n): coefficients 1.3e-14 relative;
  vs cvxpy: 1e-12 relative, objectives 5e-17;
- quantile/absolute LP (HiGHS) vs sklearn QuantileRegressor(highs): 6e-16;
  vs cvxpy: 3.8e-11; the LP's own dual closes the gap to 2e-15;
- logistic/multinomial + l2/None: reference vs sklearn LogisticRegression
  (C = 1/(n alpha), lbfgs, tol=1e-12): objectives <= 6e-13, coefficients
  <= 4e-7 relative (sklearn's lbfgs is the less accurate one);
- Huber + l2: cvxpy vs scipy L-BFGS <= 2e-16;
- group lasso with singleton groups vs Lasso: 4e-13 before polishing;
- the NumPy duality gap at every reference solution: <= 5e-12 P_null for the
  smooth losses, <= 3e-11 for absolute/quantile (cvxpy's multiplier as the
  dual point), which certifies each reference on its own.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
from scipy import optimize, sparse
from sklearn import linear_model

__all__ = [
    "loss_values", "penalty_value", "objective", "loss_grad", "loss_conjugate",
    "reference_solution", "cvxpy_solution", "linprog_solution", "sklearn_solution",
    "newton_polish",
    "ridge_closed_form", "numpy_duality_gap", "null_intercept", "null_objective",
]

_EPS = np.finfo(float).eps


def _name(spec):
    return spec if isinstance(spec, str) or spec is None else spec[0]


def _weights(sample_weight, n):
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    return s * (n / s.sum())


def _expand(s, u):
    return s.reshape((-1,) + (1,) * (np.ndim(u) - 1))


def _onehot(y, k):
    return (np.asarray(y)[:, None] == np.arange(k)).astype(float)


def _n_classes(y):
    return int(np.max(y)) + 1


def _n_outputs(y, loss):
    """k for (p, k) coefficients, None for (p,)."""
    if _name(loss) == "multinomial":
        return _n_classes(y)
    return np.shape(y)[1] if np.ndim(y) == 2 else None


def _penalty_weights(penalty, p):
    """Per-feature L1 weights of l1/weighted_l1/None (the LP's penalties)."""
    name = _name(penalty)
    if name is None:
        return np.zeros(p)
    if name == "l1":
        return np.full(p, float(penalty[1]))
    return np.asarray(penalty[1], float)


def _unpenalized(penalty, p):
    name = _name(penalty)
    if name is None:
        return np.ones(p, bool)
    if name == "weighted_l1":
        return np.asarray(penalty[1]) == 0
    return np.zeros(p, bool)


def _group_index(groups):
    groups = np.asarray(groups)
    return [np.flatnonzero(groups == g) for g in np.unique(groups)]


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def loss_values(y, z, loss):
    """Per-sample loss :math:`\\ell(y_i, z_i)`, shape (n,) (summed over outputs)."""
    name = _name(loss)
    y = np.asarray(y)
    if name == "squared":
        r = 0.5 * (y - z) ** 2
        return r if r.ndim == 1 else r.sum(axis=1)
    if name == "absolute":
        return np.abs(y - z)
    if name == "quantile":
        tau = loss[1]
        r = y - z
        return np.maximum(tau * r, (tau - 1) * r)
    if name == "huber":
        delta = loss[1]
        r = np.abs(y - z)
        return np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    if name == "logistic":
        return np.logaddexp(0.0, -y * z)
    if name == "multinomial":
        zmax = z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
        return lse - z[np.arange(len(y)), y.astype(int)]
    raise ValueError(f"unknown loss {loss!r}")


def penalty_value(w, penalty):
    """:math:`P(w)` (without the ``positive`` constraint)."""
    name = _name(penalty)
    w = np.asarray(w, float)
    if name is None:
        return 0.0
    if name == "l1":
        return float(penalty[1] * np.abs(w).sum())
    if name == "l2":
        return float(0.5 * penalty[1] * (w**2).sum())
    if name == "enet":
        a, rho = penalty[1], penalty[2]
        return float(a * rho * np.abs(w).sum() + 0.5 * a * (1 - rho) * (w**2).sum())
    if name == "weighted_l1":
        weights = np.asarray(penalty[1], float)
        return float(np.sum(_expand(weights, w) * np.abs(w)))
    if name == "group":
        a = penalty[1]
        return float(sum(a * np.sqrt(len(g)) * np.linalg.norm(w[g])
                         for g in _group_index(penalty[2])))
    raise ValueError(f"unknown penalty {penalty!r}")


def objective(X, y, w, b, loss, penalty, sample_weight=None):
    """:math:`F(w, b)` in NumPy float64."""
    X = np.asarray(X, float)
    w = np.asarray(w, float)
    s = _weights(sample_weight, X.shape[0])
    z = X @ w + np.asarray(b, float)
    return float(np.mean(s * loss_values(y, z, loss)) + penalty_value(w, penalty))


# ---------------------------------------------------------------------------
# Reference solutions
# ---------------------------------------------------------------------------


def cvxpy_solution(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None,
                   positive=False, return_dual=False):
    """Minimise F with cvxpy + Clarabel (tolerances 1e-12).

    Returns ``(w, b)``, or ``(w, b, u)`` with ``u`` the multiplier of
    :math:`z = Xw + b`, rescaled to :math:`\\partial\\ell/\\partial z` (a dual point).
    """
    X = np.asarray(X, float)
    y = np.asarray(y)
    n, p = X.shape
    s = _weights(sample_weight, n)
    name = _name(loss)
    k = _n_outputs(y, loss)
    W = cp.Variable((p, k)) if k else cp.Variable(p)
    b = cp.Variable(k) if k else cp.Variable()
    Z = cp.Variable((n, k)) if k else cp.Variable(n)
    offset = (np.ones((n, 1)) @ cp.reshape(b, (1, k), order="C")) if k else b
    link = Z == X @ W + offset
    if name == "squared":
        per = 0.5 * cp.square(y - Z)
        per = per if k is None else cp.sum(per, axis=1)
    elif name == "absolute":
        per = cp.abs(y - Z)
    elif name == "quantile":
        tau = loss[1]
        per = tau * cp.pos(y - Z) + (1 - tau) * cp.neg(y - Z)
    elif name == "huber":
        per = 0.5 * cp.huber(y - Z, loss[1])   # cvxpy's huber is 2x ours
    elif name == "logistic":
        per = cp.logistic(-cp.multiply(y, Z))
    elif name == "multinomial":
        per = cp.log_sum_exp(Z, axis=1) - cp.sum(cp.multiply(_onehot(y, k), Z), axis=1)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    datafit = cp.sum(cp.multiply(s, per)) / n
    pname = _name(penalty)
    if pname is None:
        reg = 0
    elif pname == "l1":
        reg = penalty[1] * cp.sum(cp.abs(W))
    elif pname == "l2":
        reg = 0.5 * penalty[1] * cp.sum_squares(W)
    elif pname == "enet":
        a, rho = penalty[1], penalty[2]
        reg = a * rho * cp.sum(cp.abs(W)) + 0.5 * a * (1 - rho) * cp.sum_squares(W)
    elif pname == "weighted_l1":
        weights = np.asarray(penalty[1], float)
        weights = weights if k is None else weights[:, None] * np.ones((1, k))
        reg = cp.sum(cp.multiply(weights, cp.abs(W)))
    elif pname == "group":
        a = penalty[1]
        reg = sum(a * np.sqrt(len(g)) * cp.norm(W[g], "fro") for g in _group_index(penalty[2]))
    else:
        raise ValueError(f"unknown penalty {penalty!r}")
    constraints = [link] + ([W >= 0] if positive else []) + ([] if fit_intercept else [b == 0])
    problem = cp.Problem(cp.Minimize(datafit + reg), constraints)
    with warnings.catch_warnings():
        # Clarabel may flag "optimal_inaccurate" when it stalls just short of
        # 1e-12; the answer is then ~1e-11 accurate (the gap tests check it).
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12,
                      tol_feas=1e-12, tol_ktratio=1e-10, max_iter=500)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy reference failed: {problem.status}")
    w = np.asarray(W.value, float)
    b_value = np.asarray(b.value, float) if fit_intercept else np.zeros(k or ())
    if not return_dual:
        return w, b_value
    # Stationarity in Z: (s/n) dl/dz + nu = 0 with cvxpy's sign convention
    # (checked: u equals dl/dz for the smooth losses).
    nu = np.asarray(link.dual_value, float)
    se = _expand(s, nu)
    u = np.where(se > 0, -n * nu / np.where(se > 0, se, 1.0), 0.0)
    return w, b_value, u


def linprog_solution(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None,
                     positive=False):
    """Absolute or quantile loss with an l1/weighted_l1/None penalty, as an LP (HiGHS).

    Variables w = w+ - w-, b free, r = y - z = r+ - r-; minimise
    :math:`\\sum_j \\lambda_j (w^+_j + w^-_j) + \\frac1n\\sum_i s_i (c^+ r^+_i + c^- r^-_i)`,
    with :math:`(c^+, c^-) = (\\tau, 1-\\tau)` (quantile) or (1, 1) (absolute).

    Returns ``(w, b, u)``, ``u`` the dual point :math:`u_i = -n\\mu_i/s_i`
    from the equality marginals (exact at a vertex).
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    n, p = X.shape
    s = _weights(sample_weight, n)
    name = _name(loss)
    if name == "absolute":
        c_plus, c_minus = 1.0, 1.0
    elif name == "quantile":
        c_plus, c_minus = loss[1], 1.0 - loss[1]
    else:
        raise ValueError(f"linprog_solution handles absolute/quantile losses, not {loss!r}")
    if _name(penalty) not in ("l1", "weighted_l1", None):
        raise ValueError(f"linprog_solution handles l1/weighted_l1/None, not {penalty!r}")
    lam = _penalty_weights(penalty, p)
    blocks = [X] + ([] if positive else [-X])
    costs = [lam] + ([] if positive else [lam])
    bounds = [(0, None)] * (p * len(blocks))
    if fit_intercept:
        blocks.append(np.ones((n, 1)))
        costs.append(np.zeros(1))
        bounds.append((None, None))
    eye = sparse.identity(n, format="csr")
    A = sparse.hstack([sparse.csr_matrix(np.hstack(blocks)), eye, -eye], format="csr")
    c = np.concatenate(costs + [c_plus * s / n, c_minus * s / n])
    bounds += [(0, None)] * (2 * n)
    result = optimize.linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs",
                              options=dict(primal_feasibility_tolerance=1e-10,
                                           dual_feasibility_tolerance=1e-10))
    if result.status != 0:
        raise RuntimeError(f"linprog reference failed: {result.message}")
    x = result.x
    w = x[:p] - (0.0 if positive else x[p:2 * p])
    b = x[len(np.concatenate(costs)) - 1] if fit_intercept else 0.0
    mu = result.eqlin.marginals
    u = np.where(s > 0, -n * mu / np.where(s > 0, s, 1.0), 0.0)
    return w, float(b), u


def sklearn_solution(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None,
                     positive=False):
    """``(w, b)`` from the scikit-learn estimator with exactly our objective.

    Conversions (s rescaled to sum to n):
    squared + l1/enet -> ``ElasticNet(alpha, l1_ratio)``;
    squared + l2 -> ``Ridge(alpha * n)`` (sklearn: ||r||_s^2 + alpha ||w||^2);
    quantile + l1 -> ``QuantileRegressor(quantile=tau, alpha)``;
    absolute + l1 -> ``QuantileRegressor(0.5, alpha / 2)`` (|r| = 2 rho_0.5(r));
    logistic/multinomial + l2 -> ``LogisticRegression(C = 1 / (n alpha))``,
    + None -> ``C = inf`` (sklearn: C sum s l + ||w||^2 / 2).
    Raises ``NotImplementedError`` for other pairs.
    """
    X = np.asarray(X, float)
    y = np.asarray(y)
    n = X.shape[0]
    s = _weights(sample_weight, n)
    name, pname = _name(loss), _name(penalty)
    if name == "squared" and pname in ("l1", "enet"):
        model = linear_model.ElasticNet(
            alpha=penalty[1], l1_ratio=1.0 if pname == "l1" else penalty[2], tol=1e-14,
            max_iter=10**6, fit_intercept=fit_intercept, positive=positive)
    elif name == "squared" and pname == "l2" and not positive:
        model = linear_model.Ridge(alpha=penalty[1] * n, fit_intercept=fit_intercept,
                                   solver="cholesky")
    elif name in ("quantile", "absolute") and pname == "l1" and not positive:
        tau, alpha = (loss[1], penalty[1]) if name == "quantile" else (0.5, penalty[1] / 2)
        model = linear_model.QuantileRegressor(quantile=tau, alpha=alpha,
                                               fit_intercept=fit_intercept, solver="highs")
    elif name in ("logistic", "multinomial") and pname in ("l2", None) and not positive:
        C = np.inf if pname is None else 1.0 / (n * penalty[1])
        model = linear_model.LogisticRegression(C=C, l1_ratio=0.0, tol=1e-12, max_iter=10**4,
                                                fit_intercept=fit_intercept, solver="lbfgs")
    else:
        raise NotImplementedError(f"no scikit-learn estimator for {loss!r} + {penalty!r}")
    model.fit(X, y, sample_weight=s)
    w, b = np.asarray(model.coef_, float), np.asarray(model.intercept_, float)
    if name == "multinomial":
        return w.T, b if fit_intercept else np.zeros(w.shape[0])
    if name == "logistic":
        return w[0], (float(b[0]) if fit_intercept else 0.0)
    return w.T if w.ndim == 2 else w, (b if b.ndim else float(b))


def reference_solution(X, y, loss, penalty, *, fit_intercept=True, sample_weight=None,
                       positive=False):
    """``(w, b, objective)`` of the problem from an independent solver.

    See the module docstring for which solver answers which pair.
    """
    X = np.asarray(X, float)
    y = np.asarray(y)
    s = _weights(sample_weight, X.shape[0])
    name, pname = _name(loss), _name(penalty)
    kwargs = dict(fit_intercept=fit_intercept, sample_weight=s, positive=positive)
    if name == "squared" and y.ndim == 1 and pname in ("l1", "enet"):
        w, b = sklearn_solution(X, y, loss, penalty, **kwargs)
    elif name == "squared" and pname in ("l2", None) and not positive:
        w, b = ridge_closed_form(X, y, penalty[1] if pname == "l2" else 0.0, fit_intercept, s)
    elif name in ("absolute", "quantile") and pname in ("l1", "weighted_l1", None):
        w, b, _ = linprog_solution(X, y, loss, penalty, **kwargs)
    else:
        w, b = cvxpy_solution(X, y, loss, penalty, **kwargs)
        if name not in ("absolute", "quantile"):
            w, b = newton_polish(X, y, w, b, loss, penalty, **kwargs)
    return w, b, objective(X, y, w, b, loss, penalty, s)


def _hessian_blocks(y, z, loss):
    """Per-sample Hessian of the loss in z: (n,) or (n, k, k)."""
    name = _name(loss)
    if name == "squared":
        return np.ones(z.shape[0]) if z.ndim == 1 else np.broadcast_to(
            np.eye(z.shape[1]), (z.shape[0],) + (z.shape[1],) * 2)
    if name == "huber":
        return (np.abs(y - z) <= loss[1]).astype(float)
    if name == "logistic":
        a = 1.0 / (1.0 + np.exp(y * z))
        return a * (1 - a)
    if name == "multinomial":
        P = loss_grad(y, z, loss) + _onehot(y, z.shape[1])
        return P[:, :, None] * np.eye(z.shape[1]) - P[:, :, None] * P[:, None, :]
    raise ValueError(f"no Hessian for {loss!r}")


def newton_polish(X, y, w, b, loss, penalty, *, fit_intercept=True, sample_weight=None,
                  positive=False, n_steps=30):
    """Refine a solution of a smooth loss by Newton's method on its support.

    Interior-point answers (cvxpy) leave zeros at ~1e-9 and coefficients
    accurate to ~sqrt(gap); with the support and signs fixed, the problem is
    smooth and Newton's method converges to round-off. The polished point is
    kept only if its NumPy duality gap is smaller (so polishing never hurts).
    """
    X = np.asarray(X, float)
    y = np.asarray(y)
    n = X.shape[0]
    s = _weights(sample_weight, n)
    w0, b0 = np.asarray(w, float), np.asarray(b, float)
    k = w0.shape[1] if w0.ndim == 2 else None
    kk = k or 1
    W = w0.reshape(-1, kk)
    name = _name(penalty)
    if name == "group":
        rows = np.zeros(W.shape, bool)
        for g in _group_index(penalty[2]):
            rows[g] = np.linalg.norm(W[g]) > 1e-6 * max(np.abs(W).max(), 1e-300)
        active = rows
    elif name in ("l1", "enet", "weighted_l1") or positive:
        active = np.abs(W) > 1e-6 * max(np.abs(W).max(), 1e-300)
    else:
        active = np.ones(W.shape, bool)
    sign = np.sign(W)
    index = np.flatnonzero(active.ravel())            # active entries of vec(W), row-major
    m = index.size + (kk if fit_intercept else 0)
    # D maps the parameters to vec(z) (n*kk entries, row-major over (n, kk)).
    D = np.zeros((n * kk, m))
    for col, flat in enumerate(index):
        j, c = divmod(flat, kk)
        D[c::kk, col] = X[:, j]
    if fit_intercept:
        for c in range(kk):
            D[c::kk, index.size + c] = 1.0
    lam = None
    if name in ("l1", "weighted_l1"):
        lam = _expand(_penalty_weights(penalty, W.shape[0]), W) * np.ones_like(W)
    elif name == "enet":
        lam = np.full(W.shape, penalty[1] * penalty[2])
    ridge = {"l2": penalty[1] if name == "l2" else 0.0,
             "enet": penalty[1] * (1 - penalty[2]) if name == "enet" else 0.0}.get(name, 0.0)

    def unpack(theta):
        Wn = np.zeros(W.shape)
        Wn.ravel()[index] = theta[:index.size]
        bn = theta[index.size:] if fit_intercept else np.zeros(kk)
        return Wn.reshape(w0.shape), (bn if k else bn[0])

    def value(theta):
        Wn, bn = unpack(theta)
        if (positive or lam is not None) and np.any(np.sign(Wn.reshape(-1, kk)[active])
                                                     != sign[active]):
            return np.inf                              # left the orthant
        return objective(X, y, Wn, bn, loss, penalty, s)

    theta = np.concatenate([W.ravel()[index], np.atleast_1d(b0).ravel() if fit_intercept else []])
    f = value(theta)
    for _ in range(n_steps):
        Wn, bn = unpack(theta)
        z = X @ Wn + bn
        g_z = (_expand(s, z) * loss_grad(y, z, loss)).reshape(-1) / n
        grad = D.T @ g_z
        H_z = _hessian_blocks(y, z, loss)
        if H_z.ndim == 1:
            hess = D.T @ ((s * H_z / n)[:, None] * D)
        else:
            Dr = D.reshape(n, kk, m)
            hess = np.einsum("iam,iab,ibl->ml", Dr, (s / n)[:, None, None] * H_z, Dr)
        a = theta[:index.size]
        pg = np.zeros(m)
        ph = np.zeros(m)
        if lam is not None:
            pg[:index.size] += lam.ravel()[index] * sign.ravel()[index]
        pg[:index.size] += ridge * a
        ph[:index.size] += ridge
        hess = hess + np.diag(ph)
        if name == "group":
            for g in _group_index(penalty[2]):
                cols = np.flatnonzero(np.isin(index // kk, g))
                if cols.size:
                    v = a[cols]
                    r = np.linalg.norm(v)
                    c = penalty[1] * np.sqrt(len(g))
                    pg[cols] += c * v / r
                    hess[np.ix_(cols, cols)] += c * (np.eye(cols.size) / r - np.outer(v, v) / r**3)
        grad = grad + pg
        if np.abs(grad).max() <= 1e-15 * (1 + abs(f)):
            break
        step = np.linalg.lstsq(hess, -grad, rcond=1e-14)[0]
        # Near the optimum F is flat to round-off while the gradient (which
        # the gap sees, linearly) is not: accept steps that do not raise F
        # beyond round-off.
        t = 1.0
        while t > 1e-10 and not value(theta + t * step) <= f + 8 * _EPS * abs(f):
            t *= 0.5
        if t <= 1e-10:
            break
        theta = theta + t * step
        f = value(theta)
    Wn, bn = unpack(theta)
    kwargs = dict(sample_weight=s, fit_intercept=fit_intercept, positive=positive)
    if numpy_duality_gap(X, y, Wn, bn, loss, penalty, **kwargs) < numpy_duality_gap(
            X, y, w0, b0, loss, penalty, **kwargs):
        return Wn, bn
    return w0, b0


def ridge_closed_form(X, y, alpha, fit_intercept=True, sample_weight=None):
    """Minimiser of :math:`\\frac1{2n}\\|y - Xw - b\\|_s^2 + \\frac\\alpha2\\|w\\|^2`.

    ``alpha = 0`` gives the minimum-norm least-squares solution (pseudo-inverse).
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    n = X.shape[0]
    s = _weights(sample_weight, n)
    if fit_intercept:
        xm = s @ X / s.sum()
        ym = np.tensordot(s, y, axes=1) / s.sum()
    else:
        xm, ym = np.zeros(X.shape[1]), np.zeros(y.shape[1:])
    root = np.sqrt(s)
    Xs = root[:, None] * (X - xm)
    ys = _expand(root, y) * (y - ym)
    if alpha == 0:
        w = np.linalg.pinv(Xs, rcond=1e-12) @ ys
    else:
        w = np.linalg.solve(Xs.T @ Xs / n + alpha * np.eye(X.shape[1]), Xs.T @ ys / n)
    b = ym - xm @ w
    return w, (b if np.ndim(b) else float(b))


# ---------------------------------------------------------------------------
# The certificate, recomputed
# ---------------------------------------------------------------------------


def loss_grad(y, z, loss):
    """:math:`\\partial\\ell/\\partial z`; for absolute/quantile a subgradient
    (the middle of the interval where the residual is exactly 0)."""
    name = _name(loss)
    y = np.asarray(y)
    if name == "squared":
        return z - y
    if name == "huber":
        return np.clip(z - y, -loss[1], loss[1])
    if name == "logistic":
        return -y / (1.0 + np.exp(y * z))
    if name == "multinomial":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True) - _onehot(y, z.shape[1])
    if name in ("absolute", "quantile"):
        lo, hi = _loss_box(y, loss)
        r = y - z
        return np.where(r > 0, lo, np.where(r < 0, hi, 0.5 * (lo + hi)))
    raise ValueError(f"unknown loss {loss!r}")


def _xlogx(a):
    return np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)


def loss_conjugate(y, u, loss):
    """:math:`\\ell^*(y_i, u_i)` on the domain (feasibility is the caller's job)."""
    name = _name(loss)
    y = np.asarray(y)
    if name == "squared":
        c = u * y + 0.5 * u**2
        return c if c.ndim == 1 else c.sum(axis=1)
    if name in ("absolute", "quantile"):
        return u * y
    if name == "huber":
        return u * y + 0.5 * u**2
    if name == "logistic":
        a = -y * u
        return _xlogx(a) + _xlogx(1 - a)
    if name == "multinomial":
        return _xlogx(u + _onehot(y, u.shape[1])).sum(axis=1)
    raise ValueError(f"unknown loss {loss!r}")


def _loss_box(y, loss):
    """Bounds (lo, hi) of the conjugate's domain, or None (squared, multinomial)."""
    name = _name(loss)
    y = np.asarray(y, float)
    if name == "absolute":
        return -np.ones_like(y), np.ones_like(y)
    if name == "quantile":
        return np.full(y.shape, -loss[1]), np.full(y.shape, 1 - loss[1])
    if name == "huber":
        return np.full(y.shape, -loss[1]), np.full(y.shape, loss[1])
    if name == "logistic":
        return np.minimum(-y, 0.0), np.maximum(-y, 0.0)
    return None


def _box_ratio(u, lo, hi):
    """Largest t in [0, 1] with t u in [lo, hi] (a box containing 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi = np.where(u > hi, hi / u, 1.0)
        t_lo = np.where(u < lo, lo / u, 1.0)
    t = float(min(1.0, np.min(t_hi, initial=1.0), np.min(t_lo, initial=1.0)))
    return max(t * (1 - 4 * _EPS) if t < 1 else t, 0.0)


def _shift_and_clip(u, s, lo, hi):
    """clip(u - c, lo, hi) with sum_i s_i v_i = 0: c by Brent's method, then
    the remainder removed exactly from the entries strictly inside the box."""
    live = s > 0

    def total(c):
        return np.sum(s * np.clip(u - c, lo, hi))

    a, b = np.min((u - hi)[live]) - 1.0, np.max((u - lo)[live]) + 1.0
    c = optimize.brentq(total, a, b, xtol=1e-300, rtol=4 * _EPS, maxiter=1000)
    v = np.clip(u - c, lo, hi)
    excess = np.sum(s * v)
    room = np.where(excess > 0, v - lo, hi - v) * live
    if np.sum(s * room) > 0:
        v = np.clip(v - excess / np.sum(s * room) * room, lo, hi)
    return v


def _multinomial_feasible(u, y, s):
    """Centred u (sum_i s_i u_i = 0) into {u + e_y in the simplex}.

    Scaling u towards 0 cannot remove a negative entry off the true class;
    mixing p = u + e_y with the class frequencies f (the dual point of the
    null model, which meets both constraints) can: p <- (1 - theta) p + theta f
    keeps rows summing to 1 and sum_i s_i (p_i - e_{y_i}) = 0.
    """
    E = _onehot(y, u.shape[1])
    p = u + E
    if np.all(p >= 0):
        return u
    f = s @ E / s.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(p < 0, -p / (f - p), 0.0)
    theta = min(1.0, float(np.max(theta)) * (1 + 4 * _EPS))
    return (1 - theta) * p + theta * f - E


def _in_domain(u, y, loss):
    if _name(loss) == "multinomial":
        return bool(np.all(u + _onehot(y, u.shape[1]) >= 0))
    lo, hi = _loss_box(y, loss)
    return bool(np.all((u >= lo) & (u <= hi)))


def _newton_projection(u, A, s, y, loss):
    r"""u + H A delta with :math:`A^\top(s\odot(u + H A\delta)) = 0`, H the loss's
    Hessian in z (logistic, multinomial): the linearised gradient after a Newton
    step on the intercept and unpenalized coefficients. It satisfies the same
    linear constraints as the Euclidean projection, and entries with small
    curvature (probabilities near 0 or 1) barely move."""
    n, m = A.shape
    if _name(loss) == "logistic":
        a = np.clip(np.abs(u), 0.0, 1.0)   # sigma(-y z)
        h = a * (1 - a)
        M = A.T @ ((s * h)[:, None] * A)
        delta, *_ = np.linalg.lstsq(M, -A.T @ (s * u), rcond=None)
        return u + h * (A @ delta)
    k = u.shape[1]
    P = np.clip(u + _onehot(y, k), 0.0, None)

    def hess(D):   # H_i d_i = p_i * d_i - p_i (p_i . d_i): rows keep summing to 0
        return P * D - P * np.sum(P * D, axis=1, keepdims=True)

    columns = [A.T @ (s[:, None] * hess(A @ e.reshape(m, k))) for e in np.eye(m * k)]
    M = np.stack([c.ravel() for c in columns], axis=1)
    delta, *_ = np.linalg.lstsq(M, -(A.T @ (s[:, None] * u)).ravel(), rcond=None)
    return u + hess(A @ delta.reshape(m, k))


def _penalty_scale_and_conjugate(v, penalty, positive):
    """Largest t <= 1 with P*(t v) finite, and P*(v) (call again after scaling)."""
    name = _name(penalty)
    bound = np.maximum(v, 0) if positive else np.abs(v)

    def ball(radius):   # radius >= 0, per entry
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(bound > radius, radius / bound, 1.0)
        return float(min(1.0, np.min(ratios, initial=1.0)))

    if name is None:
        return 1.0, 0.0
    if name == "l1":
        return ball(penalty[1]), 0.0
    if name == "l2":
        return 1.0, float(np.sum(bound**2)) / (2 * penalty[1])
    if name == "enet":
        a1, a2 = penalty[1] * penalty[2], penalty[1] * (1 - penalty[2])
        if a2 == 0:
            return ball(a1), 0.0
        return 1.0, float(np.sum(np.maximum(bound - a1, 0) ** 2)) / (2 * a2)
    if name == "weighted_l1":
        weights = np.asarray(penalty[1], float)
        radius = np.where(weights > 0, weights, np.inf)  # unpenalized: v_j = 0 by projection
        return ball(_expand(radius, v) * np.ones_like(v)), 0.0
    if name == "group":
        a, t = penalty[1], 1.0
        for g in _group_index(penalty[2]):
            norm, radius = np.linalg.norm(bound[g]), a * np.sqrt(len(g))
            if norm > radius:
                t = min(t, radius / norm)
        return t, 0.0
    raise ValueError(f"unknown penalty {penalty!r}")


def numpy_duality_gap(X, y, w, b, loss, penalty, sample_weight=None, fit_intercept=True,
                      dual=None, positive=False):
    r"""Fenchel duality gap :math:`F(w, b) - D(u)`, recomputed in NumPy.

    .. math:: D(u) = -\frac1n\sum_i s_i \ell^*(y_i, u_i) - P^*(-X^\top(s\odot u)/n)

    The dual point starts from :math:`u = \partial\ell/\partial z` at
    :math:`z = Xw + b` (absolute/quantile: a subgradient, loose unless the
    residuals are exactly 0 where they should be; pass ``dual`` for a tight gap)
    and is made feasible:

    1. unpenalized features (weight 0 or no penalty): weighted least-squares
       projection onto :math:`A^\top(s\odot u) = 0`, A = [1 (with an
       intercept), unpenalized columns] (logistic/multinomial: if that leaves
       the conjugate's domain, a Newton-metric projection, see
       :func:`_newton_projection`);
       otherwise, with an intercept, :math:`\sum_i s_i u_i = 0`: the weighted
       mean is subtracted (squared, multinomial) or u is shifted and clipped
       into the conjugate's box (absolute, quantile, Huber, logistic);
    2. multinomial: mixed with the class frequencies if needed (see
       :func:`_multinomial_feasible`); box losses: scaled by the largest
       t <= 1 that puts u in the box;
    3. u scaled by the largest t <= 1 that puts :math:`-X^\top(s\odot u)/n` in
       the domain of :math:`P^*` (``positive``: :math:`v_+` replaces :math:`|v|`).

    Every step keeps the previous ones' constraints, so the result is a valid
    upper bound on the suboptimality :math:`F(w, b) - F^\star`.
    """
    X = np.asarray(X, float)
    y = np.asarray(y)
    w = np.asarray(w, float)
    n, p = X.shape
    s = _weights(sample_weight, n)
    b = np.asarray(b, float) if fit_intercept else np.zeros_like(np.asarray(b, float))
    z = X @ w + b
    primal = float(np.mean(s * loss_values(y, z, loss)) + penalty_value(w, penalty))
    u = loss_grad(y, z, loss) if dual is None else np.array(dual, float)
    se = _expand(s, u)
    u = np.where(se > 0, u, 0.0)
    unpenalized = _unpenalized(penalty, p)
    box = _loss_box(y, loss)
    multinomial = _name(loss) == "multinomial"
    if unpenalized.any():
        A = X[:, unpenalized]
        if fit_intercept:
            A = np.hstack([np.ones((n, 1)), A])
        root = np.sqrt(s)
        coef, *_ = np.linalg.lstsq(root[:, None] * A, _expand(root, u) * u, rcond=None)
        projected = u - A @ coef
        if _name(loss) in ("logistic", "multinomial") and not _in_domain(projected, y, loss):
            # Near-separable data leave probabilities ~1e-20 that the Euclidean
            # projection pushes out of the domain (t = 0 below); the Newton
            # projection moves each entry in proportion to its curvature instead.
            newton = _newton_projection(u, A, s, y, loss)
            projected = newton if _in_domain(newton, y, loss) else projected
        u = projected
    elif fit_intercept:
        if box is None:
            u = u - np.tensordot(s, u, axes=1) / s.sum()
        else:
            u = _shift_and_clip(u, s, *box)
        if multinomial:
            u = _multinomial_feasible(u, y, s)
    u = np.where(se > 0, u, 0.0)
    if box is not None:
        u = u * _box_ratio(u, *box)
    if multinomial:
        u = u * _box_ratio(u, -_onehot(y, u.shape[1]), np.full(u.shape, np.inf))
    v = -X.T @ (se * u) / n
    v[unpenalized] = 0.0   # exactly 0 after the projection, up to round-off
    t, _ = _penalty_scale_and_conjugate(v, penalty, positive)
    t = t * (1 - 4 * _EPS) if t < 1 else t
    u, v = t * u, t * v
    _, conj = _penalty_scale_and_conjugate(v, penalty, positive)
    dual_value = -np.sum(s * loss_conjugate(y, u, loss)) / n - conj
    return primal - dual_value


def null_intercept(y, loss, sample_weight=None):
    """argmin_b (1/n) sum_i s_i loss(y_i, b), in closed form where there is one."""
    y = np.asarray(y)
    n = y.shape[0]
    s = _weights(sample_weight, n)
    name = _name(loss)
    if name == "squared":
        return np.tensordot(s, y, axes=1) / s.sum()
    if name in ("absolute", "quantile"):
        tau = 0.5 if name == "absolute" else loss[1]
        # Weighted tau-quantile: the first sorted y whose cumulative weight
        # reaches tau * sum(s) (the objective's slope changes sign there).
        order = np.argsort(y, kind="stable")
        cumulative = np.cumsum(s[order])
        k = np.searchsorted(cumulative, tau * s.sum() * (1 - 1e-14))
        return float(y[order][min(k, n - 1)])
    if name == "huber":
        delta = loss[1]
        # The derivative sum_i s_i clip(b - y_i, -delta, delta) is increasing.
        slope = lambda c: np.sum(s * np.clip(c - y, -delta, delta))  # noqa: E731
        return optimize.brentq(slope, y.min() - delta, y.max() + delta, xtol=1e-300,
                               rtol=4 * _EPS, maxiter=1000)
    if name == "logistic":
        q = np.sum(s * (y > 0)) / s.sum()
        return float(np.log(q / (1 - q)))
    if name == "multinomial":
        freq = s @ _onehot(y, _n_classes(y)) / s.sum()
        return np.log(freq)
    raise ValueError(f"unknown loss {loss!r}")


def null_objective(y, loss, sample_weight=None, fit_intercept=True):
    """:math:`P_{null} = \\min_b \\frac1n\\sum_i s_i \\ell(y_i, b)` (b = 0 without
    an intercept): the scale of jaxreg's tolerances."""
    y = np.asarray(y)
    n = y.shape[0]
    s = _weights(sample_weight, n)
    name = _name(loss)
    k = _n_outputs(y, loss)
    if not fit_intercept:
        return float(np.mean(s * loss_values(y, np.zeros((n, k)) if k else np.zeros(n), loss)))
    if name == "multinomial":
        freq = s @ _onehot(y, k) / s.sum()
        return float(-np.sum(_xlogx(freq)))       # entropy of the class frequencies
    if name == "logistic":
        q = np.sum(s * (y > 0)) / s.sum()
        return float(-_xlogx(q) - _xlogx(1 - q))  # binary entropy
    b = null_intercept(y, loss, s)
    z = np.broadcast_to(b, y.shape) if name == "squared" else np.full(n, b)
    return float(np.mean(s * loss_values(y, z, loss)))
