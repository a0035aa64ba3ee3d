"""A lasso path and its cross-validation across several processes (hosts), with JAX's
distributed runtime.

Start one copy per process, each with its rank; every process passes the same data
(here generated from the same seed) and gets the whole result back::

    python examples/multihost_path.py --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 0
    python examples/multihost_path.py --coordinator 10.0.0.1:1234 --num-processes 2 --process-id 1

On one machine, for a try, use ``--coordinator 127.0.0.1:1234`` in two terminals. The
mesh spans every device of every process (``jax.devices()``); on CPU the processes talk
through gloo. ``--json FILE`` writes the path for checking.
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", required=True, help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, required=True)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--shard", default="rows", choices=("rows", "alphas", "auto"))
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--json", help="write alphas, coefs, intercepts, gaps here")
    args = parser.parse_args(argv)

    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id)
    import jaxreg        # after initialize(): the mesh below needs every process's devices

    rng = np.random.default_rng(0)              # the same data in every process
    X = rng.standard_normal((args.n_samples, args.n_features))
    y = X[:, :5] @ np.arange(1.0, 6.0) + rng.standard_normal(args.n_samples)

    mesh = jax.make_mesh((jax.device_count(),), ("hosts",))
    with jax.set_mesh(mesh):
        path = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=20,
                           tol=1e-12, shard=args.shard)
        fit = jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=20, tol=1e-10,
                        shard="alphas" if args.shard == "alphas" else "folds")
    print(f"process {jax.process_index()} of {jax.process_count()}: {jax.device_count()} "
          f"devices, {np.count_nonzero(np.asarray(path.coefs[-1]))} non-zeros at the "
          f"smallest alpha, CV alpha_min = {fit.alpha_min:.6g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(alphas=np.asarray(path.alphas).tolist(),
                           coefs=np.asarray(path.coefs).tolist(),
                           intercepts=np.asarray(path.intercepts).tolist(),
                           dual_gaps=np.asarray(path.dual_gaps).tolist(),
                           cv_mean=np.asarray(fit.mean).tolist(),
                           alpha_min=fit.alpha_min), f)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
