"""Time a 100-alpha ridge path: ``jaxreg.solvers.ridge_path`` against scikit-learn.

Problem: Gaussian X 10000 x 1000 (BENCHMARKS.md's (b) design), y = X w + noise
at SNR 3, with an intercept; 100 alphas, scikit-learn's ``a`` geometric from
1e-2 n to 1e3 n (jaxreg's ``L2(a / n)``).

Peers, as a user would pick them: ``RidgeCV(alphas=a, gcv_mode="svd").fit``
(one SVD, generalised cross-validation over the grid, coefficients at the best
alpha) and a loop of ``Ridge(alpha=a_k).fit`` (Cholesky, one per alpha).

The answers are checked first: jaxreg's 100 coefficient vectors against the
loop's (max difference relative to max |w|), its coefficients at RidgeCV's
``alpha_`` against ``RidgeCV.coef_``, and the objective gap to the loop's
solutions relative to P_null; jaxreg's own duality gaps are printed too. Then
the median of ``--repeats`` steady-state runs is timed, jaxreg's compilation
apart, and the ratios peer / jaxreg printed. Results go to
``benchmarks/results/cpu/bench_ridge.json``.

    python benchmarks/bench_ridge.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
from sklearn import linear_model  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.solvers import ridge_path  # noqa: E402
from _problems import sparse_gaussian  # noqa: E402


def gaussian_problem(n=10000, p=1000, seed=0):
    """BENCHMARKS.md (b)'s design with an offset of 1 in y (the intercept matters)."""
    X, y = sparse_gaussian(n, p, seed=seed)
    return X, y + 1.0


def ridge_objective(X, y, w, b, alpha):
    """(1/2n)||y - Xw - b||^2 + (alpha/2)||w||^2, NumPy float64."""
    r = y - X @ w - b
    return r @ r / (2 * len(y)) + 0.5 * alpha * w @ w


