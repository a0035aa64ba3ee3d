"""Repository-wide pytest set-up: float64 and a doctest namespace.

jaxreg's tests and doctests run in float64 (``jax_enable_x64``); tests of
behaviour with x64 off run in a subprocess.
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["jnp"] = jnp
    doctest_namespace["np"] = np
    doctest_namespace["jax"] = jax
