"""Cost and accuracy of hypergradients (``jaxreg.hypergrad``) on a 200 x 5000 lasso.

The problem is BENCHMARKS.md's (c), Toeplitz AR(1) design 200 x 5000 with a
1 % sparse truth, drawn with 50 more rows for validation; the
hypergradient is that of the validation mean squared error
``h(alpha) = mean((X_val w(alpha) + b(alpha) - y_val)^2)``. For each
``alpha`` in ``{alpha_max / 10, alpha_max / 100}`` the script

1. checks the answer first: the implicit ``jax.grad(h)`` against central
   finite differences of ``h`` re-solved at ``tol = 1e-12`` (a relative step
   of 1e-6; the lasso path is piecewise linear in ``alpha`` so differences are
   exact while the support does not change);
2. times, at the same ``tol``, the forward solve alone (``jaxreg.solve``) and
   the hypergradient with its forward solve (``jax.grad(h)``), medians of
   ``--repeats`` steady-state runs, compile times apart, and prints the ratio
   (the issue's bound: 1.5);
3. times the primal solve through ``jaxreg.solve`` (with the custom_jvp rule
   attached) against the bare coordinate-descent function jitted directly:
   the rule must add nothing to the primal;
4. reports unrolled differentiation (``differentiation="unrolled"``: FISTA
   for ``--unrolled-steps`` iterations, autodiff through them): its time, the
   compiled program's temporary memory (XLA's memory analysis, against the
   implicit one's) and its relative error against the implicit hypergradient.

Results go to ``benchmarks/results/<device>/bench_hypergrad.json``.

    python benchmarks/bench_hypergrad.py [--repeats 5] [--tol 1e-6]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.losses import SquaredLoss  # noqa: E402
from jaxreg.penalties import L1  # noqa: E402
from jaxreg.solvers import coordinate_descent  # noqa: E402
from _problems import toeplitz_ar1  # noqa: E402  (BENCHMARKS.md (c))


def timed(function, repeats):
    """(first call incl. compile, median of steady-state calls) in seconds."""
    start = time.perf_counter()
    jax.block_until_ready(function())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def interleaved(calls, repeats):
    """Min and median seconds of each call, the calls alternated (a loaded
    machine slows them alike); every call is compiled and run once first."""
    for call in calls.values():
        jax.block_until_ready(call())
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            times[name].append(time.perf_counter() - start)
    return {name: dict(min=min(t), median=statistics.median(t)) for name, t in times.items()}


def temp_bytes(function, *args):
    """Temporary memory of the compiled program (XLA's memory analysis)."""
    compiled = jax.jit(function).lower(*args).compile()
    analysis = compiled.memory_analysis()
    return None if analysis is None else int(analysis.temp_size_in_bytes)


def _support_solution(X, y, alpha, sign):
    """The lasso solution with support and signs ``sign`` (0 off the support), in
    NumPy: the centred KKT system on the support, and the largest KKT
    violation (relative to alpha) of the result, which certifies it."""
    X, y = np.asarray(X), np.asarray(y)
    S = sign != 0
    n = X.shape[0]
    Xc, yc = X - X.mean(0), y - y.mean()
    G = Xc[:, S].T @ Xc[:, S] / n
    c = Xc.T @ yc / n
    w = np.zeros(X.shape[1])
    w[S] = np.linalg.solve(G, c[S] - alpha * sign[S])
    correlation = c - Xc.T @ (Xc @ w) / n
    violation = np.max(np.abs(correlation[S] - alpha * sign[S]))
    if (~S).any():
        violation = max(violation, np.max(np.abs(correlation[~S])) - alpha)
    violation = violation if np.array_equal(np.sign(w), sign) else np.inf
    return w, y.mean() - X.mean(0) @ w, G, violation / alpha


def closed_form_value(X, y, X_val, y_val, alpha, sign):
    w, b, _, _ = _support_solution(X, y, alpha, sign)
    return float(np.mean((np.asarray(X_val) @ w + b - np.asarray(y_val)) ** 2))


def closed_form_hypergradient(X, y, X_val, y_val, alpha, sign):
    r"""dh/dalpha from dw_S/dalpha = -G_SS^{-1} sign(w_S), db = -x_mean^T dw (NumPy)."""
    X_val, y_val = np.asarray(X_val), np.asarray(y_val)
    w, b, G, violation = _support_solution(X, y, alpha, sign)
    dw = np.zeros(w.shape)
    dw[sign != 0] = -np.linalg.solve(G, sign[sign != 0])
    db = -np.asarray(X).mean(0) @ dw
    residual = X_val @ w + b - y_val
    return float(2 * np.mean(residual * (X_val @ dw + db))), violation


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--unrolled-steps", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()

    X_all, y_all = toeplitz_ar1(n=250)
    X, y, X_val, y_val = X_all[:200], y_all[:200], X_all[200:], y_all[200:]
    X, y, X_val, y_val = (jnp.asarray(a) for a in (X, y, X_val, y_val))
    loss = SquaredLoss()
    amax = float(jaxreg.alpha_max(X, y, loss, L1(1.0)))

    def h(alpha, tol, differentiation="implicit", max_iter=None):
        sol = jaxreg.solve(X, y, loss, L1(alpha), tol=tol, max_iter=max_iter,
                           differentiation=differentiation)
        return jnp.mean((X_val @ sol.coef + sol.intercept - y_val) ** 2)

    rows = []
    for divisor in (10, 100):
        alpha = amax / divisor
        # 1. the answer: implicit (at a tight solve) vs the NumPy closed form on
        # the support of the exact (KKT-checked) solution, and vs differences
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
            grad_tight = float(jax.grad(h)(alpha, 1e-12, "implicit", 100000))
            coef = np.asarray(jaxreg.solve(X, y, loss, L1(alpha), tol=1e-12,
                                           max_iter=100000).coef)
        reference, kkt = closed_form_hypergradient(X, y, X_val, y_val, alpha, np.sign(coef))
        error = abs(grad_tight - reference) / abs(reference)
        step = 1e-6 * alpha
        fd = (closed_form_value(X, y, X_val, y_val, alpha + step, np.sign(coef))
              - closed_form_value(X, y, X_val, y_val, alpha - step, np.sign(coef))) / (2 * step)
        support = int(np.sum(coef != 0))
        print(f"alpha_max/{divisor}: |S| = {support}, implicit {grad_tight:.12e}, "
              f"closed form {reference:.12e} (KKT residual {kkt:.1e} alpha, central "
              f"differences {fd:.12e}), relative error {error:.2e}")
        assert np.isfinite(grad_tight) and error <= 1e-5 and kkt <= 1e-8

        # 2. cost at the working tol: h and its gradient, jitted with the data
        # as arguments, and jaxreg.solve / jax.grad(h) called eagerly
        tol = args.tol

        def h_of(X, y, X_val, y_val, alpha):
            sol = jaxreg.solve(X, y, loss, L1(alpha), tol=tol)
            return jnp.mean((X_val @ sol.coef + sol.intercept - y_val) ** 2)

        data = (X, y, X_val, y_val, alpha)
        forward_jit = jax.jit(h_of)
        grad_jit = jax.jit(jax.grad(h_of, argnums=4))
        grad_eager = jax.grad(h)
        bare = jax.jit(lambda X, y, a: coordinate_descent(X, y, loss, L1(a), tol=tol).coef)
        calls = {
            "forward_jit": lambda: forward_jit(*data),
            "hypergradient_jit": lambda: grad_jit(*data),
            "forward_eager": lambda: jaxreg.solve(X, y, loss, L1(alpha), tol=tol).coef,
            "hypergradient_eager": lambda: grad_eager(alpha, tol),
            "bare_solver_jit": lambda: bare(X, y, alpha),
        }
        times = interleaved(calls, args.repeats)
        n_iter = int(jaxreg.solve(X, y, loss, L1(alpha), tol=tol).n_iter)
        row = dict(alpha=f"alpha_max/{divisor}", support=support, epochs=n_iter, tol=tol,
                   implicit_vs_closed_form_relative_error=error, kkt_violation=kkt,
                   times_s=times,
                   ratio_jit_min=times["hypergradient_jit"]["min"] / times["forward_jit"]["min"],
                   ratio_jit_median=(times["hypergradient_jit"]["median"]
                                     / times["forward_jit"]["median"]),
                   ratio_eager_min=(times["hypergradient_eager"]["min"]
                                    / times["forward_eager"]["min"]),
                   solve_over_bare_min=(times["forward_eager"]["min"]
                                        / times["bare_solver_jit"]["min"]),
                   implicit_temp_bytes=temp_bytes(jax.grad(lambda a: h(a, tol)), alpha),
                   unrolled=[])
        print(f"  {n_iter} epochs; min / median of {args.repeats} interleaved runs (ms):")
        for name, t in times.items():
            print(f"    {name:22s} {t['min'] * 1e3:8.1f} {t['median'] * 1e3:8.1f}")
        print(f"  hypergradient / forward: jit {row['ratio_jit_min']:.2f} (min), "
              f"{row['ratio_jit_median']:.2f} (median); eager {row['ratio_eager_min']:.2f} "
              f"(min); solve / bare solver {row['solve_over_bare_min']:.2f} (min)")

        # 4. unrolled FISTA
        for steps in args.unrolled_steps:
            grad_unrolled = jax.grad(lambda a: h(a, tol, "unrolled", steps))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", jaxreg.ConvergenceWarning)
                _, unrolled_time = timed(lambda: grad_unrolled(alpha), max(1, args.repeats // 2))
                value = float(grad_unrolled(alpha))
            memory = temp_bytes(grad_unrolled, alpha)
            rel = abs(value - grad_tight) / abs(grad_tight)
            row["unrolled"].append(dict(steps=steps, hypergradient_s=unrolled_time,
                                        temp_bytes=memory, relative_error=rel))
            print(f"  unrolled {steps} FISTA steps: {unrolled_time * 1e3:.1f} ms, "
                  f"temp memory {memory / 2**20:.1f} MiB "
                  f"(implicit {row['implicit_temp_bytes'] / 2**20:.1f} MiB), "
                  f"relative error vs implicit {rel:.2e}")
        rows.append(row)

    device = jax.devices()[0].device_kind
    meta = dict(device=device, machine=platform.machine(), processor=platform.processor(),
                cpu_count=__import__("os").cpu_count(), jax=jax.__version__,
                jaxreg=jaxreg.__version__, problem="(c) Toeplitz AR(1) 200x5000, "
                "200 training + 50 validation rows", repeats=args.repeats)
    out = pathlib.Path(__file__).parent / "results" / device.replace(" ", "_").lower()
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_hypergrad.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    print(f"written to {out / 'bench_hypergrad.json'}")


if __name__ == "__main__":
    main()