def timed(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return result, statistics.median(times), times


def sklearn_loop(X, y, sk_alphas):
    coefs, intercepts = [], []
    for a in sk_alphas:
        model = linear_model.Ridge(alpha=a, solver="cholesky").fit(X, y)
        coefs.append(model.coef_)
        intercepts.append(model.intercept_)
    return np.array(coefs), np.array(intercepts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2000 x 200 instead of 10000 x 1000")
    args = parser.parse_args()

    n, p = (2000, 200) if args.quick else (10000, 1000)
    X, y = gaussian_problem(n, p)
    sk_alphas = np.geomspace(1e-2, 1e3, 100) * n       # sklearn Ridge(a)
    alphas = sk_alphas / n                              # jaxreg L2(a / n)
    p_null = np.sum((y - y.mean()) ** 2) / (2 * n)
    load = os.getloadavg()[0]
    print(f"ridge path, {n} x {p}, 100 alphas, float64, {jax.devices()[0].device_kind}, "
          f"load average {load:.2f}")

    # --- jaxreg: compile apart, then check, then time ---------------------
    Xj, yj, aj = jax.device_put(X), jax.device_put(y), jax.device_put(alphas)
    path_fn = jax.jit(ridge_path)
    start = time.perf_counter()
    compiled = path_fn.lower(Xj, yj, aj).compile()
    compile_s = time.perf_counter() - start
    path = jax.block_until_ready(compiled(Xj, yj, aj))

    # --- answers first ----------------------------------------------------
    loop_coefs, loop_intercepts = sklearn_loop(X, y, sk_alphas)
    cv = linear_model.RidgeCV(alphas=sk_alphas, gcv_mode="svd").fit(X, y)
    coefs, intercepts = np.asarray(path.coefs), np.asarray(path.intercepts)
    scale = np.abs(loop_coefs).max()
    loop_diff = np.abs(coefs - loop_coefs).max() / scale
    intercept_diff = np.abs(intercepts - loop_intercepts).max() / max(abs(y.mean()), 1.0)
    best = int(np.flatnonzero(sk_alphas == cv.alpha_)[0])
    cv_diff = np.abs(coefs[best] - cv.coef_).max() / np.abs(cv.coef_).max()
    objective_diff = max(
        (ridge_objective(X, y, coefs[k], intercepts[k], alphas[k])
         - ridge_objective(X, y, loop_coefs[k], loop_intercepts[k], alphas[k])) / p_null
        for k in range(len(alphas)))
    max_gap = float(np.max(np.asarray(path.dual_gaps))) / p_null
    min_gap = float(np.min(np.asarray(path.dual_gaps))) / p_null
    print(f"check: max |coef - Ridge loop| / max|coef| = {loop_diff:.2e}, "
          f"intercepts {intercept_diff:.2e}")
    print(f"check: at RidgeCV's alpha_ = {cv.alpha_:.4g} (index {best}): "
          f"max |coef - RidgeCV.coef_| / max|coef| = {cv_diff:.2e}")
    print(f"check: max (F_jaxreg - F_sklearn) / P_null = {objective_diff:.2e}; "
          f"jaxreg duality gaps / P_null in [{min_gap:.1e}, {max_gap:.1e}]")
    assert loop_diff < 1e-8 and cv_diff < 1e-8 and objective_diff < 1e-12, "answers disagree"

    # --- timing -----------------------------------------------------------
    _, jax_s, jax_times = timed(lambda: compiled(Xj, yj, aj), args.repeats)
    print(f"jaxreg ridge_path         {jax_s:8.3f} s  (compile {compile_s:.2f} s apart)  "
          f"runs {[round(t, 3) for t in jax_times]}")
    _, cv_s, cv_times = timed(
        lambda: linear_model.RidgeCV(alphas=sk_alphas, gcv_mode="svd").fit(X, y), args.repeats)
    print(f"sklearn RidgeCV(svd)      {cv_s:8.3f} s  ratio {cv_s / jax_s:6.2f}x  "
          f"runs {[round(t, 3) for t in cv_times]}")
    _, loop_s, loop_times = timed(lambda: sklearn_loop(X, y, sk_alphas), args.repeats)
    print(f"sklearn Ridge loop (x100) {loop_s:8.3f} s  ratio {loop_s / jax_s:6.2f}x  "
          f"runs {[round(t, 3) for t in loop_times]}")

    result = dict(
        meta=dict(device=jax.devices()[0].device_kind, platform=jax.devices()[0].platform,
                  machine=platform.machine(), cpu_count=os.cpu_count(), load_average=load,
                  python=platform.python_version(), jax=jax.__version__,
                  jaxlib=jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
                  numpy=np.__version__, scipy=scipy.__version__, sklearn=sklearn.__version__,
                  jaxreg=jaxreg.__version__, dtype="float64", repeats=args.repeats),
        problem=dict(n_samples=n, n_features=p, n_alphas=len(alphas), fit_intercept=True,
                     sklearn_alphas=[float(sk_alphas[0]), float(sk_alphas[-1])]),
        check=dict(max_rel_coef_diff_loop=loop_diff, max_rel_intercept_diff_loop=intercept_diff,
                   max_rel_coef_diff_ridgecv=cv_diff, max_objective_diff_over_p_null=objective_diff,
                   jaxreg_dual_gap_over_p_null=[min_gap, max_gap]),
        times_s=dict(jaxreg_ridge_path=jax_s, jaxreg_compile=compile_s, sklearn_ridgecv_svd=cv_s,
                     sklearn_ridge_loop=loop_s, runs=dict(jaxreg=jax_times, ridgecv=cv_times,
                                                          loop=loop_times)),
        ratios=dict(ridgecv_over_jaxreg=cv_s / jax_s, loop_over_jaxreg=loop_s / jax_s),
    )
    out = pathlib.Path(__file__).parent / "results" / "cpu"
    out.mkdir(parents=True, exist_ok=True)
    name = "bench_ridge_quick.json" if args.quick else "bench_ridge.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {out / name}")


if __name__ == "__main__":
    main()
