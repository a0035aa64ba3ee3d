r"""Quantile regression (least absolute deviations at tau = 0.5): jaxreg's
interior point against scikit-learn's ``QuantileRegressor(solver="highs")`` and
statsmodels' ``QuantReg``.

Problems (seeded): Gaussian X with a unit intercept, y = X w + t(3) noise plus
5 % gross outliers,

- ``single_20000x20`` and ``single_200000x50``: one fit at tau = 0.5, no penalty;
- ``process_20000x20``: the 19-quantile process tau = 0.05, 0.10, ..., 0.95:
  ``jaxreg.quantile_process`` (one compiled call; its CPU strategy, a warm
  ``lax.scan`` over tau from the median outwards), jaxreg batched over tau in
  one call (``jax.vmap`` of ``jaxreg.solve``), jaxreg as 19 sequential calls
  (one compiled program), and 19 statsmodels fits. Each jaxreg row also
  reports its total number of Newton steps.

Answers are checked first: every method's objective
:math:`\frac1n\sum_i\rho_\tau(y_i - x_i^\top w - b)` is compared with that of
HiGHS's solution (scikit-learn's; an exact vertex of the linear program), and
its relative excess is printed and stored. Where HiGHS runs past
``--highs-timeout`` seconds (the n = 200000 problem), jaxreg's own duality gap
(a bound on its suboptimality) is the reference instead, and the output says
so. The 19-quantile process is checked against HiGHS at tau = 0.05, 0.5, 0.95.

Every method runs in its own subprocess, so that its peak memory is its own:
``peak_rss_mb`` is the peak resident set size during the first fit (sampled
every 2 ms) above the resident size just before it (after imports, data
generation and, for jaxreg, compilation), ``xla_memory_mb`` XLA's account of
jaxreg's compiled program (arguments, outputs, temporaries), and
``tracemalloc_mb`` the peak of Python-level allocations during the fit
(NumPy's buffers; XLA's own buffers are not traced by tracemalloc, hence the
RSS). jaxreg's compile time is reported apart; its times are medians of
``--repeats`` runs, the peers' (seconds to minutes each) single runs.

    python benchmarks/bench_quantile.py [--repeats 3] [--highs-timeout 240]
        [--problems process_20000x20 ...]

Writes ``benchmarks/results/cpu/bench_quantile.json`` (all problems, ~15
minutes) or, with ``--problems``, ``bench_quantile_<problems>.json`` (e.g.
``bench_quantile_process_20000x20.json``, ~6 minutes: statsmodels' 19 fits
and the three HiGHS reference fits).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
TOL = 1e-10          # jaxreg: duality gap <= TOL * P_null
QUANTILES = np.round(np.linspace(0.05, 0.95, 19), 2)
PROBLEMS = {"single_20000x20": (20000, 20), "single_200000x50": (200000, 50),
            "process_20000x20": (20000, 20)}


def make_problem(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 1.0 + rng.standard_t(3, n)
    bad = rng.random(n) < 0.05
    y[bad] += rng.choice([-1.0, 1.0], bad.sum()) * rng.uniform(20, 50, bad.sum())
    return X, y


def pinball(X, y, w, b, tau):
    r = y - X @ w - b
    return float(np.mean(np.maximum(tau * r, (tau - 1) * r)))


# --------------------------------------------------------------------------
# Workers (one method on one problem, in a subprocess)
# --------------------------------------------------------------------------


def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _RssSampler:
    """Peak resident set size during a block, sampled every 2 ms by a thread."""

    def __enter__(self):
        import threading

        self.start = self.peak = _rss_mb()
        self.running = True

        def sample():
            while self.running:
                self.peak = max(self.peak, _rss_mb())
                time.sleep(0.002)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, _rss_mb())


def _timed(fit, repeats):
    """(median seconds, last result, tracemalloc peak MB, sampled RSS peak MB above
    the RSS before the fit), memory from the first run."""
    import tracemalloc

    times, result, traced, rss = [], None, None, None
    for k in range(repeats):
        if k == 0:
            tracemalloc.start()
            sampler = _RssSampler().__enter__()
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
        if k == 0:
            sampler.__exit__()
            rss = sampler.peak - sampler.start
            traced = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    return statistics.median(times), result, traced, rss


def interleaved(problem, repeats):
    """The three jaxreg ways to the process timed round-robin in one process:
    under a load that changes over minutes (a shared 2-core machine), each
    round's ratios compare runs taken seconds apart."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import jaxreg

    n, p = PROBLEMS[problem]
    X, y = make_problem(n, p)
    Xj, yj, tau_arg = jnp.asarray(X), jnp.asarray(y), jnp.asarray(QUANTILES)

    def one(X, y, tau):
        return jaxreg.solve(X, y, jaxreg.QuantileLoss(tau), None, tol=TOL)

    single = jax.jit(one).lower(Xj, yj, jnp.asarray(0.5)).compile()
    batched = jax.jit(jax.vmap(one, in_axes=(None, None, 0))).lower(Xj, yj, tau_arg).compile()
    fits = {
        "jaxreg_process": lambda: jax.block_until_ready(jaxreg.quantile_process(
            Xj, yj, tau_arg, strategy="warm", tol=TOL)),
        "jaxreg_sequential": lambda: [jax.block_until_ready(single(Xj, yj, jnp.asarray(t)))
                                      for t in QUANTILES],
        "jaxreg_batched": lambda: jax.block_until_ready(batched(Xj, yj, tau_arg)),
    }
    times = {name: [] for name in fits}
    for fit in fits.values():
        fit()                               # compile / warm up
    for _ in range(repeats):
        for name, fit in fits.items():
            start = time.perf_counter()
            fit()
            times[name].append(time.perf_counter() - start)
    base = times["jaxreg_process"]
    out = dict(method="jaxreg_interleaved", problem=problem, rounds=repeats, times=times,
               seconds={name: statistics.median(t) for name, t in times.items()},
               ratio_over_process={name: statistics.median(a / b for a, b in zip(t, base))
                                   for name, t in times.items()},
               versions=dict(jax=jax.__version__, device=jax.devices()[0].device_kind))
    print("RESULT " + json.dumps(out))


