"""Gradient-based tuning of the lasso on diabetes with added noise features.

Data: scikit-learn's diabetes (442 x 10, bundled with jaxreg), with
``--noise-features`` standard Gaussian columns appended (seeded), rows
shuffled and split into training (50 %), validation (25 %) and test (25 %).

1. One alpha: the criterion is the validation loss (half the mean squared
   error) of the lasso fitted on the training rows. Reference: the best alpha
   of the fixed 100-point grid (alpha_max down to 1e-3 alpha_max), each
   point solved by the warm-started path (its epochs summed). Gradient tuning
   (:func:`jaxreg.tune`, Adam on log alpha, warm-started inner solves) from
   several starting points; for each: the validation loss reached, its excess
   over the grid's best, the epochs used.
2. Per-feature lambda_j (weighted lasso, 10 + noise features): tuned on the
   validation rows from the best single alpha; compared on the test rows with
   the best single alpha of the grid.

Every inner solve uses tol=1e-8 (relative to P_null). Results go to
``benchmarks/results/<device>/tune_experiment.json``.

    python benchmarks/tune_experiment.py [--noise-features 100]
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxreg  # noqa: E402
from jaxreg.datasets import load_diabetes  # noqa: E402
from jaxreg.losses import SquaredLoss  # noqa: E402
from jaxreg.penalties import L1, WeightedL1  # noqa: E402
from jaxreg.tuning import tune  # noqa: E402

TOL = 1e-8


def held_out(X, y, coef, intercept):
    return 0.5 * float(np.mean((np.asarray(X) @ np.asarray(coef) + float(intercept) - y) ** 2))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--noise-features", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = (np.asarray(a) for a in load_diabetes())
    rng = np.random.default_rng(args.seed)
    X = np.hstack([X, rng.standard_normal((X.shape[0], args.noise_features)) * X.std(0).mean()])
    order = rng.permutation(X.shape[0])
    X, y = X[order], y[order]
    n = X.shape[0]
    tr, va = slice(0, n // 2), slice(n // 2, 3 * n // 4)
    te = slice(3 * n // 4, n)
    Xtr, ytr, Xva, yva, Xte, yte = X[tr], y[tr], X[va], y[va], X[te], y[te]
    loss = SquaredLoss()

    # --- the grid: warm-started 100-point path on the training rows
    grid = jaxreg.path(Xtr, ytr, loss, L1(1.0), n_alphas=100, eps=1e-3, tol=TOL)
    grid_values = np.array([held_out(Xva, yva, c, b) for c, b in zip(grid.coefs, grid.intercepts)])
    k = int(np.argmin(grid_values))
    best_alpha, best_value = float(grid.alphas[k]), float(grid_values[k])
    grid_epochs = int(np.sum(grid.n_iter))
    amax = float(grid.alphas[0])
    print(f"grid: best alpha {best_alpha:.4g} (alpha_max/{amax / best_alpha:.1f}), "
          f"validation loss {best_value:.3f}, {grid_epochs} epochs over 100 points")

    # --- one alpha from several starts
    starts = [amax / 3, amax / 30, amax / 300]
    runs = []
    for start in starts:
        result = tune(Xtr, ytr, loss, L1(1.0), validation=(Xva, yva), init=start, tol=TOL)
        excess = float(result.value) / best_value - 1.0
        runs.append(dict(start=start, alpha=float(result.alpha), value=float(result.value),
                         excess=excess, steps=result.n_steps, epochs=result.n_iter))
        print(f"  start alpha_max/{amax / start:.0f}: alpha {float(result.alpha):.4g}, "
              f"validation {float(result.value):.3f} ({100 * excess:+.2f} % vs grid), "
              f"{result.n_steps} steps, {result.n_iter} epochs")

    # --- per-feature lambda_j from the best single alpha
    weighted = tune(Xtr, ytr, loss, WeightedL1(jnp.ones(X.shape[1])), validation=(Xva, yva),
                    init=best_alpha, per_feature=True, tol=TOL, max_steps=200)
    sol_w = jaxreg.solve(Xtr, ytr, loss, weighted.penalty, tol=TOL)
    sol_1 = jaxreg.solve(Xtr, ytr, loss, L1(best_alpha), tol=TOL)
    test_w = held_out(Xte, yte, sol_w.coef, sol_w.intercept)
    test_1 = held_out(Xte, yte, sol_1.coef, sol_1.intercept)
    noise_w = int(np.sum(np.asarray(sol_w.coef)[10:] != 0))
    noise_1 = int(np.sum(np.asarray(sol_1.coef)[10:] != 0))
    print(f"per-feature lambda_j: validation {float(weighted.value):.3f} (single alpha "
          f"{best_value:.3f}), test {test_w:.3f} vs single alpha {test_1:.3f} "
          f"({100 * (test_w / test_1 - 1):+.2f} %); noise features kept {noise_w} vs {noise_1}; "
          f"{weighted.n_steps} steps, {weighted.n_iter} epochs")

    out = dict(noise_features=args.noise_features, seed=args.seed, tol=TOL,
               grid=dict(best_alpha=best_alpha, alpha_max=amax, validation=best_value,
                         epochs=grid_epochs),
               one_alpha=runs,
               per_feature=dict(validation=float(weighted.value), test=test_w,
                                single_alpha_test=test_1, noise_kept=noise_w,
                                single_alpha_noise_kept=noise_1, steps=weighted.n_steps,
                                epochs=weighted.n_iter))
    device = jax.devices()[0].device_kind
    path = pathlib.Path(__file__).parent / "results" / device.replace(" ", "_").lower()
    path.mkdir(parents=True, exist_ok=True)
    (path / "tune_experiment.json").write_text(json.dumps(out, indent=2))
    print(f"written to {path / 'tune_experiment.json'}")


if __name__ == "__main__":
    main()
