r"""Adam + L2 versus AdamW (optax's and the paper's coupling) on scikit-learn's digits.

Model: a 64-64-10 ReLU MLP trained with mini-batch Adam (batch 50, cosine
learning-rate decay to 0) on 500 digits (stratified; the other 1297 are the
clean test set), float32, decay or L2 on the two weight matrices only
(``jaxreg.optim.matrix_mask``). By default 20% of the *training* labels are
replaced by another class at random (fixed seed): with clean labels the MLP
barely overfits these 500 digits and no strength helps by more than the seed
noise (``--label-noise 0`` runs that case too). Three regularizers, built
with ``jaxreg.optim``:

- ``adam_l2``: ``l2_regularized(optax.adam(lr_t), alpha)``, the gradient of
  :math:`L + \frac{\alpha}{2}\|W\|^2` goes into Adam;
- ``adamw_optax``: ``decoupled_weight_decay(optax.adam(lr_t), wd, learning_rate=lr_t)``,
  per-step decay :math:`\mathrm{lr}_t\,\mathrm{wd}` (``optax.adamw``);
- ``adamw_paper``: ``decoupled_weight_decay(optax.adam(lr_t), lam, schedule_multiplier=s_t)``,
  per-step decay :math:`s_t\lambda` (Loshchilov & Hutter's Algorithm 2), with
  :math:`\mathrm{lr}_t = \mathrm{lr}\cdot s_t`.

Part 1, the grid: every (learning rate, strength, seed) is one run; all runs of
a method are one ``jit(vmap(...))`` call. Test error (mean over seeds) as heat
maps; per learning rate the best strength; two numbers for "does the best
strength decouple from the learning rate": the slope of log(best strength)
against log(lr), and the re-tuning cost (keep the strength that is best at the
best learning rate, move the learning rate: how much test error is lost against
re-tuning the strength).

Part 2, the per-weight shrinkage: one Adam + L2 run and one AdamW run at the
same learning rate, the AdamW decay chosen so that both have the same median
total decay. Per weight :math:`j`: its gradient history
:math:`G_j = (\frac1T\sum_t g_{t,j}^2)^{1/2}` and its total decay
:math:`D_j = \sum_t r_{t,j}`, where :math:`r_{t,j}` is the per-step relative
shrink: :math:`\mathrm{lr}_t\,\alpha/(\sqrt{\hat v_{t,j}}+\epsilon)` under Adam +
L2 (:math:`\hat v` read from the optimizer's state; the L2 term
:math:`\alpha w_j` enters :math:`\hat m_j`, and is divided by
:math:`\sqrt{\hat v_j}`), :math:`\mathrm{lr}_t\,\mathrm{wd}` under AdamW. And the
measured effect: the final weights' norm, relative to the unregularized run from
the same initialization and batches, per decile of :math:`G_j`.

Writes ``benchmarks/results/cpu/optax_weight_decay.json`` and the PNGs
``optax_weight_decay_heatmaps.png`` and ``optax_weight_decay_shrinkage.png``
(``optax_weight_decay_clean*`` with ``--label-noise 0``).

    python benchmarks/optax_weight_decay.py [--seeds 3] [--steps 1000] [--label-noise 0.2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import sklearn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import jaxreg
from jaxreg import optim

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "cpu"
HIDDEN, BATCH, N_TRAIN = 64, 50, 500
LEARNING_RATES = 10.0 ** np.arange(-3.5, -0.99, 0.5)       # 3.2e-4 ... 1e-1
STRENGTHS = {                                              # 9 half-decades each
    "adam_l2": 10.0 ** np.arange(-5.0, -0.99, 0.5),        # alpha: 1e-5 ... 1e-1
    "adamw_optax": 10.0 ** np.arange(-2.0, 2.01, 0.5),     # wd: 1e-2 ... 1e2
    "adamw_paper": 10.0 ** np.arange(-5.0, -0.99, 0.5),    # lambda: 1e-5 ... 1e-1
}
LABELS = {
    "adam_l2": r"Adam + L2: $\alpha$ (loss $+\frac{\alpha}{2}\|W\|^2$)",
    "adamw_optax": r"AdamW, optax coupling: wd (decay lr$_t\cdot$wd)",
    "adamw_paper": r"AdamW, paper coupling: $\lambda$ (decay $s_t\lambda$)",
}


def load_data(label_noise):
    """Digits, pixels / 16 centred on the training mean; 500 train, 1297 test.

    A fraction ``label_noise`` of the training labels is replaced by one of the
    nine other classes, uniformly (seed 1); the test labels stay clean.
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, train_size=N_TRAIN, stratify=y, random_state=0)
    rng = np.random.default_rng(1)
    flip = rng.random(len(y_train)) < label_noise
    y_train = np.where(flip, (y_train + rng.integers(1, 10, len(y_train))) % 10, y_train)
    mean = X_train.mean(0)
    return (jnp.asarray(X_train - mean, jnp.float32), jnp.asarray(y_train),
            jnp.asarray(X_test - mean, jnp.float32), jnp.asarray(y_test))