def worker(method, problem, repeats):
    if method == "jaxreg_interleaved":
        return interleaved(problem, repeats)
    n, p = PROBLEMS[problem]
    X, y = make_problem(n, p)
    taus = QUANTILES if problem.startswith("process") else np.array([0.5])
    out = dict(method=method, problem=problem)
    if method.startswith("jaxreg"):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        import jaxreg

        Xj, yj = jnp.asarray(X), jnp.asarray(y)

        def one(X, y, tau):
            return jaxreg.solve(X, y, jaxreg.QuantileLoss(tau), None, tol=TOL)

        before = _peak_rss_mb()
        start = time.perf_counter()
        if method == "jaxreg_process":
            # The public function as a user calls it (checks included); its
            # first call compiles, and compile_s is that call less a run.
            tau_arg = jnp.asarray(taus)

            def fit():
                return jax.block_until_ready(jaxreg.quantile_process(
                    Xj, yj, tau_arg, strategy="warm", tol=TOL))

            fit()
            first_call = time.perf_counter() - start
            compiled = None
        elif method == "jaxreg_batched":
            tau_arg = jnp.asarray(taus)
            compiled = jax.jit(jax.vmap(one, in_axes=(None, None, 0))).lower(Xj, yj, tau_arg).compile()
            fit = lambda: jax.block_until_ready(compiled(Xj, yj, tau_arg))  # noqa: E731
        else:
            compiled = jax.jit(one).lower(Xj, yj, jnp.asarray(0.5)).compile()
            if method == "jaxreg_sequential":
                def fit():
                    return [jax.block_until_ready(compiled(Xj, yj, jnp.asarray(t))) for t in taus]
            else:
                fit = lambda: jax.block_until_ready(compiled(Xj, yj, jnp.asarray(0.5)))  # noqa: E731
        out["compile_s"] = time.perf_counter() - start
        analysis = compiled.memory_analysis() if compiled is not None else None
        if analysis is not None:
            # XLA's own account of the compiled program: inputs, outputs, scratch.
            out["xla_memory_mb"] = dict(
                arguments=analysis.argument_size_in_bytes / 2**20,
                outputs=analysis.output_size_in_bytes / 2**20,
                temporaries=analysis.temp_size_in_bytes / 2**20)
        seconds, result, traced, rss = _timed(fit, repeats)
        if method == "jaxreg_process":
            out["first_call_s"] = first_call
            out["compile_s"] = first_call - seconds
            result = jaxreg.Solution(result.coefs, result.intercepts, result.n_iter,
                                     result.dual_gaps, result.converged)
        if method == "jaxreg_sequential":
            coefs = [np.asarray(s.coef) for s in result]
            intercepts = [float(s.intercept) for s in result]
            out["n_iter"] = [int(s.n_iter) for s in result]
            out["gap_over_objective"] = [float(s.dual_gap) / pinball(X, y, w, b, t)
                                         for s, w, b, t in zip(result, coefs, intercepts, taus)]
            out["converged"] = all(bool(s.converged) for s in result)
        else:
            coefs = list(np.atleast_2d(np.asarray(result.coef)))
            intercepts = list(np.atleast_1d(np.asarray(result.intercept)))
            out["n_iter"] = np.atleast_1d(np.asarray(result.n_iter)).tolist()
            gaps = np.atleast_1d(np.asarray(result.dual_gap))
            out["gap_over_objective"] = [float(g) / pinball(X, y, w, b, t)
                                         for g, w, b, t in zip(gaps, coefs, intercepts, taus)]
            out["converged"] = bool(np.all(np.asarray(result.converged)))
        out["newton_steps"] = int(np.sum(out["n_iter"]))
        out["versions"] = dict(jax=jax.__version__,
                               device=jax.devices()[0].device_kind)
    elif method == "sklearn_highs":
        import sklearn
        from sklearn.linear_model import QuantileRegressor

        before = _peak_rss_mb()

        def fit():
            return [QuantileRegressor(quantile=float(t), alpha=0.0, solver="highs").fit(X, y)
                    for t in taus]

        seconds, result, traced, rss = _timed(fit, repeats)
        coefs = [m.coef_ for m in result]
        intercepts = [float(m.intercept_) for m in result]
        out["versions"] = dict(sklearn=sklearn.__version__)
    elif method == "statsmodels":
        import statsmodels
        from statsmodels.regression.quantile_regression import QuantReg

        A = np.column_stack([np.ones(n), X])
        before = _peak_rss_mb()

        def fit():
            # Default settings (IRLS, max_iter=1000, p_tol=1e-6).
            return [QuantReg(y, A).fit(q=float(t)) for t in taus]

        seconds, result, traced, rss = _timed(fit, repeats)
        coefs = [np.asarray(r.params[1:]) for r in result]
        intercepts = [float(r.params[0]) for r in result]
        out["n_iter"] = [int(r.iterations) for r in result]
        out["versions"] = dict(statsmodels=statsmodels.__version__)
    else:
        raise ValueError(method)
    out["seconds"] = seconds
    out["peak_rss_mb"] = rss
    out["max_rss_growth_mb"] = _peak_rss_mb() - before   # includes XLA's compiler for jaxreg
    out["tracemalloc_mb"] = traced
    out["objectives"] = [pinball(X, y, w, b, t) for w, b, t in zip(coefs, intercepts, taus)]
    out["coefs"] = [np.asarray(w).tolist() for w in coefs]
    out["intercepts"] = intercepts
    out["taus"] = taus.tolist()
    out["data_mb"] = X.nbytes / 2**20
    print("RESULT " + json.dumps(out))


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def run(method, problem, repeats, timeout):
    command = [sys.executable, __file__, "--worker", method, problem, "--repeats", str(repeats)]
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        print(f"  {method:18s} {problem}: stopped after the {timeout:.0f} s timeout")
        return dict(method=method, problem=problem, timed_out=True, timeout_s=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            result["wall_s"] = time.perf_counter() - start
            return result
    raise RuntimeError(f"{method} on {problem} failed:\n{done.stdout}\n{done.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PROBLEM"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--highs-timeout", type=float, default=240.0)
    parser.add_argument("--problems", nargs="+", choices=list(PROBLEMS), default=list(PROBLEMS),
                        help="run only these problems (default: all)")
    parser.add_argument("--output", default=None,
                        help="default: benchmarks/results/cpu/bench_quantile.json for all "
                             "problems, bench_quantile_<problems>.json for a subset")
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker, args.repeats)
    if args.output is None:
        name = ("bench_quantile.json" if set(args.problems) == set(PROBLEMS)
                else "bench_quantile_" + "_".join(args.problems) + ".json")
        args.output = str(HERE / "results" / "cpu" / name)

    plan = [
        ("single_20000x20", ["jaxreg", "sklearn_highs", "statsmodels"]),
        ("single_200000x50", ["jaxreg", "sklearn_highs", "statsmodels"]),
        ("process_20000x20", ["jaxreg_process", "jaxreg_batched", "jaxreg_sequential",
                              "statsmodels", "jaxreg_interleaved"]),
    ]
    plan = [(problem, methods) for problem, methods in plan if problem in args.problems]
    results = {}
    for problem, methods in plan:
        print(f"{problem}:")
        results[problem] = {}
        for method in methods:
            # The peers run once (seconds to minutes each); jaxreg's median of repeats.
            repeats = args.repeats if method.startswith("jaxreg") else 1
            if method == "jaxreg_interleaved":
                repeats = max(args.repeats, 9)
            timeout = args.highs_timeout if method == "sklearn_highs" else 600.0
            results[problem][method] = run(method, problem, repeats, timeout)
    # The reference for the process: HiGHS at three quantiles.
    process_reference = _process_reference() if "process_20000x20" in results else {}
    _check_and_report(results, process_reference)
    payload = dict(tol=TOL, quantiles=QUANTILES.tolist(), machine=platform.machine(),
                   processor=platform.processor(), cpus=os.cpu_count(),
                   python=platform.python_version(), results=results,
                   highs_process_reference={str(k): v for k, v in process_reference.items()})
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    for problem in results.values():
        for entry in problem.values():
            entry.pop("coefs", None)
    path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {path}")


def _process_reference():
    """HiGHS (scikit-learn) objectives at tau = 0.05, 0.5, 0.95 on the process problem."""
    from sklearn.linear_model import QuantileRegressor

    X, y = make_problem(*PROBLEMS["process_20000x20"])
    reference = {}
    for tau in (0.05, 0.5, 0.95):
        model = QuantileRegressor(quantile=tau, alpha=0.0, solver="highs").fit(X, y)
        reference[tau] = pinball(X, y, model.coef_, model.intercept_, tau)
    return reference


def _check_and_report(results, process_reference):
    print("\nAccuracy (objective relative to HiGHS's; jaxreg's certified gap / objective):")
    for problem, entries in results.items():
        if problem.startswith("process"):
            for method, entry in entries.items():
                if method == "jaxreg_interleaved":
                    continue
                excess = []
                for tau, f_ref in process_reference.items():
                    k = entry["taus"].index(tau)
                    excess.append((entry["objectives"][k] - f_ref) / f_ref)
                entry["objective_excess_vs_highs"] = excess
                entry["answer_ok"] = bool(max(excess) <= 1e-9 and entry.get("converged", True))
                steps = (f"; {entry['newton_steps']} Newton steps in all"
                         if "newton_steps" in entry else "")
                print(f"  {problem} {method:18s} excess at tau=.05/.5/.95: "
                      + " ".join(f"{e:+.1e}" for e in excess)
                      + ("" if entry["answer_ok"] else "  MISMATCH (> 1e-9 or not converged)")
                      + steps)
            continue
        highs = entries.get("sklearn_highs", {})
        for method, entry in entries.items():
            if entry.get("timed_out"):
                continue
            if highs and not highs.get("timed_out"):
                f_ref = highs["objectives"][0]
                entry["objective_excess_vs_highs"] = (entry["objectives"][0] - f_ref) / f_ref
                note = f"excess {entry['objective_excess_vs_highs']:+.1e} vs HiGHS"
            else:
                jax_entry = entries["jaxreg"]
                f_ref = jax_entry["objectives"][0] * (1 - jax_entry["gap_over_objective"][0])
                entry["objective_excess_vs_jaxreg_lower_bound"] = (entry["objectives"][0] - f_ref) / f_ref
                note = (f"excess <= {entry['objective_excess_vs_jaxreg_lower_bound']:+.1e} vs the "
                        "lower bound from jaxreg's dual (HiGHS timed out)")
            if "gap_over_objective" in entry:
                note += f"; certified gap/objective {max(entry['gap_over_objective']):.1e}"
            print(f"  {problem} {method:18s} {note}")

    print("\nTimes (median s), peak memory above the data (RSS MB / tracemalloc MB):")
    for problem, entries in results.items():
        base = entries.get("jaxreg") or entries.get("jaxreg_process")
        for method, entry in entries.items():
            if entry.get("timed_out"):
                print(f"  {problem} {method:18s} > {entry['timeout_s']:.0f} s (timed out)")
                continue
            if method == "jaxreg_interleaved":
                print(f"  {problem} round-robin in one process, {entry['rounds']} rounds "
                      "(median s; median of the per-round ratios to jaxreg_process):")
                for name, seconds in entry["seconds"].items():
                    print(f"      {name:18s} {seconds:8.3f} s  x{entry['ratio_over_process'][name]:5.2f}")
                continue
            ratio = entry["seconds"] / base["seconds"]
            compile_note = (f" (compile {entry['compile_s']:.2f} s)"
                            if "compile_s" in entry else "")
            if "first_call_s" in entry:
                compile_note = (f" (first call {entry['first_call_s']:.2f} s: compile "
                                f"~{entry['compile_s']:.2f} s)")
            print(f"  {problem} {method:18s} {entry['seconds']:8.3f} s  x{ratio:6.1f} of jaxreg"
                  f"{compile_note}  RSS +{entry['peak_rss_mb']:.0f} MB, tracemalloc "
                  f"{entry['tracemalloc_mb']:.0f} MB (X is {entry['data_mb']:.0f} MB)"
                  + (f", XLA temporaries {entry['xla_memory_mb']['temporaries']:.0f} MB"
                     if "xla_memory_mb" in entry else ""))
            entry["time_over_jaxreg"] = ratio


if __name__ == "__main__":
    main()
