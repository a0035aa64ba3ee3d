"""The public surface (DESIGN.md, "Public names"): ``from jaxreg import *``, every
exported name exists and is documented, and the names and fields users rely on."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg

jax.config.update("jax_enable_x64", True)

MODULES = ["jaxreg", "jaxreg.losses", "jaxreg.penalties", "jaxreg.solvers"]
EXPORTS = [(module, name) for module in MODULES
           for name in importlib.import_module(module).__all__]


@pytest.mark.parametrize("module", MODULES)
def test_all_lists_unique_public_names(module):
    names = importlib.import_module(module).__all__
    assert isinstance(names, (list, tuple)) and names
    assert all(isinstance(name, str) for name in names)
    assert len(set(names)) == len(names), "duplicate names in __all__"
    assert not [name for name in names if name.startswith("_")]


@pytest.mark.parametrize("module", MODULES)
def test_star_import_gives_exactly_all(module):
    namespace = {}
    exec(f"from {module} import *", namespace)  # noqa: S102
    namespace.pop("__builtins__")
    assert set(namespace) == set(importlib.import_module(module).__all__)


@pytest.mark.parametrize("module", MODULES)
def test_modules_have_docstrings(module):
    doc = importlib.import_module(module).__doc__
    assert doc and len(doc.strip()) > 20


@pytest.mark.parametrize(("module", "name"), EXPORTS, ids=[f"{m}.{n}" for m, n in EXPORTS])
def test_every_export_exists_and_has_its_own_docstring(module, name):
    obj = getattr(importlib.import_module(module), name)
    doc = obj.__doc__
    assert doc and doc.strip(), f"{module}.{name} has no docstring"
    # dataclasses and NamedTuple write a signature ("L1(alpha, positive)") when the
    # class has no docstring: that is not documentation.
    assert not re.match(rf"{re.escape(name)}\(", doc.strip()), f"{module}.{name}: {doc!r}"
    if not inspect.ismodule(obj):
        assert obj.__module__.startswith("jaxreg"), f"{name} comes from {obj.__module__}"


def test_top_level_names_are_the_submodules_objects():
    for module in ("losses", "penalties"):
        submodule = getattr(jaxreg, module)
        for name in submodule.__all__:
            assert name in jaxreg.__all__, f"jaxreg.{module}.{name} is not in jaxreg.__all__"
            assert getattr(jaxreg, name) is getattr(submodule, name)
    assert jaxreg.Solution is jaxreg.solvers.Solution
    assert {"losses", "penalties", "solvers", "solve", "Solution"} <= set(jaxreg.__all__)
    assert isinstance(jaxreg.__version__, str)
    assert issubclass(jaxreg.ConvergenceWarning, UserWarning)


def test_design_imports():
    from jaxreg.losses import (AbsoluteLoss, HuberLoss, LogisticLoss,  # noqa: F401
                               MultinomialLoss, QuantileLoss, SquaredLoss)
    from jaxreg.penalties import (L1, L2, ElasticNetPenalty,  # noqa: F401
                                  GroupLassoPenalty, NoPenalty, WeightedL1)

    assert callable(jaxreg.solve)


def test_solution_fields():
    assert jaxreg.Solution._fields[:5] == ("coef", "intercept", "n_iter", "dual_gap",
                                           "converged")
    assert issubclass(jaxreg.Solution, tuple)  # a NamedTuple: a pytree out of jit/vmap


def test_solve_options_are_keyword_only_with_sklearn_names():
    parameters = inspect.signature(jaxreg.solve).parameters
    assert list(parameters)[:4] == ["X", "y", "loss", "penalty"]
    for name in ("fit_intercept", "sample_weight", "solver", "init", "max_iter", "tol"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert parameters["fit_intercept"].default is True
    assert parameters["sample_weight"].default is None


# Constructor parameters: scikit-learn's words, leaves vs static switches (STYLE.md §2).
CONSTRUCTORS = {
    "SquaredLoss": ([], {}),
    "AbsoluteLoss": ([], {}),
    "LogisticLoss": ([], {}),
    "QuantileLoss": (["quantile"], {"quantile": 0.5}),
    "HuberLoss": (["delta"], {"delta": 1.0}),
    "MultinomialLoss": (["n_classes"], {"n_classes": None}),
    "L1": (["alpha", "positive"], {"positive": False}),
    "L2": (["alpha", "positive"], {"positive": False}),
    "ElasticNetPenalty": (["alpha", "l1_ratio", "positive"], {"l1_ratio": 0.5,
                                                              "positive": False}),
    "WeightedL1": (["weights", "positive"], {"positive": False}),
    "GroupLassoPenalty": (["alpha", "groups"], {}),
    "NoPenalty": ([], {}),
}
STATIC = {"positive", "groups", "n_classes"}


@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_constructor_fields_and_defaults(name):
    cls = getattr(jaxreg, name)
    fields, defaults = CONSTRUCTORS[name]
    assert dataclasses.is_dataclass(cls)
    assert [f.name for f in dataclasses.fields(cls)] == fields
    for field in dataclasses.fields(cls):
        assert bool(field.metadata.get("static", False)) == (field.name in STATIC), field.name
        if field.name in defaults:
            assert field.default == defaults[field.name], field.name


EXAMPLES = [
    jaxreg.SquaredLoss(), jaxreg.AbsoluteLoss(), jaxreg.LogisticLoss(),
    jaxreg.QuantileLoss(quantile=0.3), jaxreg.HuberLoss(delta=1.5),
    jaxreg.MultinomialLoss(n_classes=3),
    jaxreg.L1(0.1), jaxreg.L2(0.1, positive=True), jaxreg.ElasticNetPenalty(0.1, l1_ratio=0.7),
    jaxreg.WeightedL1(np.array([0.0, 1.0])), jaxreg.GroupLassoPenalty(0.1, groups=(0, 0, 1)),
    jaxreg.NoPenalty(),
]
LOSS_VOCABULARY = ("value", "conjugate", "dual_bounds", "dual_scale")
PENALTY_VOCABULARY = ("value", "prox", "conjugate", "dual_scale", "unpenalized",
                      "subdiff_distance")
SEPARABLE = (jaxreg.L1, jaxreg.L2, jaxreg.ElasticNetPenalty, jaxreg.WeightedL1,
             jaxreg.NoPenalty)


@pytest.mark.parametrize("obj", EXAMPLES, ids=[type(e).__name__ for e in EXAMPLES])
def test_vocabulary_and_pytree_round_trip(obj):
    name = type(obj).__name__
    if name in jaxreg.losses.__all__:
        assert all(callable(getattr(obj, m)) for m in LOSS_VOCABULARY)
        if obj.smooth:
            assert callable(obj.grad) and float(obj.lipschitz) > 0
        else:
            assert callable(obj.prox) and not hasattr(obj, "grad")
    else:
        assert all(callable(getattr(obj, m)) for m in PENALTY_VOCABULARY)
        assert callable(getattr(obj, "coordinate", None)) == isinstance(obj, SEPARABLE)
    leaves, treedef = jax.tree_util.tree_flatten(obj)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(obj)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, dataclasses.fields(obj)[0].name if dataclasses.fields(obj) else "x", 1.0)


def test_tree_structures_of_different_classes_differ():
    """JAX caches compiled programs by tree structure (hash, then ``==``); with
    ``jax.tree_util.register_dataclass`` the structures of ``L1(a)`` and ``L2(a)``
    (or of ``SquaredLoss()`` and ``AbsoluteLoss()``) compared equal, and a jitted
    function ran L1's program on an L2 penalty after a hash-bucket collision."""
    same_fields = [jaxreg.L1(0.1), jaxreg.L2(0.1), jaxreg.SquaredLoss(), jaxreg.AbsoluteLoss(),
                   jaxreg.LogisticLoss(), jaxreg.NoPenalty(), jaxreg.QuantileLoss(0.3),
                   jaxreg.HuberLoss(0.3)] + EXAMPLES
    structures = [jax.tree_util.tree_structure(obj) for obj in same_fields]
    for a, sa in zip(same_fields, structures):
        for b, sb in zip(same_fields, structures):
            assert (sa == sb) == (type(a) is type(b) and sa.node_data() == sb.node_data()), (a, b)
    # A static switch is part of the structure, a leaf is not.
    assert (jax.tree_util.tree_structure(jaxreg.L1(0.1))
            != jax.tree_util.tree_structure(jaxreg.L1(0.1, positive=True)))
    assert (jax.tree_util.tree_structure(jaxreg.L1(0.1))
            == jax.tree_util.tree_structure(jaxreg.L1(0.7)))


def test_solve_returns_a_solution_that_is_sklearn_lasso():
    """DESIGN: ``jaxreg.solve(X, y, SquaredLoss(), L1(a))`` is ``Lasso(alpha=a)``."""
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = X @ np.array([1.0, 0.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.standard_normal(30)
    sol = jaxreg.solve(X, y, jaxreg.SquaredLoss(), jaxreg.L1(0.1), tol=1e-12)
    assert isinstance(sol, jaxreg.Solution)
    assert sol.coef.shape == (4,) and jnp.shape(sol.intercept) == ()
    assert jnp.issubdtype(sol.n_iter.dtype, jnp.integer) and sol.converged.dtype == jnp.bool_
    assert bool(sol.converged) and -1e-12 <= float(sol.dual_gap) <= 1e-10  # round-off
    ref = Lasso(alpha=0.1, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(sol.coef, ref.coef_, atol=1e-7)
    np.testing.assert_allclose(sol.intercept, ref.intercept_, atol=1e-7)