def init_mlp(key):
    """He-normal first layer, LeCun-normal output layer, zero biases."""
    k1, k2 = jax.random.split(key)
    return {"hidden": {"w": jax.random.normal(k1, (64, HIDDEN)) * np.sqrt(2 / 64),
                       "b": jnp.zeros(HIDDEN)},
            "out": {"w": jax.random.normal(k2, (HIDDEN, 10)) * np.sqrt(1 / HIDDEN),
                    "b": jnp.zeros(10)}}


def logits(params, X):
    h = jax.nn.relu(X @ params["hidden"]["w"] + params["hidden"]["b"])
    return h @ params["out"]["w"] + params["out"]["b"]


def loss(params, X, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, X), y).mean()


def make_optimizer(method, learning_rate, strength, steps):
    """The three chains, from jaxreg.optim; the schedule is cosine decay to 0.

    Returns the chain and the multiplier of the regularizer's per-step rate:
    ``lr_t`` (Adam + L2, before the division by sqrt(v_hat); optax's coupling)
    or ``s_t`` (the paper's coupling).
    """
    def multiplier(count):                                 # s_t
        return 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(count, steps) / steps))

    def lr(count):                                         # lr_t = lr * s_t
        return learning_rate * multiplier(count)

    if method == "adam_l2":
        return optim.l2_regularized(optax.adam(lr), strength, mask=optim.matrix_mask), lr
    if method == "adamw_optax":
        return optim.decoupled_weight_decay(optax.adam(lr), strength, learning_rate=lr,
                                            mask=optim.matrix_mask), lr
    return optim.decoupled_weight_decay(optax.adam(lr), strength, schedule_multiplier=multiplier,
                                        mask=optim.matrix_mask), multiplier


