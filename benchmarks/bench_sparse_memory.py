"""Peak memory of a 20-alpha lasso path on a large sparse problem (issue 10, acceptance 2).

A 1,000,000 x 100,000 text-like design (``_sparse_problems.text_like``) with
10^7 stored values: a dense float64 copy would take 800 GB. The path
(``jaxreg.path``, squared loss, L1, intercept, 20 alphas from alpha_max to
1e-3 alpha_max, tol 1e-6 x P_null) runs in a fresh child process, which
reports its peak resident set size (``getrusage``'s ``ru_maxrss``) before and
after the path, and the time. Target: peak <= 4 GiB.

    python benchmarks/bench_sparse_memory.py                 # 1e6 x 1e5, 1e7 values
    python benchmarks/bench_sparse_memory.py --scale 0.1     # 1e5 x 1e4, 1e6 values

Results: ``benchmarks/results/<device>/bench_sparse_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time


def child(n, p, nnz, n_alphas, eps, tol):
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import jaxreg
    from _sparse_problems import text_like
    from jaxreg.losses import SquaredLoss
    from jaxreg.penalties import L1

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KiB on Linux

    start = time.perf_counter()
    # Rows drawn twice in a column are summed into one value: ask for ~5 % more
    # draws so that about ``nnz`` distinct values remain.
    X, y = text_like(n, p, density=1.05 * nnz / (n * p))
    made = time.perf_counter() - start
    before = peak()
    start = time.perf_counter()
    result = jaxreg.path(X, y, SquaredLoss(), L1(1.0), n_alphas=n_alphas, eps=eps, tol=tol,
                         max_iter=100000)
    result.coefs.block_until_ready()
    elapsed = time.perf_counter() - start
    out = dict(n_samples=n, n_features=p, nnz=int(X.nnz), n_alphas=n_alphas, eps=eps, tol=tol,
               data_bytes=int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes),
               dense_bytes=8 * n * p, peak_rss_before_path=before, peak_rss=peak(),
               generate_s=made, path_s=elapsed,
               converged=bool(np.all(result.converged)),
               max_nonzeros=int(np.max(np.sum(np.asarray(result.coefs) != 0, axis=1))),
               device=jax.devices()[0].device_kind, jax=jax.__version__,
               machine=platform.machine(), cpus=os.cpu_count())
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="n and p times scale, values times scale^2 / 10^0 ... (default 1)")
    parser.add_argument("--n-alphas", type=int, default=20)
    parser.add_argument("--eps", type=float, default=1e-3)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--_child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        n, p, nnz, m = map(int, args._child[:4])
        child(n, p, nnz, m, float(args._child[4]), float(args._child[5]))
        return
    n, p = int(1_000_000 * args.scale), int(100_000 * args.scale)
    nnz = int(10_000_000 * args.scale)
    command = [sys.executable, __file__, "--_child", str(n), str(p), str(nnz),
               str(args.n_alphas), str(args.eps), str(args.tol)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    gib = 2**30
    print(f"{n} x {p}, {result['nnz']} stored values ({result['data_bytes'] / gib:.2f} GiB as "
          f"CSC; dense float64 would be {result['dense_bytes'] / 1e9:.0f} GB)")
    print(f"  {args.n_alphas}-alpha lasso path: {result['path_s']:.1f} s, converged "
          f"{result['converged']}, up to {result['max_nonzeros']} non-zeros")
    print(f"  peak RSS {result['peak_rss'] / gib:.2f} GiB (after generating the data: "
          f"{result['peak_rss_before_path'] / gib:.2f} GiB); target <= 4 GiB: "
          f"{'met' if result['peak_rss'] <= 4 * gib else 'MISSED'}")
    folder = pathlib.Path(__file__).parent / "results" / result["device"].lower().replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    name = "bench_sparse_memory.json" if args.scale == 1.0 else f"bench_sparse_memory_{args.scale:g}.json"
    (folder / name).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
