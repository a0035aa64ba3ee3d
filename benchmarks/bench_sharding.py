"""jaxreg.path / jaxreg.cv split across D simulated CPU devices against one device.

    python benchmarks/bench_sharding.py [--devices 1,2] [--problems c,d] [--repeats 5]

Each device count runs in its own process (``XLA_FLAGS=
--xla_force_host_platform_device_count=D``, set before JAX starts). On a CPU the D
devices share the machine's cores: what this measures is whether splitting the grid
(``shard="alphas"``), the folds (``"folds"``) or the rows (``"rows"``) keeps more cores
busy than one device's program does (coordinate descent is sequential; XLA's large
products are multithreaded already). Checked first: a path's duality gap recomputed in
NumPy (at most ~1e-6 P_null at every alpha, as bench_path.py), a CV's ``alpha_min``
equal to the one-device CV's. The median of ``--repeats`` steady
runs is reported; compilation apart. Results: ``results/cpu/bench_sharding.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
# (problem of BENCHMARKS.md, call, shard)
CASES = [("c", "path", "alphas"), ("b", "path", "alphas"), ("b", "path", "rows"),
         ("d", "cv", "folds"), ("d", "cv", "rows")]
TOL = 1e-6


def child(devices, problems, repeats):
    """Runs in a process with ``devices`` CPU devices; prints one JSON line per case."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np

    sys.path.insert(0, str(HERE))
    import _problems

    import jaxreg
    mesh = jax.make_mesh((devices,), ("devices",))
    for name, call, shard in CASES:
        if name not in problems:
            continue
        pb = _problems.make_problem(name)
        alphas = _problems.alpha_grid(pb.X, pb.y, pb.eps)
        options = dict(fit_intercept=False, tol=TOL)
        if call == "path":
            def run(**sharding):
                result = jaxreg.path(pb.X, pb.y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), alphas,
                                     **options, **sharding)
                return np.asarray(result.coefs)

            def check(coefs):
                gaps = _problems.lasso_gaps(pb.X, pb.y, coefs.T, alphas)
                return dict(max_rel_gap=float(gaps.max() / _problems.p_null(pb.y)))
        else:
            def run(**sharding):
                result = jaxreg.cv(pb.X, pb.y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), alphas,
                                   folds=5, **options, **sharding)
                return np.asarray(result.alpha_min)

            one_device = float(run())

            def check(alpha_min):
                return dict(alpha_min=float(alpha_min),
                            same_alpha_min_as_one_device=bool(alpha_min == one_device))
        sharding = dict(mesh=mesh, shard=shard) if devices > 1 else {}
        start = time.perf_counter()
        checked = check(run(**sharding))
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run(**sharding)
            times.append(time.perf_counter() - start)
        print("ROW " + json.dumps(dict(problem=pb.label, call=call, shard=shard,
                                       devices=devices, time_s=statistics.median(times),
                                       times_s=times, first_call_s=first, **checked)),
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="1,2")
    parser.add_argument("--problems", default="b,c,d")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default=str(HERE / "results" / "cpu" / "bench_sharding.json"))
    parser.add_argument("--_child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        return child(args._child, args.problems.split(","), args.repeats)
    rows = []
    for devices in (int(d) for d in args.devices.split(",")):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        done = subprocess.run([sys.executable, __file__, "--_child", str(devices), "--problems",
                               args.problems, "--repeats", str(args.repeats)], env=env,
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr[-3000:])
        rows += [json.loads(line[4:]) for line in done.stdout.splitlines()
                 if line.startswith("ROW ")]
    one = {(r["problem"], r["call"], r["shard"]): r["time_s"] for r in rows if r["devices"] == 1}
    print(f"{'problem':<28} {'call':<5} {'shard':<7} {'devices':>7} {'time':>9} {'speed-up':>9} "
          f"check")
    for row in rows:
        row["speedup"] = one[(row["problem"], row["call"], row["shard"])] / row["time_s"]
        print(f"{row['problem']:<28} {row['call']:<5} {row['shard']:<7} {row['devices']:>7} "
              f"{row['time_s']:>8.3f}s {row['speedup']:>8.2f}x "
              + (f"gap/P_null {row['max_rel_gap']:.1e}" if "max_rel_gap" in row else
                 f"alpha_min same as one device: {row['same_alpha_min_as_one_device']}"))
    meta = dict(cpu_count=os.cpu_count(), load_average=os.getloadavg(), tol=TOL,
                time=time.strftime("%Y-%m-%d %H:%M:%S"))
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