def batch_indices(key, steps):
    """A fresh permutation of the training set every epoch, cut into batches."""
    per_epoch = N_TRAIN // BATCH
    epochs = -(-steps // per_epoch)
    keys = jax.random.split(key, epochs)
    order = jax.vmap(lambda k: jax.random.permutation(k, N_TRAIN))(keys)
    return order.reshape(epochs * per_epoch, BATCH)[:steps]


def train(method, learning_rate, strength, seed, data, steps, track=False):
    """One run; with ``track``, also the per-weight statistics of part 2."""
    X_train, y_train, X_test, y_test = data
    init_key, batch_key = jax.random.split(jax.random.key(seed))
    params = init_mlp(init_key)
    tx, coupling = make_optimizer(method, learning_rate, strength, steps)
    weights = {"hidden": params["hidden"]["w"], "out": params["out"]["w"]}
    zeros = jax.tree.map(jnp.zeros_like, weights)

    def body(carry, xs):
        params, state, grad_sq, decay = carry
        t, idx = xs
        grads = jax.grad(loss)(params, X_train[idx], y_train[idx])
        updates, state = tx.update(grads, state, params)
        if track:
            g = {"hidden": grads["hidden"]["w"], "out": grads["out"]["w"]}
            grad_sq = jax.tree.map(lambda a, b: a + b**2, grad_sq, g)
            if method == "adam_l2":   # r = lr_t alpha / (sqrt(v_hat) + eps), v from the state
                nu = optax.tree_utils.tree_get(state, "nu")
                correction = 1.0 - 0.999 ** (t + 1).astype(jnp.float32)
                rate = jax.tree.map(
                    lambda v: coupling(t) * strength / (jnp.sqrt(v / correction) + 1e-8),
                    {"hidden": nu["hidden"]["w"], "out": nu["out"]["w"]})
            else:                     # r = lr_t wd or s_t lambda, the same for every weight
                rate = jax.tree.map(lambda w: jnp.full_like(w, coupling(t) * strength), g)
            decay = jax.tree.map(jnp.add, decay, rate)
        return (optax.apply_updates(params, updates), state, grad_sq, decay), None

    xs = (jnp.arange(steps), batch_indices(batch_key, steps))
    (params, _, grad_sq, decay), _ = jax.lax.scan(
        body, (params, tx.init(params), zeros, zeros), xs)
    error = jnp.mean(jnp.argmax(logits(params, X_test), -1) != y_test)
    out = dict(test_error=error, train_loss=loss(params, X_train, y_train))
    if track:
        out.update(params=params, grad_rms=jax.tree.map(lambda s: jnp.sqrt(s / steps), grad_sq),
                   total_decay=decay)
    return out


def run_grid(method, strengths, seeds, data, steps):
    """Test error and training loss, shape (n_lr, n_strengths, n_seeds)."""
    L, S, K = np.meshgrid(LEARNING_RATES, strengths, np.arange(seeds), indexing="ij")
    grid = jax.jit(jax.vmap(lambda lr, s, k: train(method, lr, s, k, data, steps)))
    start = time.perf_counter()
    out = grid(jnp.asarray(L.ravel(), jnp.float32), jnp.asarray(S.ravel(), jnp.float32),
               jnp.asarray(K.ravel()))
    out = jax.tree.map(lambda a: np.asarray(a).reshape(L.shape), out)
    return out, time.perf_counter() - start


def refined_argmin(row, log_strengths):
    """Vertex of the parabola through the minimum and its two neighbours (log scale)."""
    j = int(np.argmin(row))
    if j == 0 or j == len(row) - 1:
        return log_strengths[j]
    a, b, c = row[j - 1], row[j], row[j + 1]
    h = log_strengths[1] - log_strengths[0]
    curvature = a - 2 * b + c
    return log_strengths[j] + (0.5 * h * (a - c) / curvature if curvature > 0 else 0.0)


def harm_edge(row, log_strengths, margin=0.01):
    """Largest strength (log-interpolated) whose error is within ``margin`` of the row's best."""
    limit = row.min() + margin
    j = int(np.nonzero(row <= limit)[0].max())
    if j == len(row) - 1:
        return log_strengths[j]
    return log_strengths[j] + (limit - row[j]) / (row[j + 1] - row[j]) * (
        log_strengths[j + 1] - log_strengths[j])


def decoupling(error, strengths, baseline):
    """Does the best strength move with the learning rate?

    ``error``: mean test error (n_lr, n_strengths). Per learning rate: the best
    strength (the grid's argmin refined by a parabola in log strength) and the
    harm edge (the largest strength whose error is within 1 percentage point
    of that row's best; a steep wall, so it is less noisy than the argmin); the
    slope of each against log lr. Learning rates whose best error is more than
    twice the overall best (under-trained) are left out of the slopes and the
    cost. The re-tuning cost: keep the strength that is best at the best
    learning rate and move the learning rate; the mean (and max) over the other
    usable learning rates of error(lr, kept) - min over strengths of error(lr, .).
    """
    log_strengths = np.log10(strengths)
    best_index = np.argmin(error, axis=1)
    best_error = error[np.arange(len(error)), best_index]
    usable = best_error <= 2 * best_error.min()
    i_star, j_star = np.unravel_index(np.argmin(error), error.shape)
    best_log = np.array([refined_argmin(row, log_strengths) for row in error])
    edge_log = np.array([harm_edge(row, log_strengths) for row in error])
    log_lr = np.log10(LEARNING_RATES)
    others = usable & (np.arange(len(error)) != i_star)
    retune = error[others, j_star] - best_error[others]
    return dict(best_strength_per_lr=(10.0 ** best_log).tolist(),
                grid_best_strength_per_lr=strengths[best_index].tolist(),
                harm_edge_per_lr=(10.0 ** edge_log).tolist(),
                best_error_per_lr=best_error.tolist(),
                unregularized_error_per_lr=baseline.tolist(),
                usable_lr=usable.tolist(),
                best=dict(learning_rate=float(LEARNING_RATES[i_star]),
                          strength=float(strengths[j_star]), error=float(error.min())),
                slope_log_best_strength_vs_log_lr=float(
                    np.polyfit(log_lr[usable], best_log[usable], 1)[0]),
                slope_log_harm_edge_vs_log_lr=float(
                    np.polyfit(log_lr[usable], edge_log[usable], 1)[0]),
                retune_cost_mean=float(retune.mean()), retune_cost_max=float(retune.max()))


def plot_heatmaps(results, baseline_error, path, title):
    best = min(r["decoupling"]["best"]["error"] for r in results.values())
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.4), constrained_layout=True)
    for ax, (method, r) in zip(axes, results.items()):
        error = 100 * np.column_stack([baseline_error, r["error_mean"]])
        image = ax.imshow(error, cmap="viridis_r", vmin=100 * best, vmax=100 * best + 10,
                          origin="lower", aspect="auto")
        for i in range(error.shape[0]):
            for j in range(error.shape[1]):
                ax.text(j, i, f"{error[i, j]:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if error[i, j] > 100 * best + 3 else "black")
        d = r["decoupling"]
        position = lambda s: 1 + (np.log10(s) - np.log10(r["strengths"][0])) / 0.5  # noqa: E731
        rows = np.argmin(error[:, 1:], axis=1) + 1
        ax.plot(rows, np.arange(len(rows)), "o", mfc="none", mec="red", ms=16, mew=1.5,
                label="best strength per lr (grid)")
        usable = np.array(d["usable_lr"])
        ax.plot(position(np.array(d["harm_edge_per_lr"]))[usable], np.arange(len(rows))[usable],
                "w--", lw=1.5, label="harm edge: error = row best + 1 pp (usable lr)")
        i, j = np.unravel_index(np.argmin(error[:, 1:]), error[:, 1:].shape)
        ax.plot(j + 1, i, "*", color="red", ms=14, label="overall best")
        ax.set_xticks(range(error.shape[1]),
                      ["0"] + [f"{s:.0e}".replace("e-0", "e-").replace("e+0", "e")
                               for s in r["strengths"]], rotation=60, fontsize=8)
        ax.set_yticks(range(len(LEARNING_RATES)), [f"{lr:.1e}" for lr in LEARNING_RATES])
        ax.set_title(f"{LABELS[method]}\nslope vs log lr: best "
                     f"{d['slope_log_best_strength_vs_log_lr']:+.2f}, "
                     f"edge {d['slope_log_harm_edge_vs_log_lr']:+.2f}; re-tuning cost "
                     f"{100 * d['retune_cost_mean']:.2f} pp", fontsize=10)
        ax.set_xlabel("strength (column 0: unregularized Adam)")
        ax.set_ylabel("peak learning rate")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=9, ncols=3)
    fig.colorbar(image, ax=axes, label="test error, % (mean over seeds; clipped)")
    fig.suptitle(title, fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def finite_or_none(a):
    """Nested lists for JSON, ``None`` where a run diverged (NaN/inf)."""
    return [finite_or_none(row) for row in a] if np.ndim(a) else (
        float(a) if np.isfinite(a) else None)


def flat(tree):
    return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(tree)])


