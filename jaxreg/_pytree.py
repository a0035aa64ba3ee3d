r"""Frozen dataclasses as pytrees whose tree structures know their class.

``jax.tree_util.register_dataclass`` (jax 0.10.2) builds tree structures that
compare *equal* across classes with the same static values: the structures of
``L1(0.7)`` and ``L2(0.9)`` are ``==`` (so are those of ``SquaredLoss()`` and
``AbsoluteLoss()``, which have no fields at all). JAX's compilation caches
look structures up by hash and then by equality, so when two hashes collide
in a bucket a jitted function runs the program compiled for the *other*
class: ``L2.subdiff_distance`` returned ``L1``'s answer late in long test
runs. :func:`register` uses ``register_pytree_with_keys``, whose structures
compare the registered class too (``tests/test_api.py`` checks it for every
loss and penalty).
"""

from __future__ import annotations

import dataclasses

import jax

__all__ = ["register"]


def register(cls):
    """Register the dataclass ``cls`` as a pytree.

    Fields whose metadata has ``static=True`` are static (part of the tree
    structure, hashable); the other fields are leaves. Unflattening sets the
    fields directly and never calls ``__init__``/``__post_init__`` (JAX
    unflattens with tracers under ``jit``, ``vmap`` and ``grad``).
    """
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static", False))
    meta = tuple(f.name for f in fields if f.metadata.get("static", False))
    keys = tuple(jax.tree_util.GetAttrKey(name) for name in data)

    def flatten_with_keys(obj):
        children = tuple((key, getattr(obj, name)) for key, name in zip(keys, data))
        return children, tuple(getattr(obj, name) for name in meta)

    def flatten(obj):
        return (tuple(getattr(obj, name) for name in data),
                tuple(getattr(obj, name) for name in meta))

    def unflatten(aux, children):
        obj = object.__new__(cls)
        for name, value in zip(data, children):
            object.__setattr__(obj, name, value)
        for name, value in zip(meta, aux):
            object.__setattr__(obj, name, value)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls
