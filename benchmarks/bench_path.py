"""Time full 100-alpha lasso paths and 5-fold LassoCV: jaxreg against its peers.

Problems (a)-(d) of BENCHMARKS.md (``benchmarks/_problems.py``): X and y
centred, no intercept, 100 alphas geometric from alpha_max to eps * alpha_max.
Methods: ``jaxreg.lasso_path`` (scikit-learn's signature) and ``jaxreg.path``
with strategy "warm", "chunked" and "batched"; peers, timed in the same run:
scikit-learn ``lasso_path``, skglm ``Lasso(fit_intercept=False).path``, celer
``celer_path(..., "lasso", prune=1)`` and glum ``GeneralizedLinearRegressor(
alpha=grid, alpha_search=True, l1_ratio=1, family="normal")``. All minimise
(1/2n)||y - Xw||^2 + alpha ||w||_1 with the same alpha; this is checked on a
tiny problem against scikit-learn before anything is timed.

Accuracy first: every method is brought to a duality gap <= 1e-6 P_null at
EVERY alpha, P_null = ||y||^2 / (2n), the gap recomputed here in NumPy float64
from the returned coefficients with the dual point
theta = r min(1, n alpha / ||X^T r||_inf). Each method's ``tol`` is swept by
decades from 1e-2 down to 1e-12 (plus the value whose own meaning is the target
-- 5e-7 for scikit-learn's, celer's and ``jaxreg.lasso_path``'s gap relative to
||y||^2/n, 1e-6 for ``jaxreg.path``'s gap relative to P_null), and the loosest
setting that meets the gap at every alpha is timed: median of ``--repeats``
steady-state runs. A run longer than ``--cap`` seconds stops the sweep (reported
"> cap" when no setting passed) and limits the repeats.

jaxreg also gets: its first call and compile time (first call minus steady
state) in a fresh process, the first call of a second fresh process with JAX's
persistent compilation cache warm, and the compiled path's memory
(``jax.jit(...).lower(...).compile().memory_analysis()``), printed next to
8 n p, 8 m (n + p) and 8 m n p bytes (m = n_alphas). Each peer that runs in
under a quarter of ``--cap`` gets its first call in a fresh process (the
comparison for jaxreg's: numba compiles skglm's and celer's code there, and
scikit-learn pays its one-time costs).

CV: ``jaxreg.cv(..., folds=5)`` against ``LassoCV(cv=5, alphas=same grid,
fit_intercept=False)`` on (a) and (d): the same sweep (scikit-learn's tol is
swept with ``lasso_path`` on the training folds, which is what LassoCV runs),
then the chosen alpha and mse_path compared. LassoCV also refits at the chosen
alpha; the row "jaxreg.cv + refit" includes that refit (``jaxreg.cv(refit=True)``,
or ``jaxreg.solve`` at ``alpha_min`` where ``cv`` has no ``refit``), and is the
reference of the CV ratios.

Data layout: peers get X Fortran-ordered (column-wise coordinate descent; they
would copy it otherwise) and scikit-learn ``copy_X=False``; jaxreg gets the
C-ordered array. Both are prepared outside the timings.

    python benchmarks/bench_path.py --quick               # development: (a) + small (b)-(d)
    python benchmarks/bench_path.py                       # all of (a)-(d), full size
    python benchmarks/bench_path.py --problems a,c --peers sklearn,skglm --cap 60 --repeats 5

Results: ``benchmarks/results/<device>/bench_path.json`` (``bench_path_quick.json``
with ``--quick``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

if __name__ == "__main__" and "--_fresh" in sys.argv:
    # A child process started by fresh_process_times(): the persistent cache must
    # be configured before anything is compiled.
    _cache = sys.argv[sys.argv.index("--_cache") + 1]
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn import linear_model  # noqa: E402

import jaxreg  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _problems  # noqa: E402

REL_GAP = 1e-6                                   # gap <= REL_GAP * P_null at every alpha
DECADES = [10.0**-k for k in range(2, 13)]       # 1e-2 ... 1e-12
JAXREG_METHODS = ("jaxreg.lasso_path", "jaxreg.path[warm]", "jaxreg.path[chunked]",
                  "jaxreg.path[batched]")
PEERS = ("sklearn", "skglm", "celer", "glum")
PEER_PACKAGES = {"sklearn": "sklearn", "skglm": "skglm", "celer": "celer", "glum": "glum"}


# ---- the methods -----------------------------------------------------------


@dataclasses.dataclass
class Method:
    """``run(problem, alphas, tol)`` returns coefs of shape (n_features, n_alphas)."""

    name: str
    run: object
    natural_tol: float | None   # the tol whose own meaning is gap <= REL_GAP P_null
    tol_meaning: str
    jaxreg: bool = False


def _jaxreg_methods(max_iter, strategies):
    def lasso_path(pb, alphas, tol):
        _, coefs, _ = jaxreg.lasso_path(pb.X, pb.y, alphas=alphas, tol=tol, max_iter=max_iter)
        return np.asarray(coefs)

    def path_with(strategy):
        def run(pb, alphas, tol):
            result = jaxreg.path(pb.X, pb.y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), alphas,
                                 fit_intercept=False, tol=tol, strategy=strategy,
                                 max_iter=max_iter)
            return np.asarray(result.coefs).T
        return run

    methods = [Method("jaxreg.lasso_path", lasso_path, REL_GAP / 2,
                      "own gap <= tol ||y||^2/n (scikit-learn's)", jaxreg=True)]
    for strategy in strategies:
        methods.append(Method(f"jaxreg.path[{strategy}]", path_with(strategy), REL_GAP,
                              "own gap <= tol P_null", jaxreg=True))
    return methods


def _peer_methods(peers, max_iter):
    methods = []

    if "sklearn" in peers:
        def sk(pb, alphas, tol):
            _, coefs, _ = linear_model.lasso_path(pb.XF, pb.y, alphas=alphas, tol=tol,
                                                  max_iter=max_iter, copy_X=False)
            return coefs
        methods.append(Method("sklearn lasso_path", sk, REL_GAP / 2,
                              "gap <= tol ||y||^2/n, same dual point"))

    if "skglm" in peers:
        import skglm

        def sg(pb, alphas, tol):
            estimator = skglm.Lasso(fit_intercept=False, tol=tol, max_iter=1000,
                                    max_epochs=max_iter)
            return estimator.path(pb.XF, pb.y, alphas)[1]
        methods.append(Method("skglm Lasso.path", sg, None,
                              "max distance of -grad to the subdifferential (absolute)"))

    if "celer" in peers:
        import celer

        def ce(pb, alphas, tol):
            return celer.celer_path(pb.XF, pb.y, "lasso", alphas=alphas, tol=tol, prune=1,
                                    max_iter=1000, max_epochs=max_iter)[1]
        methods.append(Method("celer celer_path", ce, REL_GAP / 2,
                              "gap <= tol ||y||^2/n, extrapolated dual point"))

    if "glum" in peers:
        import glum

        def gl(pb, alphas, tol):
            # solver given explicitly: glum 3.4's solver="auto" evaluates
            # `alpha == 0` on the alpha array and raises.
            model = glum.GeneralizedLinearRegressor(
                alpha=np.asarray(alphas), alpha_search=True, l1_ratio=1.0,
                fit_intercept=False, family="normal", solver="irls-cd", gradient_tol=tol,
                max_inner_iter=max_iter)
            return model.fit(pb.XF, pb.y).coef_path_.T
        methods.append(Method("glum GLR path", gl, None,
                              "sum of minimum-norm subgradients (gradient_tol)"))
    return methods


def check_peer_objectives(methods):
    """Every method's solution equals scikit-learn's at the same alpha (tiny problem).

    Returns {name: max |w - w_sklearn| / max |w_sklearn|}; methods above 1e-6 are
    reported and dropped by the caller (their alpha means something else)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8))
    y = X @ rng.standard_normal(8) + rng.standard_normal(40)
    X, y = _problems.centre(X, y)
    pb = _Data(X, np.asfortranarray(X), y)
    alphas = _problems.alpha_grid(X, y, 1e-2, n_alphas=4)[1:]
    _, ref, _ = linear_model.lasso_path(X, y, alphas=alphas, tol=1e-14, max_iter=10**6)
    out = {}
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coefs = method.run(pb, alphas, 1e-13 if method.natural_tol is None else 1e-14)
        out[method.name] = float(np.abs(coefs - ref).max() / np.abs(ref).max())
    return out