def shrinkage(data, steps, learning_rate, alpha):
    """Part 2: Adam + L2 at alpha vs AdamW (optax coupling) at the same median decay."""
    base = jax.jit(lambda: train("adam_l2", learning_rate, 0.0, 0, data, steps, track=True))()
    l2 = jax.jit(lambda: train("adam_l2", learning_rate, alpha, 0, data, steps, track=True))()
    schedule_sum = float(sum(0.5 * (1 + np.cos(np.pi * t / steps)) for t in range(steps)))
    median_decay = float(np.median(flat(l2["total_decay"])))
    wd = median_decay / (learning_rate * schedule_sum)
    adamw = jax.jit(lambda: train("adamw_optax", learning_rate, wd, 0, data, steps,
                                  track=True))()

    def matrices(out):
        return {"hidden": out["params"]["hidden"]["w"], "out": out["params"]["out"]["w"]}

    out = dict(learning_rate=learning_rate, alpha=alpha, matched_weight_decay=wd,
               median_total_decay=median_decay)
    for name, run in (("adam_l2", l2), ("adamw_optax", adamw)):
        g, d = flat(run["grad_rms"]), flat(run["total_decay"])
        w, w0 = flat(matrices(run)), flat(matrices(base))
        keep = g > 0
        slope = np.polyfit(np.log10(g[keep]), np.log10(d[keep]), 1)[0]
        edges = np.quantile(g, np.linspace(0, 1, 11))
        decile = np.clip(np.searchsorted(edges, g, side="right") - 1, 0, 9)
        ratio = [float(np.sqrt(np.sum(w[decile == k] ** 2) / np.sum(w0[decile == k] ** 2)))
                 for k in range(10)]
        decay_by_decile = [float(np.median(d[decile == k])) for k in range(10)]
        centres = [float(np.median(g[decile == k])) for k in range(10)]
        out[name] = dict(
            test_error=float(run["test_error"]),
            slope_log_decay_vs_log_grad_rms=float(slope),
            total_decay_quantiles_5_50_95=np.quantile(d, [0.05, 0.5, 0.95]).tolist(),
            median_decay_per_grad_decile=decay_by_decile,
            weight_norm_ratio_per_grad_decile=ratio, grad_rms_decile_medians=centres,
            grad_rms_decile_edges=edges.tolist(), n_zero_gradient=int(np.sum(~keep)),
            _g=g, _d=d)
    out["unregularized_test_error"] = float(base["test_error"])
    return out


