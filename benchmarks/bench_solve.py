"""Time ``jaxreg.solve`` against scikit-learn on single fits.

Problems: scikit-learn's diabetes data (442 x 10, bundled with jaxreg) and a
synthetic Gaussian 10000 x 1000 problem (BENCHMARKS.md problem (b)) for the
lasso, elastic net and ridge; least absolute deviations on diabetes and on
BENCHMARKS.md's n = 5000, p = 50 problem with 10 % gross outliers.

Every pair is first brought to the same accuracy: the duality gap of both
answers is recomputed here in NumPy (float64) and printed; then the median of
``--repeats`` steady-state runs is timed (jaxreg's compile time apart) and the
ratio peer / jaxreg printed. Results go to ``benchmarks/results/<device>/``.

    python benchmarks/bench_solve.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn import linear_model  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.datasets import load_diabetes  # noqa: E402
from _problems import sparse_gaussian  # noqa: E402  (BENCHMARKS.md (b))

TOL = 1e-8  # duality gap <= TOL * P_null for every method


def lad_outliers(n=5000, p=50, fraction=0.1, seed=0):
    """BENCHMARKS.md's LAD problem: Gaussian X, 10 % gross outliers in y."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 0.5 * rng.standard_normal(n)
    bad = rng.random(n) < fraction
    y[bad] += rng.choice([-1.0, 1.0], bad.sum()) * rng.uniform(20, 50, bad.sum())
    return X, y


# ---- NumPy certificates (independent of jaxreg) ---------------------------


def enet_gap(X, y, w, b, alpha, l1_ratio):
    """Gap of (1/2n)||y - Xw - b||^2 + a rho ||w||_1 + a (1 - rho)/2 ||w||^2."""
    n = X.shape[0]
    r = y - X @ w - b
    r = r - r.mean()
    a1, a2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    primal = r @ r / (2 * n) + a1 * np.abs(w).sum() + a2 / 2 * w @ w
    v = X.T @ r / n
    if a2 > 0:
        conj = np.sum(np.maximum(np.abs(v) - a1, 0) ** 2) / (2 * a2)
        return primal - (r @ (y - y.mean()) / n - r @ r / (2 * n) - conj)
    t = min(1.0, a1 / max(np.abs(v).max(), 1e-300))
    return primal - (t * r @ (y - y.mean()) / n - t**2 * r @ r / (2 * n))


def lad_objective(X, y, w, b, alpha):
    """(1/n) sum rho_0.5(y - Xw - b) + alpha ||w||_1 (QuantileRegressor's objective)."""
    r = y - X @ w - b
    return 0.5 * np.abs(r).mean() + alpha * np.abs(w).sum()


def p_null_squared(y):
    return np.sum((y - y.mean()) ** 2) / (2 * len(y))


