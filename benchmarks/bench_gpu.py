r"""jaxreg on an accelerator against the CPU peers on the same machine (issue 8).

    python benchmarks/bench_gpu.py                  # on the GPU machine
    python benchmarks/bench_gpu.py --quick          # small shapes, any backend (a smoke run)

For each problem (Gaussian X, sparse truth, SNR 3, centred; no intercept) of shape
100000 x 1000 and 1000000 x 100, and each dtype (float32, float64):

1. **Transfer.** X and y are put on the default device (``jax.device_put``); the
   host-to-device time is reported apart and every jaxreg time below has the data
   already on the device.
2. **Lasso path**, 100 alphas from alpha_max down to 1e-3 alpha_max: every method
   (jaxreg's strategies, scikit-learn's ``lasso_path``, skglm, celer on the CPU)
   at its loosest tolerance whose duality gap, recomputed in NumPy in float64, is
   at most ``REL_GAP x P_null`` at every alpha (1e-6 for float64; 1e-4 for float32,
   where single precision cannot certify less; the CPU peers run in float64 at the
   same gap), then the median of steady runs (bench_path.py's protocol).
3. **10-fold CV** on the same grid: ``jaxreg.cv`` against scikit-learn's ``LassoCV``
   (same folds, same grid, refit included); the chosen alpha must agree.
4. **Ridge grid** (100 alphas): ``jaxreg.path`` with ``L2`` (one decomposition)
   against scikit-learn's ``Ridge`` refitted at each alpha; coefficients compared.
5. **Roofline.** One batched proximal-gradient iteration on 10 alphas, the step of
   the batched strategies: :math:`Z = XW`, :math:`G = X^\top(Z - y 1^\top)` with
   :math:`W \in \mathbb{R}^{p\times 10}`: :math:`4np\cdot 10` flops and two reads of
   X. Its time is set against the bound
   :math:`\max(\text{bytes}/\text{bandwidth}, \text{flops}/\text{peak})`, with the
   device's peaks from its data sheet (H100 SXM, H200) and as measured here (a large
   copy; a large matrix product).

Results go to ``results/<device kind>/bench_gpu.json`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _problems  # noqa: E402
import bench_path as bp  # noqa: E402  (its protocol: tol sweep, NumPy gaps, peers)

import jaxreg  # noqa: E402

SHAPES = dict(full=[(100_000, 1000), (1_000_000, 100)], quick=[(4000, 100), (40_000, 20)])
REL_GAPS = {"float64": 1e-6, "float32": 1e-4}
N_ALPHAS, EPS, FOLDS, BATCH = 100, 1e-3, 10, 10
# Data-sheet peaks (dense, no sparsity): memory bandwidth (bytes/s) and vector /
# tensor-core FLOP rates (flop/s) per dtype.
DATASHEET = {
    "H200": dict(bandwidth=4.8e12, float32=67e12, float64=67e12),
    "H100": dict(bandwidth=3.35e12, float32=67e12, float64=67e12),   # SXM
}


def _timed(function, repeats=5):
    """Median seconds of ``function()`` (its result blocked on), after one warm-up."""
    jax.block_until_ready(function())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measured_peaks(dtype):
    """Bandwidth of a large device copy (read + write) and the rate of a large GEMM."""
    n = 2**27 if jax.default_backend() != "cpu" else 2**22
    x = jnp.ones(n, dtype)
    copy = jax.jit(lambda a: a * 2)
    seconds = _timed(lambda: copy(x))
    bandwidth = 2 * n * x.dtype.itemsize / seconds
    k = 8192 if jax.default_backend() != "cpu" else 1024
    a = jnp.ones((k, k), dtype)
    gemm = jax.jit(lambda u: u @ u)
    seconds = _timed(lambda: gemm(a))
    return dict(bandwidth=bandwidth, flops=2 * k**3 / seconds)


def roofline(X, y, dtype, device_kind):
    """One batched proximal-gradient iteration on ``BATCH`` alphas against its bound."""
    n, p = X.shape
    W = jnp.full((p, BATCH), 0.01, dtype)

    @jax.jit
    def iteration(X, y, W):
        Z = X @ W
        return X.T @ (Z - y[:, None])

    seconds = _timed(lambda: iteration(X, y, W), repeats=20)
    size = np.dtype(dtype).itemsize
    flops = 4.0 * n * p * BATCH
    bytes_moved = size * (2 * n * p + 3 * n * BATCH + 2 * p * BATCH + n)
    out = dict(seconds=seconds, flops=flops, bytes=bytes_moved,
               achieved_flops=flops / seconds, achieved_bandwidth=bytes_moved / seconds)
    measured = measured_peaks(dtype)
    peaks = {"measured": (measured["bandwidth"], measured["flops"])}
    for name, sheet in DATASHEET.items():
        if name in device_kind:
            peaks["datasheet"] = (sheet["bandwidth"], sheet[np.dtype(dtype).name])
    for label, (bandwidth, rate) in peaks.items():
        bound = max(bytes_moved / bandwidth, flops / rate)
        out[label] = dict(bandwidth=bandwidth, flops=rate, bound_s=bound,
                          binds="bandwidth" if bytes_moved / bandwidth >= flops / rate
                          else "compute", fraction=bound / seconds)
    return out


def _jaxreg_path_methods(Xd, yd, strategies, max_iter):
    """bench_path Methods running jaxreg.path on the device arrays."""
    methods = []
    for strategy in strategies:
        def run(data, alphas, tol, strategy=strategy):
            result = jaxreg.path(Xd, yd, jaxreg.SquaredLoss(), jaxreg.L1(1.0),
                                 jnp.asarray(alphas, Xd.dtype), fit_intercept=False, tol=tol,
                                 strategy=strategy, max_iter=max_iter)
            return np.asarray(result.coefs, np.float64).T
        methods.append(bp.Method(f"jaxreg.path[{strategy}]", run, None,
                                 "own gap <= tol P_null", jaxreg=True))
    return methods


def lasso_path_rows(label, X, y, Xd, yd, alphas, args, rel_gap):
    data = bp._Data(X.astype(np.float64), np.asfortranarray(X, np.float64),
                    y.astype(np.float64))
    pnull = _problems.p_null(data.y)
    methods = (_jaxreg_path_methods(Xd, yd, args.strategies.split(","), args.max_iter)
               + bp._peer_methods(args.peers.split(",") if args.peers != "none" else [],
                                  args.max_iter))
    bp.REL_GAP = rel_gap                        # bench_path's acceptance threshold
    rows = []
    for method in methods:
        row = dict(problem=label, kind="lasso path", rel_gap=rel_gap)
        row.update(bp.sweep_and_time(method, data, alphas, pnull, args))
        rows.append(row)
        print(f"  {method.name:<26} {row.get('time_s') or float('nan'):10.4f} s  "
              f"tol {row.get('tol')}  gap/P_null {row.get('max_rel_gap')}  {row['status']}",
              flush=True)
    return rows


def cv_rows(label, X, y, Xd, yd, alphas, args, rel_gap):
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import KFold
    rows = []

    def jaxreg_cv():
        return jaxreg.cv(Xd, yd, jaxreg.SquaredLoss(), jaxreg.L1(1.0),
                         jnp.asarray(alphas, Xd.dtype), folds=FOLDS, fit_intercept=False,
                         tol=rel_gap, max_iter=args.max_iter)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = jaxreg_cv()
        seconds = _timed(jaxreg_cv, repeats=3)
    rows.append(dict(problem=label, kind=f"{FOLDS}-fold CV + refit", method="jaxreg.cv",
                     time_s=seconds, alpha=float(result.alpha_min),
                     max_rel_gap_reported=float(np.max(np.asarray(result.fold_paths.dual_gaps)
                                                       / np.asarray(_fold_pnull(y)))[()])))
    XF = np.asfortranarray(X, np.float64)
    model = LassoCV(alphas=alphas, cv=KFold(FOLDS), fit_intercept=False, tol=rel_gap / 2,
                    max_iter=args.max_iter)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(XF, y.astype(np.float64))
    rows.append(dict(problem=label, kind=f"{FOLDS}-fold CV + refit", method="sklearn LassoCV",
                     time_s=time.perf_counter() - start, alpha=float(model.alpha_)))
    rows[0]["same_alpha_as_sklearn"] = bool(np.isclose(rows[0]["alpha"], rows[1]["alpha"],
                                                       rtol=1e-6))
    rows[0]["ratio_vs_sklearn"] = rows[1]["time_s"] / rows[0]["time_s"]
    for row in rows:
        print(f"  {row['method']:<26} {row['time_s']:10.4f} s  alpha {row['alpha']:.6g}",
              flush=True)
    return rows


def _fold_pnull(y):
    """P_null of each KFold training set (w = 0), shape (FOLDS, 1)."""
    blocks = np.array_split(np.arange(len(y)), FOLDS)
    return np.array([[_problems.p_null(np.delete(y, test).astype(np.float64))]
                     for test in blocks])


def ridge_rows(label, X, y, Xd, yd, args):
    from sklearn.linear_model import Ridge
    n = X.shape[0]
    alphas = np.geomspace(1e2, 1e-4, N_ALPHAS)          # jaxreg's alpha: (1/2n)||r||^2 + (a/2)||w||^2

    def jaxreg_ridge():
        return jaxreg.path(Xd, yd, jaxreg.SquaredLoss(), jaxreg.L2(1.0),
                           jnp.asarray(alphas, Xd.dtype), fit_intercept=False)

    result = jaxreg_ridge()
    seconds = _timed(jaxreg_ridge, repeats=3)
    XF, y64 = np.asfortranarray(X, np.float64), y.astype(np.float64)
    coefs, start = [], time.perf_counter()
    for alpha in alphas:                                  # scikit-learn's alpha = n a
        coefs.append(Ridge(alpha=n * alpha, fit_intercept=False).fit(XF, y64).coef_)
        if time.perf_counter() - start > args.cap:
            break
    peer = (time.perf_counter() - start) * N_ALPHAS / len(coefs)
    mine = np.asarray(result.coefs, np.float64)[:len(coefs)]
    difference = float(np.abs(mine - np.array(coefs)).max() / np.abs(np.array(coefs)).max())
    rows = [dict(problem=label, kind="ridge grid", method="jaxreg.path(L2)", time_s=seconds,
                 max_rel_coef_diff_vs_sklearn=difference),
            dict(problem=label, kind="ridge grid", method="sklearn Ridge x 100",
                 time_s=peer, extrapolated_from=len(coefs))]
    rows[0]["ratio_vs_sklearn"] = peer / seconds
    for row in rows:
        print(f"  {row['method']:<26} {row['time_s']:10.4f} s", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (smoke run)")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--peers", default="sklearn,skglm,celer")
    parser.add_argument("--strategies", default="auto,batched,chunked,warm")
    parser.add_argument("--parts", default="path,cv,ridge,roofline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cap", type=float, default=120.0,
                        help="seconds: a run longer than this ends its method's tol sweep")
    parser.add_argument("--tol-max", type=float, default=1e-2)
    parser.add_argument("--tol-min", type=float, default=1e-12)
    parser.add_argument("--max-iter", type=int, default=100000)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    parts = args.parts.split(",")
    device = jax.devices()[0]
    print(f"device: {device.device_kind} ({jax.default_backend()}), {jax.device_count()} "
          f"device(s); jax {jax.__version__}", flush=True)
    rows, roofs = [], []
    for n, p in SHAPES["quick" if args.quick else "full"]:
        X, y = _problems.sparse_gaussian(n, p, density=0.05, seed=0)
        X, y = _problems.centre(X, y)
        alphas = _problems.alpha_grid(X, y, EPS, n_alphas=N_ALPHAS)
        for dtype in args.dtypes.split(","):
            label = f"{n}x{p} {dtype}"
            Xh, yh = X.astype(dtype), y.astype(dtype)
            start = time.perf_counter()
            Xd, yd = jax.block_until_ready(jax.device_put((Xh, yh)))
            transfer = time.perf_counter() - start
            print(f"{label}: host-to-device {transfer:.3f} s "
                  f"({Xh.nbytes / transfer / 1e9:.1f} GB/s)", flush=True)
            rows.append(dict(problem=label, kind="transfer", time_s=transfer, bytes=Xh.nbytes))
            rel_gap = REL_GAPS[dtype]
            if "path" in parts:
                rows += lasso_path_rows(label, Xh, yh, Xd, yd, alphas, args, rel_gap)
            if "cv" in parts:
                rows += cv_rows(label, Xh, yh, Xd, yd, alphas, args, rel_gap)
            if "ridge" in parts:
                rows += ridge_rows(label, Xh, yh, Xd, yd, args)
            if "roofline" in parts:
                roof = dict(problem=label, **roofline(Xd, yd, dtype, device.device_kind))
                roofs.append(roof)
                print(f"  roofline: {roof['seconds'] * 1e3:.3f} ms per batched iteration, "
                      f"{roof['achieved_bandwidth'] / 1e9:.0f} GB/s, "
                      f"{roof['achieved_flops'] / 1e12:.2f} TF/s; fraction of bound: "
                      + ", ".join(f"{k} {roof[k]['fraction']:.0%} ({roof[k]['binds']})"
                                  for k in ("datasheet", "measured") if k in roof), flush=True)
            del Xd, yd
    for problem in {r["problem"] for r in rows if r.get("kind") == "lasso path"}:
        timed = [r for r in rows if r["problem"] == problem and r.get("kind") == "lasso path"
                 and r.get("time_s")]
        best_jaxreg = min((r["time_s"] for r in timed if r["method"].startswith("jaxreg")),
                          default=None)
        best_peer = min((r["time_s"] for r in timed if not r["method"].startswith("jaxreg")),
                        default=None)
        if best_jaxreg and best_peer:
            print(f"{problem}: best jaxreg path {best_jaxreg:.4f} s, best CPU peer "
                  f"{best_peer:.4f} s: {best_peer / best_jaxreg:.1f}x")
    meta = dict(device=device.device_kind, backend=jax.default_backend(),
                device_count=jax.device_count(), machine=platform.machine(),
                cpu_count=os.cpu_count(), versions=bp._versions(
                    [p for p in args.peers.split(",") if p in bp.PEERS]),
                quick=args.quick, rel_gaps=REL_GAPS, n_alphas=N_ALPHAS, eps=EPS, folds=FOLDS,
                time=time.strftime("%Y-%m-%d %H:%M:%S"))
    path = pathlib.Path(args.output) if args.output else (
        pathlib.Path(__file__).parent / "results" / device.device_kind.replace(" ", "_").lower()
        / ("bench_gpu_quick.json" if args.quick else "bench_gpu.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(meta=meta, rows=rows, roofline=roofs), indent=2,
                               default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