@dataclasses.dataclass
class _Data:
    X: np.ndarray    # C order (jaxreg)
    XF: np.ndarray   # Fortran order (peers)
    y: np.ndarray


# ---- sweep and timing ------------------------------------------------------


def _progress(text):
    print(f"  .. {text}", file=sys.stderr, flush=True)


def _candidates(natural, tol_max, tol_min):
    values = set(DECADES) | ({natural} if natural else set())
    return sorted((t for t in values if tol_min * 0.999 <= t <= tol_max * 1.001), reverse=True)


def _call(method, data, alphas, tol):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # convergence is judged by the NumPy gap
        start = time.perf_counter()
        coefs = method.run(data, alphas, tol)
        return coefs, time.perf_counter() - start


def sweep_and_time(method, data, alphas, pnull, args):
    """Loosest tol meeting the gap at every alpha, then the median of steady runs."""
    row = dict(method=method.name, tol_meaning=method.tol_meaning, sweep=[], status="ok")
    first = True
    chosen = None
    for tol in _candidates(method.natural_tol, args.tol_max, args.tol_min):
        try:
            coefs, seconds = _call(method, data, alphas, tol)
        except Exception as error:  # noqa: BLE001 -- report and go on with the others
            row.update(status=f"error: {type(error).__name__}: {error}"[:300])
            return row
        worst = float(np.max(_problems.lasso_gaps(data.X, data.y, coefs, alphas)) / pnull)
        row["sweep"].append(dict(tol=tol, time_s=seconds, max_rel_gap=worst))
        _progress(f"{method.name}: tol {tol:.0e} {seconds:.3g} s gap/P_null {worst:.1e}")
        if first:
            # First call in this process (JIT compilation for jaxreg, numba for skglm).
            row["first_call_s"] = seconds
            if seconds <= args.cap:
                again = [_call(method, data, alphas, tol)[1] for _ in range(2)]
                row["first_call_overhead_s"] = seconds - min(again)
            first = False
        if worst <= REL_GAP:
            chosen = (tol, coefs, seconds, worst)
            break
        if seconds > args.cap:
            row.update(status="> cap", cap_s=args.cap, time_s=None, tol=None,
                       note=f"run at tol {tol:.0e} took {seconds:.1f} s with gap/P_null "
                            f"{worst:.1e}; tighter settings not tried")
            return row
    if chosen is None:
        row.update(status="no tol met the gap", time_s=None, tol=None)
        return row
    tol, coefs, seconds, worst = chosen
    times = []
    if seconds > args.cap:
        times = [seconds]       # the passing sweep run is the only one
    else:
        budget = max(args.cap, seconds)
        for _ in range(args.repeats):
            times.append(_call(method, data, alphas, tol)[1])
            if sum(times) > budget:
                break
    row.update(tol=tol, time_s=statistics.median(times), runs=len(times), times_s=times,
               max_rel_gap=worst)
    return row