# ---- timing ---------------------------------------------------------------


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        jax.block_until_ready(result)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def run_case(name, X, y, jax_call, peer_call, gap_of, p_null, repeats):
    """Time one pair; ``gap_of(w, b)`` is a NumPy certificate, or an objective
    whose difference to the peer's is reported (LAD: HiGHS returns no dual)."""
    start = time.perf_counter()
    jax.block_until_ready(jax_call())
    first = time.perf_counter() - start
    solution, jax_time = timed(jax_call, repeats)
    peer, peer_time = timed(peer_call, max(1, repeats))
    jax_gap = gap_of(np.asarray(solution.coef), float(solution.intercept)) / p_null
    peer_gap = gap_of(np.asarray(peer.coef_), float(peer.intercept_)) / p_null
    diff = np.abs(np.asarray(solution.coef) - peer.coef_).max() / max(np.abs(peer.coef_).max(), 1e-300)
    row = dict(problem=name, shape=list(X.shape), jaxreg_s=jax_time, compile_s=first - jax_time,
               peer_s=peer_time, ratio=peer_time / jax_time, jaxreg_rel_gap=jax_gap,
               peer_rel_gap=peer_gap, rel_coef_diff=diff)
    print(f"{name:<28} {X.shape[0]:>6}x{X.shape[1]:<5} jaxreg {jax_time * 1e3:9.2f} ms "
          f"(compile {row['compile_s']:5.2f} s)  sklearn {peer_time * 1e3:9.2f} ms  "
          f"ratio {row['ratio']:6.2f}x  gaps/P_null {jax_gap:8.1e} {peer_gap:8.1e}  "
          f"coef diff {diff:7.1e}")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="diabetes only")
    args = parser.parse_args()

    problems = [("diabetes", *load_diabetes())]
    if not args.quick:
        problems.append(("gaussian (b)", *sparse_gaussian()))
    rows = []
    for label, X, y in problems:
        n = X.shape[0]
        p_null = p_null_squared(y)
        alpha = 0.1 * np.abs(X.T @ (y - y.mean())).max() / n
        sq = jaxreg.SquaredLoss()
        # scikit-learn's tol: gap <= tol ||y_c||^2 / n = 2 tol P_null.
        rows.append(run_case(
            f"lasso {label}", X, y,
            lambda: jaxreg.solve(X, y, sq, jaxreg.L1(alpha), tol=TOL),
            lambda: linear_model.Lasso(alpha=alpha, tol=TOL / 2, max_iter=100000).fit(X, y),
            lambda w, b: enet_gap(X, y, w, b, alpha, 1.0), p_null, args.repeats))
        rows.append(run_case(
            f"elastic net {label}", X, y,
            lambda: jaxreg.solve(X, y, sq, jaxreg.ElasticNetPenalty(alpha, 0.5), tol=TOL),
            lambda: linear_model.ElasticNet(alpha=alpha, l1_ratio=0.5, tol=TOL / 2,
                                            max_iter=100000).fit(X, y),
            lambda w, b: enet_gap(X, y, w, b, alpha, 0.5), p_null, args.repeats))
        rows.append(run_case(
            f"ridge {label}", X, y,
            lambda: jaxreg.solve(X, y, sq, jaxreg.L2(1.0 / n), tol=TOL),
            lambda: linear_model.Ridge(alpha=1.0, solver="cholesky").fit(X, y),
            lambda w, b: enet_gap(X, y, w, b, 1.0 / n, 0.0), p_null, args.repeats))

    lad_problems = [("diabetes", *load_diabetes())]
    if not args.quick:
        lad_problems.append(("outliers 10 %", *lad_outliers()))
    for label, X, y in lad_problems:
        alpha = 1e-3 if label != "diabetes" else 2e-3
        p_null = 0.5 * np.abs(y - np.median(y)).mean()
        peer = linear_model.QuantileRegressor(quantile=0.5, alpha=alpha, solver="highs").fit(X, y)
        f_peer = lad_objective(X, y, peer.coef_, peer.intercept_, alpha)
        # "gaps" column: (objective - HiGHS's optimal objective) / P_null.
        rows.append(run_case(
            f"LAD + L1 {label}", X, y,
            lambda: jaxreg.solve(X, y, jaxreg.QuantileLoss(0.5), jaxreg.L1(alpha), tol=TOL),
            lambda: linear_model.QuantileRegressor(quantile=0.5, alpha=alpha,
                                                   solver="highs").fit(X, y),
            lambda w, b: lad_objective(X, y, w, b, alpha) - f_peer, p_null,
            max(1, args.repeats // 2)))

    device = jax.devices()[0].device_kind
    meta = dict(device=device, machine=platform.machine(), processor=platform.processor(),
                cpu_count=__import__("os").cpu_count(), jax=jax.__version__,
                jaxreg=jaxreg.__version__, sklearn=sklearn.__version__, tol=TOL)
    out = pathlib.Path(__file__).parent / "results" / device.replace(" ", "_").lower()
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_solve.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    print(f"written to {out / 'bench_solve.json'}")


if __name__ == "__main__":
    main()
