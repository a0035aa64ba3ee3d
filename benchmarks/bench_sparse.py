"""Lasso path and 5-fold CV on a sparse text-like problem: jaxreg against its peers.

Problem (``_sparse_problems.text_like``): 100000 x 50000, 0.1 % stored values,
power-law column frequencies (``--quick``: 20000 x 10000), y centred, no
intercept, 100 alphas geometric from alpha_max = ||X^T y||_inf / n to
``--eps`` alpha_max. Every method gets the SciPy CSC matrix (never densified)
and minimises (1/2n)||y - Xw||^2 + alpha ||w||_1 at the same alphas.

Accuracy first (as BENCHMARKS.md): a method counts only if its duality gap,
recomputed here in NumPy from its coefficients with the dual point
theta = r min(1, n alpha / ||X^T r||_inf), is <= 1e-6 P_null at EVERY alpha,
P_null = ||y||^2 / (2n). Each method's ``tol`` starts at the value whose own
meaning is that target (5e-7 for scikit-learn, celer and
``jaxreg.lasso_path``: gap <= tol ||y||^2 / n) or at 1e-4 (skglm) and is
tightened by decades until the gaps pass; that run's time is reported (one
run each: they take seconds to minutes). jaxreg's first call, which compiles,
is reported apart from a second, timed call.

CV: ``jaxreg.cv(folds=5)`` (fold paths + scores + refit at alpha_min)
against scikit-learn's ``LassoCV(cv=5)`` and celer's ``LassoCV(cv=5)``
(same alphas, no intercept, tol of the path run that met the gap), with the
chosen alphas compared.

    python benchmarks/bench_sparse.py --quick
    python benchmarks/bench_sparse.py --peers sklearn,celer --no-cv

Results: ``benchmarks/results/<device>/bench_sparse[_quick].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import jaxreg  # noqa: E402
from _sparse_problems import lasso_gaps, text_like  # noqa: E402

REL_GAP = 1e-6
PEERS = ("sklearn", "skglm", "celer")


def _jaxreg(X, y, alphas, tol):
    return jaxreg.lasso_path(X, y, alphas=alphas, tol=tol, max_iter=100000)[1]


def _sklearn(X, y, alphas, tol):
    from sklearn.linear_model import lasso_path

    return lasso_path(X, y, alphas=alphas, tol=tol, max_iter=100000)[1]


def _skglm(X, y, alphas, tol):
    import skglm

    return skglm.Lasso(fit_intercept=False, tol=tol, max_iter=1000,
                       max_epochs=100000).path(X, y, alphas)[1]


def _celer(X, y, alphas, tol):
    import celer

    return celer.celer_path(X, y, "lasso", alphas=alphas, tol=tol, prune=1, max_iter=1000,
                            max_epochs=100000)[1]


METHODS = {"jaxreg.lasso_path": (_jaxreg, 5e-7), "sklearn": (_sklearn, 5e-7),
           "skglm": (_skglm, 1e-4), "celer": (_celer, 5e-7)}


def timed_path(name, X, y, alphas, limit):
    """(seconds, tol, worst relative gap, first-call seconds) at the loosest passing tol."""
    run, tol = METHODS[name]
    first = None
    for _ in range(6):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name.startswith("jaxreg") and first is None:
                start = time.perf_counter()
                run(X, y, alphas, tol)
                first = time.perf_counter() - start
            start = time.perf_counter()
            coefs = np.asarray(run(X, y, alphas, tol))
            elapsed = time.perf_counter() - start
        worst = float(np.max(lasso_gaps(X, y, alphas, coefs)) / limit * REL_GAP)
        print(f"  {name:18s} tol {tol:.0e}: {elapsed:8.2f} s, worst gap {worst:.2e} P_null",
              flush=True)
        if worst <= REL_GAP:
            return dict(seconds=elapsed, tol=tol, worst_gap=worst, first_call=first,
                        coefs=coefs)
        tol /= 10.0
    return dict(seconds=None, tol=tol, worst_gap=worst, first_call=first, coefs=None)


def timed_cv(name, X, y, alphas, tol):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "jaxreg.cv":
            run = lambda: jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), alphas, folds=5,  # noqa: E731
                                    fit_intercept=False, tol=2 * tol, max_iter=100000)
            start = time.perf_counter()
            run()
            first = time.perf_counter() - start
            start = time.perf_counter()
            result = run()
            return dict(seconds=time.perf_counter() - start, first_call=first,
                        alpha=float(result.alpha_min))
        if name == "sklearn LassoCV":
            from sklearn.linear_model import LassoCV
        else:
            from celer import LassoCV
        start = time.perf_counter()
        model = LassoCV(alphas=alphas, cv=5, fit_intercept=False, tol=tol,
                        max_iter=100000).fit(X, y)
        return dict(seconds=time.perf_counter() - start, alpha=float(model.alpha_))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20000 x 10000 instead")
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--n-alphas", type=int, default=100)
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument("--no-cv", action="store_true")
    args = parser.parse_args()
    n, p = (20000, 10000) if args.quick else (100000, 50000)
    X, y = text_like(n, p, 1e-3)
    alphas = np.max(np.abs(X.T @ y)) / n * np.geomspace(1.0, args.eps, args.n_alphas)
    limit = REL_GAP * (y @ y) / (2 * n)
    print(f"text-like {n} x {p}, {X.nnz} stored values; {args.n_alphas} alphas to "
          f"{args.eps:g} alpha_max; target gap <= {REL_GAP:g} P_null at every alpha", flush=True)
    peers = [name for name in args.peers.split(",") if name]
    rows = {}
    for name in ["jaxreg.lasso_path", *peers]:
        rows[name] = timed_path(name, X, y, alphas, limit)
    reference = rows["jaxreg.lasso_path"]
    out = dict(problem=dict(n_samples=n, n_features=p, nnz=int(X.nnz), eps=args.eps,
                            n_alphas=args.n_alphas),
               device=jax.devices()[0].device_kind, machine=f"{os.cpu_count()}-core "
               f"{platform.machine()} CPU", jax=jax.__version__, path={}, cv={})
    print("path (time at the loosest tol meeting the gap; ratio = peer / jaxreg):")
    for row in rows.values():
        if row["coefs"] is not None and reference["coefs"] is not None:
            row["max_coef_difference"] = float(np.max(np.abs(row["coefs"] - reference["coefs"]))
                                               / np.max(np.abs(reference["coefs"])))
    for name, row in rows.items():
        ratio = (row["seconds"] / reference["seconds"]
                 if row["seconds"] and reference["seconds"] else None)
        row.pop("coefs")
        row["ratio"] = ratio
        out["path"][name] = row
        print(f"  {name:18s} {row['seconds'] if row['seconds'] else float('nan'):8.2f} s "
              f"(tol {row['tol']:.0e})  ratio {ratio if ratio else float('nan'):.2f}"
              + (f"  first call {row['first_call']:.2f} s" if row['first_call'] else ""))
    if not args.no_cv:
        tol = rows["jaxreg.lasso_path"]["tol"]
        print("5-fold CV:")
        names = ["jaxreg.cv"] + [f"{peer} LassoCV" for peer in ("sklearn", "celer")
                                 if peer in peers]
        for name in names:
            try:
                out["cv"][name] = row = timed_cv(name, X, y, alphas, tol)
            except TypeError as error:      # celer 0.7.4's LassoCV on scikit-learn 1.9
                out["cv"][name] = dict(seconds=None, error=str(error))
                print(f"  {name:18s} failed: {error}")
                continue
            print(f"  {name:18s} {row['seconds']:8.2f} s  alpha {row['alpha']:.4g}", flush=True)
        base = out["cv"]["jaxreg.cv"]["seconds"]
        for row in out["cv"].values():
            row["ratio"] = row["seconds"] / base if row["seconds"] else None
    folder = pathlib.Path(__file__).parent / "results" / out["device"].lower().replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    name = "bench_sparse_quick.json" if args.quick else "bench_sparse.json"
    (folder / name).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