# ---- jaxreg: fresh processes, persistent cache, memory ---------------------


def _fresh_child(args):
    """Child: first call of one method (jaxreg's or a peer's), then steady calls;
    prints JSON."""
    pb = _problems.make_problem(args.problems, quick=args.quick)
    data = _Data(pb.X, np.asfortranarray(pb.X), pb.y)
    alphas = _problems.alpha_grid(pb.X, pb.y, pb.eps)
    peers = [p for p in args.peers.split(",") if p in PEERS]
    methods = (_jaxreg_methods(args.max_iter, ("warm", "chunked", "batched"))
               + _peer_methods(peers, args.max_iter))
    method = {m.name: m for m in methods}[args._fresh]
    # Start the backend first: its start-up is not jaxreg's compile time.
    start = time.perf_counter()
    jax.block_until_ready(jax.numpy.zeros(1) + 1)
    backend_s = time.perf_counter() - start
    _, first = _call(method, data, alphas, args._tol)
    steady = [_call(method, data, alphas, args._tol)[1] for _ in range(1 if first > 10 else 2)]
    print("FRESH_JSON " + json.dumps(dict(first_s=first, steady_s=min(steady),
                                          backend_init_s=backend_s)))


def fresh_process_times(problem, method_name, tol, args, peer=None):
    """(cold, warm-cache) results of two fresh processes sharing a compilation cache;
    for a ``peer``, its first call in one fresh process (its package imported, as
    jaxreg is in the others)."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="jaxreg_cache_") as cache:
        for label in (("peer",) if peer else ("cold", "cached")):
            command = [sys.executable, __file__, "--_fresh", method_name, "--_tol", repr(tol),
                       "--_cache", cache, "--problems", problem, "--max-iter", str(args.max_iter),
                       "--peers", peer or "none"]
            if args.quick:
                command.append("--quick")
            try:
                done = subprocess.run(command, capture_output=True, text=True,
                                      timeout=max(600, 10 * args.cap))
            except subprocess.TimeoutExpired:
                return dict(fresh_error=f"fresh process ({label}) timed out")
            lines = [s for s in done.stdout.splitlines() if s.startswith("FRESH_JSON ")]
            if done.returncode or not lines:
                return dict(fresh_error=(done.stderr or done.stdout)[-500:])
            out[label] = json.loads(lines[-1].split(" ", 1)[1])
        out["cache_files"] = len(os.listdir(cache))
    if peer:
        return dict(peer_fresh_first_call_s=out["peer"]["first_s"],
                    peer_fresh_second_call_s=out["peer"]["steady_s"])
    return dict(compile_s=out["cold"]["first_s"] - out["cold"]["steady_s"],
                fresh_first_call_s=out["cold"]["first_s"],
                fresh_cached_first_call_s=out["cached"]["first_s"],
                fresh_cached_compile_s=out["cached"]["first_s"] - out["cached"]["steady_s"],
                backend_init_s=out["cached"]["backend_init_s"], cache_files=out["cache_files"])


def memory_analysis(n, p, m, strategy):
    """Compiled memory of ``jaxreg.path`` under ``jax.jit`` for shapes (n, p), m alphas."""
    def f(X, y, alphas):
        return jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), alphas,
                           fit_intercept=False, tol=REL_GAP, strategy=strategy)

    f64 = np.float64
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled = jax.jit(f).lower(jax.ShapeDtypeStruct((n, p), f64),
                                    jax.ShapeDtypeStruct((n,), f64),
                                    jax.ShapeDtypeStruct((m,), f64)).compile()
    seconds = time.perf_counter() - start
    stats = compiled.memory_analysis()
    if stats is None:
        return dict(strategy=strategy, error="memory_analysis() returned None on this backend")
    return dict(strategy=strategy, compile_only_s=seconds,
                temp_bytes=int(stats.temp_size_in_bytes),
                argument_bytes=int(stats.argument_size_in_bytes),
                output_bytes=int(stats.output_size_in_bytes),
                alias_bytes=int(stats.alias_size_in_bytes),
                target_np_bytes=8 * n * p, target_m_n_plus_p_bytes=8 * m * (n + p),
                m_n_p_bytes=8 * m * n * p, m_p2_bytes=8 * m * p * p)


def _mb(b):
    return f"{b / 2**20:9.2f} MB"


# ---- cross-validation ------------------------------------------------------


def _jaxreg_cv():
    function = getattr(jaxreg, "cv", None)
    if function is not None:
        return function
    try:
        return importlib.import_module("jaxreg.crossval").cv
    except (ImportError, AttributeError) as error:
        return error


def run_cv(pb, data, alphas, args, rows):
    cv = _jaxreg_cv()
    if isinstance(cv, Exception):
        print(f"  CV skipped: jaxreg.cv is not importable yet ({type(cv).__name__}: {cv})")
        rows.append(dict(problem=pb.label, method="jaxreg.cv", status=f"skipped: {cv}"))
        return
    n, k = pb.X.shape[0], 5
    folds = np.array_split(np.arange(n), k)     # = sklearn's KFold(5) without shuffling
    trains = [np.setdiff1d(np.arange(n), test) for test in folds]
    fold_pnull = [_problems.p_null(pb.y[tr]) for tr in trains]   # null model w = 0

    def fold_gaps(coefs_of_fold):
        worst = 0.0
        for f, tr in enumerate(trains):
            gaps = _problems.lasso_gaps(pb.X[tr], pb.y[tr], coefs_of_fold(f), alphas)
            worst = max(worst, float(gaps.max() / fold_pnull[f]))
        return worst

    # jaxreg.cv: its fold paths are returned, so they are checked directly.
    has_refit = "refit" in inspect.signature(cv).parameters

    def jcv(tol, refit=False):
        options = dict(refit=refit) if has_refit else {}
        result = cv(pb.X, pb.y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), alphas, folds=k,
                    fit_intercept=False, tol=tol, max_iter=args.max_iter, **options)
        jax.block_until_ready(result)
        return result

    def jaxreg_refit(tol):
        """jaxreg.cv and the solution on all the data at alpha_min (LassoCV's refit)."""
        if has_refit:
            result = jcv(tol, refit=True)
            return result, np.asarray(result.solution.coef)
        result = jcv(tol)
        solution = jaxreg.solve(pb.X, pb.y, jaxreg.SquaredLoss(),
                                jaxreg.L1(float(result.alpha_min)), fit_intercept=False,
                                tol=REL_GAP, max_iter=args.max_iter)
        return result, np.asarray(solution.coef)

    def jcv_coefs(result):
        order = np.argsort(-np.asarray(result.alphas))
        coefs = np.asarray(result.fold_paths.coefs)[:, order]       # (folds, m, p)
        return lambda f: coefs[f].T

    # scikit-learn: LassoCV runs lasso_path on each training fold; the tol is swept there.
    def sk_folds(tol):
        return [linear_model.lasso_path(data.XF[tr], pb.y[tr], alphas=alphas, tol=tol,
                                        max_iter=args.max_iter)[1] for tr in trains]

    def lasso_cv(tol):
        return linear_model.LassoCV(cv=k, alphas=alphas, fit_intercept=False, tol=tol,
                                    max_iter=args.max_iter).fit(data.XF, pb.y)

    found = {}
    for name, natural, fit, coefs_of in (
            ("jaxreg.cv", REL_GAP, jcv, jcv_coefs),
            ("sklearn LassoCV", REL_GAP / 2, sk_folds, lambda c: (lambda f: c[f]))):
        first_s = None
        for tol in _candidates(natural, args.tol_max, args.tol_min):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                try:
                    out = fit(tol)
                except Exception as error:  # noqa: BLE001
                    found[name] = dict(status=f"error: {type(error).__name__}: {error}"[:300])
                    break
                seconds = time.perf_counter() - start
            first_s = seconds if first_s is None else first_s
            worst = fold_gaps(coefs_of(out))
            _progress(f"{name}: tol {tol:.0e} {seconds:.3g} s gap/P_null {worst:.1e}")
            if worst <= REL_GAP:
                # The sweep of scikit-learn's tol ran lasso_path, not LassoCV: no first call.
                found[name] = dict(tol=tol, max_rel_gap=worst, out=out,
                                   first_call_s=first_s if fit is jcv else None)
                break
            if seconds > args.cap:
                found[name] = dict(status="> cap")
                break
        else:
            found[name] = dict(status="no tol met the gap")

    timed = {}
    jinfo, sinfo = found["jaxreg.cv"], found["sklearn LassoCV"]
    refit_gap = None
    if "tol" in jinfo:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, coef = jaxreg_refit(jinfo["tol"])        # compiles the refit
        alpha_min = float(result.alpha_min)
        refit_gap = float(_problems.lasso_gaps(pb.X, pb.y, coef, [alpha_min])[0]
                          / _problems.p_null(pb.y))
        timed["jaxreg.cv"] = _median(lambda: jcv(jinfo["tol"]), args)
        timed["jaxreg.cv + refit"] = _median(lambda: jaxreg_refit(jinfo["tol"]), args)
    if "tol" in sinfo:
        timed["sklearn LassoCV"] = _median(lambda: lasso_cv(sinfo["tol"]), args)

    comparison = {}
    if "tol" in jinfo and "tol" in sinfo:
        result, model = jinfo["out"], lasso_cv(sinfo["tol"])
        order = np.argsort(-np.asarray(result.alphas))
        scores = np.asarray(result.scores)[:, order].T           # (m, folds) as mse_path_
        comparison = dict(
            jaxreg_alpha_min=float(result.alpha_min), sklearn_alpha=float(model.alpha_),
            same_alpha=bool(np.isclose(float(result.alpha_min), model.alpha_, rtol=1e-12)),
            mse_path_max_rel_diff=float(np.abs(scores - model.mse_path_).max()
                                        / np.abs(model.mse_path_).max()))
        print(f"  CV: alpha_min jaxreg {comparison['jaxreg_alpha_min']:.6g}, LassoCV "
              f"{comparison['sklearn_alpha']:.6g} ({'same' if comparison['same_alpha'] else 'DIFFERENT'}); "
              f"mse_path max rel diff {comparison['mse_path_max_rel_diff']:.1e}; jaxreg refit "
              f"gap/P_null {refit_gap:.1e}")
    reference = timed.get("jaxreg.cv + refit")
    for name in ("jaxreg.cv", "jaxreg.cv + refit", "sklearn LassoCV"):
        info = jinfo if name.startswith("jaxreg") else sinfo
        row = dict(problem=pb.label, shape=list(pb.X.shape), method=name, kind="cv",
                   status=info.get("status", "ok"), tol=info.get("tol"),
                   max_rel_gap=info.get("max_rel_gap"), first_call_s=info.get("first_call_s"))
        if name in timed:
            row.update(time_s=timed[name][0], runs=len(timed[name][1]), times_s=timed[name][1])
            if reference:
                row["ratio"] = row["time_s"] / reference[0]
        if name == "jaxreg.cv + refit":
            row.update(refit_rel_gap=refit_gap, refit="built-in (refit=True)" if has_refit
                       else "jaxreg.solve at alpha_min")
        row.update(comparison)
        rows.append(row)
        _print_row(row)


def _median(function, args):
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            function()
        times.append(time.perf_counter() - start)
        if sum(times) > args.cap:
            break
    return statistics.median(times), times


# ---- report ----------------------------------------------------------------


def _fmt_time(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:8.1f} ms" if seconds < 1 else f"{seconds:8.2f} s "


def _print_header():
    print(f"{'problem':<26} {'method':<22} {'tol':>7} {'time':>11} {'runs':>4} "
          f"{'ratio':>7} {'gap/Pnull':>9}  {'first':>11} {'compile':>9} {'fresh+cache':>11}")


def _print_row(row):
    status = row.get("status", "ok")
    tol = f"{row['tol']:.0e}" if row.get("tol") else "-"
    if status == "> cap":
        time_text = f"> {row.get('cap_s', 0):.0f} s cap"
    elif status != "ok":
        time_text = status[:11]
    else:
        time_text = _fmt_time(row.get("time_s"))
    ratio = f"{row['ratio']:#6.3g}x" if row.get("ratio") else "      -"
    gap = f"{row['max_rel_gap']:9.1e}" if row.get("max_rel_gap") is not None else "        -"
    compile_s = row.get("compile_s", row.get("first_call_overhead_s"))
    compile_text = f"{compile_s:8.2f}s" if compile_s is not None else "        -"
    fresh = row.get("fresh_cached_first_call_s", row.get("peer_fresh_first_call_s"))
    print(f"{row['problem']:<26} {row['method']:<22} {tol:>7} {time_text:>11} "
          f"{row.get('runs', '-')!s:>4} {ratio:>7} {gap}  {_fmt_time(row.get('first_call_s')):>11} "
          f"{compile_text} {_fmt_time(fresh):>11}", flush=True)
    if row.get("note"):
        print(f"{'':<26}   note: {row['note']}")
    if row.get("fresh_error"):
        print(f"{'':<26}   fresh process failed: {row['fresh_error'][-200:]}")


def _versions(peers):
    out = dict(python=platform.python_version(), jax=jax.__version__,
               jaxlib=getattr(importlib.import_module("jaxlib"), "__version__", None),
               jaxreg=jaxreg.__version__, numpy=np.__version__, sklearn=sklearn.__version__)
    for peer in peers:
        if peer != "sklearn":
            out[peer] = importlib.import_module(PEER_PACKAGES[peer]).__version__
    return out


def _threadpools():
    """BLAS / OpenMP pools loaded in this process (threadpoolctl), with their sizes."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    return [dict(api=p.get("internal_api"), library=os.path.basename(p.get("filepath", "")),
                 threads=p.get("num_threads")) for p in threadpoolctl.threadpool_info()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="problem (a) and small versions of (b)-(d), for development")
    parser.add_argument("--problems", default="a,b,c,d")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="comma-separated subset of " + ",".join(PEERS) + " (or 'none')")
    parser.add_argument("--strategies", default="warm,chunked,batched",
                        help="jaxreg.path strategies to time (or 'none')")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cap", type=float, default=None,
                        help="seconds (default 60; 10 with --quick): a run longer than this "
                             "stops the tol sweep of its method and limits its repeats")
    parser.add_argument("--tol-max", type=float, default=1e-2)
    parser.add_argument("--tol-min", type=float, default=1e-12)
    parser.add_argument("--max-iter", type=int, default=100000,
                        help="per-alpha epoch limit given to every method (not the binding limit)")
    parser.add_argument("--cv-problems", default="a,d", help="problems for 5-fold CV (or 'none')")
    parser.add_argument("--no-fresh", action="store_true",
                        help="skip the fresh-process / persistent-cache timings of jaxreg")
    parser.add_argument("--no-memory", action="store_true", help="skip memory_analysis()")
    parser.add_argument("--output", default=None, help="JSON path (default: results/<device>/)")
    parser.add_argument("--_fresh", help=argparse.SUPPRESS)
    parser.add_argument("--_tol", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--_cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cap is None:
        args.cap = 10.0 if args.quick else 60.0
    if args._fresh:
        return _fresh_child(args)

    def names(text):
        return [] if text.strip().lower() == "none" else [s.strip() for s in text.split(",") if s.strip()]

    problems = names(args.problems)
    strategies = names(args.strategies)
    requested = names(args.peers)
    for unknown in set(requested) - set(PEERS):
        parser.error(f"unknown peer {unknown!r}; choose from {', '.join(PEERS)}")
    peers, missing = [], {}
    for peer in requested:
        try:
            importlib.import_module(PEER_PACKAGES[peer])
            peers.append(peer)
        except ImportError as error:
            missing[peer] = str(error)
            print(f"peer {peer} is not installed ({error}); continuing without it "
                  f"(.venv/bin/pip install {peer})")

    methods = _jaxreg_methods(args.max_iter, strategies) + _peer_methods(peers, args.max_iter)
    agreement = check_peer_objectives(methods)
    print("same objective and alpha as scikit-learn (tiny problem, max rel coef diff):")
    for name, diff in agreement.items():
        print(f"  {name:<24} {diff:.1e}{'' if diff <= 1e-6 else '  MISMATCH: dropped'}")
    methods = [m for m in methods if agreement[m.name] <= 1e-6]

    rows, memory = [], []
    print(f"\naccuracy: NumPy gap <= {REL_GAP:.0e} P_null at every alpha; time: median of "
          f"{args.repeats} steady runs at the loosest passing tol; ratio: time / "
          f"jaxreg.lasso_path's; first: first call in this process; compile: first minus "
          f"steady in a fresh process (peers: first-call overhead in this process); "
          f"fresh+cache: first call of a fresh process, persistent cache warm (peers: "
          f"first call of a fresh process)\n")
    _print_header()
    for name in problems:
        pb = _problems.make_problem(name, quick=args.quick)
        data = _Data(pb.X, np.asfortranarray(pb.X), pb.y)
        alphas = _problems.alpha_grid(pb.X, pb.y, pb.eps)
        pnull = _problems.p_null(pb.y)
        problem_rows = []
        for method in methods:
            row = dict(problem=pb.label, shape=list(pb.X.shape), eps=pb.eps, kind="path")
            row.update(sweep_and_time(method, data, alphas, pnull, args))
            if method.jaxreg and row.get("tol") and not args.no_fresh:
                row.update(fresh_process_times(name, method.name, row["tol"], args))
            elif row.get("tol") and not args.no_fresh and row["time_s"] <= args.cap / 4:
                # The peers' own first call in a fresh process (numba compiles
                # skglm's and celer's there; scikit-learn's first call pays its
                # one-time costs), the comparison for jaxreg's fresh+cache.
                row.update(fresh_process_times(name, method.name, row["tol"], args,
                                               peer=method.name.split()[0]))
            problem_rows.append(row)
        reference = next((r["time_s"] for r in problem_rows
                          if r["method"] == "jaxreg.lasso_path" and r.get("time_s")), None)
        for row in problem_rows:
            if reference and row.get("time_s"):
                row["ratio"] = row["time_s"] / reference
            _print_row(row)
        rows.extend(problem_rows)
        if not args.no_memory:
            n, p = pb.X.shape
            for strategy in ("warm", "chunked", "batched"):
                stats = memory_analysis(n, p, len(alphas), strategy)
                stats["problem"] = pb.label
                memory.append(stats)
                if "error" in stats:
                    print(f"{'':<26} memory {strategy}: {stats['error']}")
                    continue
                print(f"{'':<26} memory {strategy:<8} temp {_mb(stats['temp_bytes'])} argument "
                      f"{_mb(stats['argument_bytes'])} output {_mb(stats['output_bytes'])} | "
                      f"8np {_mb(stats['target_np_bytes'])} 8m(n+p) "
                      f"{_mb(stats['target_m_n_plus_p_bytes'])} 8mnp {_mb(stats['m_n_p_bytes'])} "
                      f"8mp^2 {_mb(stats['m_p2_bytes'])}")
        if name in names(args.cv_problems):
            run_cv(pb, data, alphas, args, rows)
        print()

    device = jax.devices()[0].device_kind
    meta = dict(device=device, machine=platform.machine(), processor=platform.processor(),
                platform=platform.platform(), cpu_count=os.cpu_count(),
                affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                threads={k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                    "MKL_NUM_THREADS", "XLA_FLAGS")
                         if k in os.environ},
                versions=_versions(peers), threadpools=_threadpools(), peers_missing=missing, quick=args.quick,
                rel_gap=REL_GAP, n_alphas=_problems.N_ALPHAS, repeats=args.repeats,
                cap_s=args.cap, max_iter=args.max_iter, objective_check=agreement,
                time=time.strftime("%Y-%m-%d %H:%M:%S"))
    if args.output:
        path = pathlib.Path(args.output)
    else:
        out = pathlib.Path(__file__).parent / "results" / device.replace(" ", "_").lower()
        path = out / ("bench_path_quick.json" if args.quick else "bench_path.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = [{k: v for k, v in r.items() if k != "out"} for r in rows]
    path.write_text(json.dumps(dict(meta=meta, rows=clean, memory=memory), indent=2,
                               default=lambda v: None if isinstance(v, float) and math.isnan(v)
                               else str(v)))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
