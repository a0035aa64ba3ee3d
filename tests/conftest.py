"""Test fixtures: float64 everywhere (set in the repository's conftest.py),
rank promotion raises, a seeded ``rng``, and a seeded hypothesis profile."""

import os
import sys

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile(
    "ci", deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


@pytest.fixture
def rng():
    return np.random.default_rng(0)

