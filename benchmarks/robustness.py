r"""Robustness, stability and non-uniqueness of least absolute deviations (LAD)
against least squares (LS) and Huber regression, with jaxreg's public API.

1. *Breakdown.* Coefficient error :math:`\|\hat w - w\|_2` versus the fraction
   (0-40 %) of (a) gross outliers in ``y`` (one-sided: ``y += 100``, 100
   noise standard deviations) and (b) bad leverage points (rows
   moved to ``x = 10 (1, ..., 1)`` with ``y = 0``), for LS (``SquaredLoss``),
   Huber (``HuberRegressor``, scikit-learn's semantics with its joint scale,
   ``epsilon = 1.35``, ``alpha = 0``) and LAD (``AbsoluteLoss``; all the draws of
   one fraction solved in one ``vmap``-ed call), over ``--draws`` seeded draws
   (median and quartiles). An estimator "breaks down" at the first fraction
   where its median error exceeds 5 times its error on clean data.
2. *Stability.* (a) The slope of a small LAD and LS fit while one design
   point moves continuously: LS moves smoothly, LAD follows its optimal vertex
   and jumps when the optimal basis changes (``X`` enters the linear
   program's constraint matrix; a change of ``y`` alone moves the LAD
   solution continuously, piecewise linearly). (b) The change in the coefficients under random
   perturbations of all responses of size :math:`\delta`
   (:math:`\|\Delta\hat w\| / \delta`, over draws).
3. *Non-uniqueness.* Problems whose LAD solution set is a segment (the median
   of an even number of points, and a slope through the origin): the interior
   point's answer, its objective against HiGHS's (``scipy.optimize.linprog``),
   and where it lies in the segment.

    python benchmarks/robustness.py [--draws 20]

Writes ``benchmarks/results/cpu/robustness.json`` and the plots
``docs/img/robust_breakdown.png``, ``robust_stability.png`` and
``robust_nonunique.png`` (embedded in ``docs/robust.md``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import optimize  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.estimators import HuberRegressor  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
IMG = HERE.parent / "docs" / "img"
N, P = 200, 5
FRACTIONS = np.round(np.arange(0.0, 0.41, 0.05), 2)
TRUE_W = np.array([1.0, -1.0, 0.5, 2.0, -0.5])


# --------------------------------------------------------------------------
# The three estimators
# --------------------------------------------------------------------------


def fit_ls(X, y):
    sol = jaxreg.solve(X, y, jaxreg.SquaredLoss(), None)
    return np.asarray(sol.coef)


def fit_lad_batch(X, Y):
    """LAD fits of a batch of (X, y) draws in one call: ``vmap`` over draws."""
    # tol = 1e-8 (of P_null): far below the errors plotted; repeated leverage
    # rows make the program degenerate, where 1e-10 is near round-off.
    sols = jax.jit(jax.vmap(lambda X, y: jaxreg.solve(X, y, jaxreg.AbsoluteLoss(), None,
                                                      tol=1e-8)))(jnp.asarray(X), jnp.asarray(Y))
    assert bool(np.all(np.asarray(sols.converged)))
    return np.asarray(sols.coef)


def fit_huber(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HuberRegressor(alpha=0.0, max_iter=1000).fit(X, y).coef_


# --------------------------------------------------------------------------
# 1. Breakdown
# --------------------------------------------------------------------------


def contaminate(rng, fraction, kind):
    X = rng.standard_normal((N, P))
    y = X @ TRUE_W + 1.0 + rng.standard_normal(N)
    m = int(round(fraction * N))
    bad = rng.permutation(N)[:m]
    if kind == "y":
        y[bad] += 100.0                       # gross, one-sided outliers in y
    else:
        X[bad] = 10.0                         # bad leverage: far-out rows ...
        y[bad] = 0.0                          # ... with responses off the model
    return X, y


def breakdown(draws):
    results = {}
    for kind in ("y", "leverage"):
        errors = {"least squares": [], "Huber": [], "LAD": []}
        for fraction in FRACTIONS:
            rng = np.random.default_rng(int(1000 * fraction) + (0 if kind == "y" else 7))
            data = [contaminate(rng, fraction, kind) for _ in range(draws)]
            Xs = np.stack([d[0] for d in data])
            Ys = np.stack([d[1] for d in data])
            lad = fit_lad_batch(Xs, Ys)
            errors["LAD"].append([float(np.linalg.norm(w - TRUE_W)) for w in lad])
            errors["least squares"].append([float(np.linalg.norm(fit_ls(X, y) - TRUE_W))
                                            for X, y in data])
            errors["Huber"].append([float(np.linalg.norm(fit_huber(X, y) - TRUE_W))
                                    for X, y in data])
        summary = {}
        for name, per_fraction in errors.items():
            q = np.percentile(np.array(per_fraction), [25, 50, 75], axis=1)
            clean = q[1][0]
            broken = [f for f, m in zip(FRACTIONS, q[1]) if m > 5 * clean]
            summary[name] = dict(q25=q[0].tolist(), median=q[1].tolist(), q75=q[2].tolist(),
                                 breaks_down_at=(float(broken[0]) if broken else None))
        results[kind] = summary
    return results


def plot_breakdown(results):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    titles = {"y": "gross outliers in y (y += 100)",
              "leverage": "bad leverage points (x = 10, y = 0)"}
    for ax, kind in zip(axes, ("y", "leverage")):
        for name, marker in (("least squares", "s"), ("Huber", "^"), ("LAD", "o")):
            entry = results[kind][name]
            f = 100 * FRACTIONS
            ax.plot(f, entry["median"], marker=marker, label=name)
            ax.fill_between(f, entry["q25"], entry["q75"], alpha=0.2)
        ax.set_yscale("log")
        ax.set_xlabel("contaminated fraction of the samples (%)")
        ax.set_title(titles[kind])
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(r"coefficient error $\|\hat w - w\|_2$ (median, quartiles)")
    axes[0].legend()
    fig.suptitle(f"Breakdown: n = {N}, p = {P}, Gaussian X, N(0, 1) noise")
    fig.tight_layout()
    path = IMG / "robust_breakdown.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------
# 2. Stability
# --------------------------------------------------------------------------


def stability_path():
    """Slope of LS and LAD while x_k moves over [-3, 3] (n = 12, one feature)."""
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(-2, 2, 12))
    y = 0.8 * x + 0.5 * rng.standard_normal(12)
    k = int(np.argmax(x))                     # the point that moves: the rightmost one
    shifts = np.linspace(-3.0, 3.0, 601)
    Xs = np.repeat(x[None, :, None], len(shifts), axis=0)
    Xs[:, k, 0] = x[k] + shifts
    lad = np.asarray(jax.jit(jax.vmap(lambda X: jaxreg.solve(
        X, jnp.asarray(y), jaxreg.AbsoluteLoss(), None, tol=1e-12).coef))(jnp.asarray(Xs)))[:, 0]
    ls = np.array([fit_ls(X, y)[0] for X in Xs])
    step = shifts[1] - shifts[0]
    # A jump: a change of the slope by more than 0.05 within one grid step of
    # 0.01 (both fits otherwise change by less than 0.005 per step here).
    lad_steps, ls_steps = np.abs(np.diff(lad)), np.abs(np.diff(ls))
    return dict(shifts=shifts.tolist(), lad=lad.tolist(), ls=ls.tolist(), grid_step=step,
                lad_largest_step=float(lad_steps.max()), lad_n_jumps=int(np.sum(lad_steps > 0.05)),
                ls_largest_step=float(ls_steps.max()), ls_n_jumps=int(np.sum(ls_steps > 0.05)))


def stability_random(draws):
    """||w(y + delta e) - w(y)|| / delta over random e ~ N(0, I), n = 50, p = 3."""
    rng = np.random.default_rng(11)
    n, p = 50, 3
    X = rng.standard_normal((n, p))
    y = X @ TRUE_W[:p] + rng.standard_normal(n)
    deltas = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    E = rng.standard_normal((draws, n))
    base_lad = fit_lad_batch(X[None], y[None])[0]
    base_ls = fit_ls(X, y)
    out = {}
    for delta in deltas:
        Y = y[None, :] + delta * E
        lad = fit_lad_batch(np.repeat(X[None], draws, axis=0), Y)
        ls = np.array([fit_ls(X, yy) for yy in Y])
        out[delta] = dict(
            lad=np.linalg.norm(lad - base_lad, axis=1).tolist(),
            ls=np.linalg.norm(ls - base_ls, axis=1).tolist())
    return out


def plot_stability(path_result, random_result):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    ax.plot(path_result["shifts"], path_result["ls"], label="least squares")
    ax.plot(path_result["shifts"], path_result["lad"], label="LAD", marker=".", markersize=2,
            linestyle="none")
    ax.set_xlabel("shift added to x of the rightmost point")
    ax.set_ylabel("fitted slope")
    ax.set_title("one design point moves (n = 12)")
    ax.legend()
    ax.grid(alpha=0.3)
    ax = axes[1]
    deltas = np.array(list(random_result))
    for name, key, marker in (("least squares", "ls", "s"), ("LAD", "lad", "o")):
        values = np.array([random_result[d][key] for d in random_result])
        ratio = values / deltas[:, None]
        ax.plot(deltas, np.median(ratio, axis=1), marker=marker, label=f"{name}, median")
        ax.fill_between(deltas, np.percentile(ratio, 10, axis=1), np.percentile(ratio, 90, axis=1),
                        alpha=0.2, label=f"{name}, 10-90 %")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"perturbation size $\delta$ (y + $\delta$ N(0, I))")
    ax.set_ylabel(r"$\|\Delta \hat w\|_2 / \delta$")
    ax.set_title("all responses perturbed (n = 50, p = 3)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = IMG / "robust_stability.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------
# 3. Non-uniqueness
# --------------------------------------------------------------------------


def highs_lad(X, y, fit_intercept):
    """min (1/n) sum |y - Xw - b| as an LP by HiGHS: (w, b, objective)."""
    n, p = X.shape
    on = 1.0 if fit_intercept else 0.0
    c = np.concatenate([np.zeros(2 * p + 2), np.ones(2 * n) / n])
    A = np.hstack([X, -X, on * np.ones((n, 1)), -on * np.ones((n, 1)), np.eye(n), -np.eye(n)])
    res = optimize.linprog(c, A_eq=A, b_eq=y, bounds=(0, None), method="highs")
    x = res.x
    return x[:p] - x[p:2 * p], on * (x[2 * p] - x[2 * p + 1]), res.fun


def nonunique():
    cases = {
        # min_c sum |y_i - c|, y = 1..4: every c in [2, 3].
        "median of 1, 2, 3, 4": (np.ones((4, 1)), np.array([1.0, 2.0, 3.0, 4.0]), (2.0, 3.0)),
        # through the origin, (1, 1), (1, 3), (-1, -1), (-1, -3): every slope in [1, 3].
        "slope through (±1, ±1), (±1, ±3)": (np.array([[1.0], [1.0], [-1.0], [-1.0]]),
                                             np.array([1.0, 3.0, -1.0, -3.0]), (1.0, 3.0)),
        # the median of 1, 2, 3, 4, 10, 20 (a segment [3, 4]), with unequal spacing.
        "median of 1, 2, 3, 4, 10, 20": (np.ones((6, 1)),
                                         np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0]), (3.0, 4.0)),
    }
    out = {}
    for name, (X, y, segment) in cases.items():
        sol = jaxreg.solve(X, y, jaxreg.AbsoluteLoss(), None, fit_intercept=False, tol=1e-12)
        w_ip = float(sol.coef[0])
        f_ip = float(np.mean(np.abs(y - X[:, 0] * w_ip)))
        w_lp, _, f_lp = highs_lad(X, y, False)
        out[name] = dict(segment=segment, interior_point=w_ip, highs=float(w_lp[0]),
                         objective_interior_point=f_ip, objective_highs=float(f_lp),
                         relative_difference=abs(f_ip - f_lp) / f_lp,
                         dual_gap=float(sol.dual_gap), n_iter=int(sol.n_iter))
    return out


def plot_nonunique(result):
    fig, axes = plt.subplots(1, len(result), figsize=(12, 3.6))
    for ax, (name, entry) in zip(axes, result.items()):
        lo, hi = entry["segment"]
        grid = np.linspace(lo - 1.5, hi + 1.5, 400)
        X, y = {
            "median of 1, 2, 3, 4": (np.ones(4), np.array([1.0, 2.0, 3.0, 4.0])),
            "slope through (±1, ±1), (±1, ±3)": (np.array([1.0, 1.0, -1.0, -1.0]),
                                                 np.array([1.0, 3.0, -1.0, -3.0])),
            "median of 1, 2, 3, 4, 10, 20": (np.ones(6),
                                             np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0])),
        }[name]
        values = [np.mean(np.abs(y - X * c)) for c in grid]
        ax.plot(grid, values, color="0.4", label="objective")
        ax.axvspan(lo, hi, color="tab:green", alpha=0.15, label="optimal set")
        ax.axvline(entry["interior_point"], color="tab:blue", label="interior point")
        ax.axvline(entry["highs"], color="tab:red", linestyle="--", label="HiGHS (vertex)")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("coefficient")
    axes[0].set_ylabel("(1/n) sum |y - x c|")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = IMG / "robust_nonunique.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--output", default=str(HERE / "results" / "cpu" / "robustness.json"))
    args = parser.parse_args()
    IMG.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    result = breakdown(args.draws)
    print(f"1. Breakdown (median coefficient error over {args.draws} draws):")
    for kind, summary in result.items():
        print(f"  contamination: {kind}")
        print("    fraction  " + " ".join(f"{100 * f:6.0f}%" for f in FRACTIONS))
        for name, entry in summary.items():
            print(f"    {name:14s}" + " ".join(f"{m:7.3f}" for m in entry["median"])
                  + f"   breaks down at {entry['breaks_down_at']}")
    print("  plot:", plot_breakdown(result))

    path_result = stability_path()
    random_result = stability_random(args.draws)
    print("2. Stability")
    print(f"  x of one point moved over [-3, 3] in steps of {path_result['grid_step']:.3f}: "
          f"LS slope: largest step {path_result['ls_largest_step']:.4f}, "
          f"{path_result['ls_n_jumps']} jumps; LAD slope: largest step "
          f"{path_result['lad_largest_step']:.4f}, {path_result['lad_n_jumps']} jumps (> 0.05)")
    for delta, entry in random_result.items():
        lad, ls = np.array(entry["lad"]) / delta, np.array(entry["ls"]) / delta
        print(f"  delta {delta:7.0e}: |dw|/delta LS median {np.median(ls):.3f} (max "
              f"{ls.max():.3f}), LAD median {np.median(lad):.3f} (max {lad.max():.3f})")
    print("  plot:", plot_stability(path_result, random_result))

    nonunique_result = nonunique()
    print("3. Non-uniqueness (the LAD solution set is a segment)")
    for name, entry in nonunique_result.items():
        print(f"  {name}: optimal set {entry['segment']}, interior point "
              f"{entry['interior_point']:.9f}, HiGHS {entry['highs']:.9f}; objectives "
              f"{entry['objective_interior_point']:.12f} vs {entry['objective_highs']:.12f}")
    print("  plot:", plot_nonunique(nonunique_result))

    payload = dict(n=N, p=P, draws=args.draws, fractions=FRACTIONS.tolist(), breakdown=result,
                   stability_path={k: v for k, v in path_result.items()
                                   if k not in ("shifts", "lad", "ls")},
                   stability_random={str(d): dict(
                       ls_median=float(np.median(np.array(e["ls"]) / d)),
                       ls_max=float(np.max(np.array(e["ls"]) / d)),
                       lad_median=float(np.median(np.array(e["lad"]) / d)),
                       lad_max=float(np.max(np.array(e["lad"]) / d)))
                       for d, e in random_result.items()},
                   nonunique=nonunique_result, seconds=time.perf_counter() - start)
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {path} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
