"""The bundled diabetes data equal scikit-learn's, without importing it."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn import datasets

from jaxreg.datasets import load_diabetes


@pytest.mark.parametrize("scaled", [True, False])
def test_load_diabetes_equals_sklearn(scaled):
    X, y = load_diabetes(scaled)
    X_ref, y_ref = datasets.load_diabetes(return_X_y=True, scaled=scaled)
    assert X.dtype == y.dtype == np.float64
    assert X.shape == (442, 10) and y.shape == (442,)
    np.testing.assert_array_equal(X, X_ref)   # bit for bit: same arithmetic
    np.testing.assert_array_equal(y, y_ref)


def test_load_diabetes_does_not_import_sklearn():
    code = ("import sys; from jaxreg.datasets import load_diabetes; load_diabetes(); "
            "assert 'sklearn' not in sys.modules, 'sklearn imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
