r"""Paths and cross-validation across several devices and hosts, with JAX's sharding.

:func:`jaxreg.path` and :func:`jaxreg.cv` take a device mesh (``mesh=``, a
:class:`jax.sharding.Mesh`, or the ambient one of :func:`jax.set_mesh`) and a
``shard=`` choice of what to split across its devices (all the mesh's axes
together, :math:`D` devices):

``"alphas"``
    the grid :math:`\alpha_1 > \dots > \alpha_m` dealt round-robin to the
    :math:`D` devices (device :math:`d` gets :math:`\alpha_d, \alpha_{d+D},
    \dots`; :func:`jax.shard_map`); each device runs the single-device path of
    its share, warm-started along it. Every device gets part of the costly
    small-``alpha`` end (contiguous blocks left one device with all of it:
    1.11x on 2 simulated CPU devices against 1.66x dealt, BENCHMARKS.md (c)). The
    grid is padded to a multiple of :math:`D` by repeating its last ``alpha``.
``"folds"`` (:func:`jaxreg.cv` only)
    the :math:`K` folds (and the refit's full-data path) cut into blocks of
    folds, one per device, each running all of the grid; padded by repeating
    the last fold.
``"rows"``
    :math:`X`, :math:`y` and the sample weights split by rows: device
    :math:`d` holds :math:`X_d` (:math:`n/D \times p`). Products :math:`X w`
    stay local; :math:`X^\top r = \sum_d X_d^\top r_d` (and the Gram matrix
    :math:`X^\top S X = \sum_d X_d^\top S_d X_d`) are reduced across devices by
    XLA's partitioner (an all-reduce). Rows are padded to a multiple of
    :math:`D` with zero-weight copies of the last row: with the weights
    normalised to :math:`\sum_i s_i = n`, the objective
    :math:`\sum_i s_i \ell_i / \sum_i s_i` does not change.
``"auto"``
    ``"rows"`` when ``n_samples >= 100000`` and ``n_samples >= 10 n_features``
    (X is what fills a device), else ``"folds"`` for :func:`jaxreg.cv` and
    ``"alphas"`` for :func:`jaxreg.path`.

The results are the single-device arrays to round-off (the reductions' order
changes), returned replicated on every device of the mesh: ordinary
:class:`jax.Array` values that every process of a multi-host run can read.
The mesh's axes are used as partitioner-managed ("auto") axes whatever their
declared type, so that the solvers need no sharding annotations.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

__all__ = ["SHARDS", "resolve_mesh", "choose_shard"]

SHARDS = ("auto", "alphas", "folds", "rows")
ROWS_MIN_SAMPLES = 100_000


def resolve_mesh(mesh):
    """``mesh``, else the ambient mesh of :func:`jax.set_mesh`, else None.

    Inside a JAX transformation (``jit``, ``grad``, ``vmap``) the ambient mesh
    is not looked up: the call is then part of the caller's program, which
    XLA partitions by the caller's own shardings.

    Raises
    ------
    TypeError
        When ``mesh`` is not a :class:`jax.sharding.Mesh`.
    """
    if mesh is None:
        try:
            ambient = jax.sharding.get_mesh()
        except ValueError:      # inside jit/grad/vmap: the caller's program, one call
            return None
        return None if ambient.empty else ambient
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh (e.g. jax.make_mesh((4,), ('x',))); "
                        f"got {type(mesh).__name__}.")
    return mesh


def choose_shard(shard, mesh, n_samples, n_features, *, cv=False):
    """The resolved ``shard`` choice (module documentation); None without a mesh.

    Raises
    ------
    ValueError
        For an unknown choice, ``"folds"`` outside cross-validation, or a
        choice other than "auto" without a mesh.
    """
    if shard not in SHARDS:
        raise ValueError(f"Unknown shard {shard!r}; choose one of {SHARDS}.")
    if mesh is None:
        if shard != "auto":
            raise ValueError(f"shard={shard!r} needs a device mesh: pass mesh= (a "
                             "jax.sharding.Mesh) or call inside `with jax.set_mesh(mesh):`.")
        return None
    if shard == "folds" and not cv:
        raise ValueError("shard='folds' is for jaxreg.cv; a path can shard 'alphas' or 'rows'.")
    if shard == "auto":
        if n_samples >= ROWS_MIN_SAMPLES and n_samples >= 10 * n_features:
            return "rows"
        return "folds" if cv else "alphas"
    return shard


def refuse_sparse(mesh, shard, owner):
    """A sparse X runs on one device: NotImplementedError when ``mesh`` or a
    ``shard`` choice was given (an ambient mesh is left unused)."""
    if mesh is not None or shard != "auto":
        raise NotImplementedError(f"{owner}: sparse X runs on one device; mesh= and shard= "
                                  "are not supported with it yet.")


def auto_mesh(mesh):
    """``mesh`` with every axis partitioner-managed (:attr:`AxisType.Auto`)."""
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def split(mesh, axis=0, ndim=1):
    """:class:`PartitionSpec` splitting dimension ``axis`` over all the mesh's axes."""
    spec = [None] * ndim
    spec[axis] = tuple(mesh.axis_names)
    return PartitionSpec(*spec)


