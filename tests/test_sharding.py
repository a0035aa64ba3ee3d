"""jaxreg.sharding: arguments and errors on one device; the sharded results on 4
simulated devices (tests/sharded_checks.py, in a pytest process of its own) and across
2 processes started with jax.distributed (examples/multihost_path.py)."""

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxreg

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _data(n=120, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, :3].sum(1) + rng.standard_normal(n)


@pytest.mark.parametrize("call", ["path", "cv"])
def test_bad_mesh_and_shard_arguments(call):
    X, y = _data()
    function = getattr(jaxreg, call)
    args = (X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0))
    with pytest.raises(ValueError, match="Unknown shard 'cols'"):
        function(*args, shard="cols")
    with pytest.raises(ValueError, match="needs a device mesh"):
        function(*args, shard="rows")
    with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh"):
        function(*args, mesh=jax.devices(), shard="rows")
    if call == "path":
        with pytest.raises(ValueError, match="shard='folds' is for jaxreg.cv"):
            function(*args, mesh=jax.make_mesh((1,), ("x",)), shard="folds")


@pytest.mark.parametrize("shard", ["alphas", "rows"])
def test_one_device_mesh_gives_the_unsharded_path(shard):
    X, y = _data(121)
    kwargs = dict(n_alphas=6, eps=0.05, tol=1e-12)
    single = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), **kwargs)
    sharded = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), **kwargs,
                          mesh=jax.make_mesh((1,), ("x",)), shard=shard)
    np.testing.assert_allclose(np.asarray(sharded.coefs), np.asarray(single.coefs), rtol=0,
                               atol=1e-9 * np.abs(np.asarray(single.coefs)).max())


def test_sharded_results_on_four_simulated_devices():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/sharded_checks.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("shard", ["rows", "alphas"])
def test_two_processes_with_jax_distributed(tmp_path, shard):
    coordinator = f"127.0.0.1:{_free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    processes = [subprocess.Popen(
        [sys.executable, "examples/multihost_path.py", "--coordinator", coordinator,
         "--num-processes", "2", "--process-id", str(rank), "--shard", shard,
         "--n-samples", "301", "--n-features", "20", "--json", str(tmp_path / f"{rank}.json")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in (0, 1)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-4000:]
        assert "of 2: 2 devices" in output, output[-2000:]
    # The same data in this (single-device) process: examples/multihost_path.py's.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((301, 20))
    y = X[:, :5] @ np.arange(1.0, 6.0) + rng.standard_normal(301)
    single = jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=20, tol=1e-12)
    fit = jaxreg.cv(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), n_alphas=20, tol=1e-10)
    ref = np.asarray(single.coefs)
    for rank in (0, 1):
        got = json.loads((tmp_path / f"{rank}.json").read_text())
        np.testing.assert_allclose(got["alphas"], np.asarray(single.alphas), rtol=1e-14)
        np.testing.assert_allclose(got["coefs"], ref, rtol=0, atol=1e-6 * np.abs(ref).max())
        np.testing.assert_allclose(got["intercepts"], np.asarray(single.intercepts), rtol=0,
                                   atol=1e-6 * np.abs(ref).max())
        np.testing.assert_allclose(got["cv_mean"], np.asarray(fit.mean), rtol=1e-8)
        assert got["alpha_min"] == fit.alpha_min


def test_inside_jit_the_ambient_mesh_is_left_to_the_caller():
    X, y = _data(64)
    alphas = np.asarray(jaxreg.alpha_grid(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0),
                                          n_alphas=3, eps=0.1))

    def coefs(a, **sharding):
        return jaxreg.path(X, y, jaxreg.SquaredLoss(), jaxreg.L1(1.0), a, tol=1e-10,
                           **sharding).coefs

    mesh = jax.make_mesh((1,), ("x",))
    with jax.set_mesh(mesh):
        traced = jax.jit(coefs)(alphas)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(coefs(alphas)), rtol=1e-12,
                               atol=1e-14)
    with pytest.raises(ValueError, match="outside jit/grad/vmap"):
        jax.jit(lambda a: coefs(a, mesh=mesh, shard="alphas"))(alphas)


def test_sparse_x_is_not_sharded_yet():
    import scipy.sparse as sp
    X, y = _data(40)
    X[np.abs(X) < 1.0] = 0.0
    for function in (jaxreg.path, jaxreg.cv):
        with pytest.raises(NotImplementedError, match="sparse X runs on one device"):
            function(sp.csc_matrix(X), y, jaxreg.SquaredLoss(), jaxreg.L1(1.0),
                     mesh=jax.make_mesh((1,), ("x",)), shard="alphas")