def plot_shrinkage(s, path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), constrained_layout=True)
    colors = {"adam_l2": "tab:blue", "adamw_optax": "tab:orange"}
    names = {"adam_l2": rf"Adam + L2, $\alpha$ = {s['alpha']:.0e}",
             "adamw_optax": f"AdamW (optax), wd = {s['matched_weight_decay']:.2g}"}
    for name in ("adam_l2", "adamw_optax"):
        r = s[name]
        left.scatter(r["_g"], r["_d"], s=3, alpha=0.3, color=colors[name],
                     label=f"{names[name]}: slope {r['slope_log_decay_vs_log_grad_rms']:+.2f}")
        right.plot(np.arange(1, 11), r["weight_norm_ratio_per_grad_decile"], "o-",
                   color=colors[name],
                   label=f"{names[name]}: test error {100 * r['test_error']:.2f}%")
    left.set(xscale="log", yscale="log",
             xlabel=rf"gradient history $G_j$ (RMS of $g_{{t,j}}$; the "
                    rf"{s['adam_l2']['n_zero_gradient']} weights with $G_j = 0$ not shown)",
             ylabel=r"total decay $D_j = \sum_t r_{t,j}$ (log-shrink from the regularizer)",
             title="per-weight effective decay (both runs: same median)")
    left.legend(markerscale=4, fontsize=9)
    right.axhline(1.0, color="gray", lw=0.8)
    medians = s["adam_l2"]["grad_rms_decile_medians"]
    right.set_xticks(np.arange(1, 11), [f"{k}\n{m:.0e}" for k, m in zip(range(1, 11), medians)],
                     fontsize=8)
    right.set(xlabel=r"decile of the gradient history $G_j$ (below: its median, Adam + L2 run)",
              ylabel=r"$\|W\|$ regularized / $\|W\|$ unregularized, in the decile",
              title=f"final weights vs the unregularized run "
                    f"(test error {100 * s['unregularized_test_error']:.2f}%)")
    right.legend(fontsize=9)
    fig.suptitle(f"Digits MLP, peak lr {s['learning_rate']:.0e}, seed 0: who gets regularized",
                 fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--label-noise", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 300 steps (smoke test)")
    args = parser.parse_args()
    seeds, steps = (2, 300) if args.quick else (args.seeds, args.steps)
    data = load_data(args.label_noise)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = ("optax_weight_decay" + ("_clean" if args.label_noise == 0 else "")
            + ("_quick" if args.quick else ""))
    title = (f"Digits, {N_TRAIN} training samples ({100 * args.label_noise:.0f}% wrong labels), "
             f"64-{HIDDEN}-10 MLP, Adam, cosine decay over {steps} steps, {seeds} seeds: "
             "test error % over peak learning rate x strength")
    print(title)

    baseline, baseline_seconds = run_grid("adam_l2", np.array([0.0]), seeds, data, steps)
    baseline_error = baseline["test_error"][:, 0].mean(-1)
    results = {}
    for method, strengths in STRENGTHS.items():
        out, seconds = run_grid(method, strengths, seeds, data, steps)
        error = out["test_error"].mean(-1)
        results[method] = dict(
            strengths=strengths.tolist(), error_mean=error.tolist(),
            error_std_over_seeds=out["test_error"].std(-1, ddof=1).tolist(),
            train_loss_mean=finite_or_none(out["train_loss"].mean(-1)),
            decoupling=decoupling(error, strengths, baseline_error), seconds=seconds)
        d = results[method]["decoupling"]
        print(f"{method:12s} {seconds:5.1f} s  best {100 * d['best']['error']:.2f}% at lr "
              f"{d['best']['learning_rate']:.1e}, strength {d['best']['strength']:.1e}; "
              f"best strength per lr {['%.0e' % s for s in d['best_strength_per_lr']]}; "
              f"harm edge {['%.0e' % s for s in d['harm_edge_per_lr']]}; slopes best "
              f"{d['slope_log_best_strength_vs_log_lr']:+.2f} edge "
              f"{d['slope_log_harm_edge_vs_log_lr']:+.2f}; re-tuning cost "
              f"{100 * d['retune_cost_mean']:.2f} pp (max {100 * d['retune_cost_max']:.2f})")
    print(f"unregularized Adam, per lr: {np.round(100 * baseline_error, 2).tolist()}")
    plot_heatmaps(results, baseline_error, RESULTS / f"{stem}_heatmaps.png", title)

    best_l2 = results["adam_l2"]["decoupling"]["best"]
    s = shrinkage(data, steps, best_l2["learning_rate"], best_l2["strength"])
    plot_shrinkage(s, RESULTS / f"{stem}_shrinkage.png")
    for name in ("adam_l2", "adamw_optax"):
        r = s[name]
        print(f"shrinkage {name:12s} slope log D vs log G "
              f"{r['slope_log_decay_vs_log_grad_rms']:+.2f}; D 5/50/95% "
              f"{np.round(r['total_decay_quantiles_5_50_95'], 3).tolist()}; |W| ratio per G "
              f"decile {np.round(r['weight_norm_ratio_per_grad_decile'], 3).tolist()}")
        del r["_g"], r["_d"]

    meta = dict(device=jax.devices()[0].device_kind, platform=jax.devices()[0].platform,
                python=platform.python_version(), jax=jax.__version__, optax=optax.__version__,
                numpy=np.__version__, sklearn=sklearn.__version__, jaxreg=jaxreg.__version__,
                dtype="float32", seeds=seeds, steps=steps, batch=BATCH, n_train=N_TRAIN,
                label_noise=args.label_noise,
                hidden=HIDDEN, learning_rates=LEARNING_RATES.tolist(),
                schedule="cosine decay from the peak learning rate to 0 over the run",
                baseline_seconds=baseline_seconds,
                total_seconds=time.perf_counter() - start)
    payload = dict(meta=meta, unregularized_error_per_lr=baseline_error.tolist(),
                   grid=results, shrinkage=s)
    with open(RESULTS / f"{stem}.json", "w") as fh:
        json.dump(payload, fh, indent=1, allow_nan=False,
                  default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    print(f"wrote {RESULTS / stem}.json and the PNGs")


if __name__ == "__main__":
    main()