def pad_leading(tree, multiple):
    """Every leaf of ``tree`` padded along axis 0 to a multiple of ``multiple`` by
    repeating its last entry; returns ``(padded, original_length)``."""
    leaves = jax.tree_util.tree_leaves(tree)
    length = leaves[0].shape[0]
    extra = -length % multiple

    def pad(a):
        if not extra:
            return a
        xp = np if isinstance(a, np.ndarray) else jax.numpy
        return xp.concatenate([a, xp.repeat(a[-1:], extra, axis=0)])

    return jax.tree_util.tree_map(pad, tree), length


def dealt(alphas, devices):
    r"""The grid padded to a multiple of ``devices`` and dealt round-robin:
    device :math:`d` gets :math:`\alpha_d, \alpha_{d+D}, \dots` (still
    decreasing, so warm starts stay one step of :math:`D` apart, and every
    device gets a share of the small ``alpha``, the costly end of a path).
    Returns ``(dealt grid, original length)``; :func:`undeal` restores the order."""
    padded, length = pad_leading(np.asarray(alphas), devices)
    return padded.reshape(-1, devices).T.reshape(-1), length


def undeal(a, devices, length, axis=0):
    """Inside ``jit``: the entries of a :func:`dealt` grid back in the grid's order,
    the padding dropped."""
    m = a.shape[axis]
    order = np.arange(m).reshape(-1, devices).T.reshape(-1)
    return jax.numpy.take(a, np.argsort(order)[:length], axis=axis)


def replicate(tree, mesh):
    """Inside ``jit``: every leaf constrained to be replicated on ``mesh``."""
    everywhere = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(lambda a: jax.lax.with_sharding_constraint(a, everywhere),
                                  tree)


def shard_rows(mesh, X, y, sample_weight):
    """``X, y, sample_weight`` placed on ``mesh`` split by rows (module documentation).

    Rows are padded to a multiple of the mesh's size with zero-weight copies
    of the last row (weights of ones are then made explicit).
    """
    X, y = (a if isinstance(a, jax.Array) else np.asarray(a) for a in (X, y))
    n = X.shape[0]
    extra = -n % mesh.size
    if extra:
        weight = (np.ones(n, np.result_type(X)) if sample_weight is None
                  else np.asarray(sample_weight, np.result_type(X)))
        sample_weight = np.concatenate([weight, np.zeros(extra, weight.dtype)])
        X, _ = pad_leading(np.asarray(X), mesh.size)
        y, _ = pad_leading(np.asarray(y), mesh.size)
    return put_split((X, y, sample_weight), mesh)


def put_replicated(tree, mesh):
    """The array leaves of ``tree`` placed, whole, on every device of ``mesh``
    (also how results go back to the caller's mesh, whose axes may be explicit:
    operations on them under ``jax.set_mesh(mesh)`` then work)."""
    everywhere = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(
        lambda a: jax.device_put(a, everywhere) if isinstance(a, (np.ndarray, jax.Array)) else a,
        tree)


def put_split(tree, mesh, axis=0):
    """The leaves of ``tree`` placed on ``mesh``, dimension ``axis`` split over all
    its axes (:func:`split`)."""
    return jax.tree_util.tree_map(
        lambda a: jax.device_put(a, NamedSharding(mesh, split(mesh, axis, np.ndim(a)))), tree)
