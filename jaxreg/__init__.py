"""jaxreg: L1 and L2 losses and penalties in JAX, with duality-gap certificates.

>>> import jaxreg
>>> from jaxreg.losses import SquaredLoss
>>> from jaxreg.penalties import L1
"""

from jaxreg import hypergrad, losses, optim, penalties, solvers
from jaxreg._solve import ConvergenceWarning, choose_solver, solve
from jaxreg.losses import (AbsoluteLoss, HuberLoss, LogisticLoss, MultinomialLoss,
                           QuantileLoss, SquaredLoss)
from jaxreg.penalties import (L1, L2, ElasticNetPenalty, GroupLassoPenalty, NoPenalty,
                              WeightedL1)
from jaxreg.crossval import CVResult, cv
from jaxreg.paths import (Path, alpha_grid, alpha_max, enet_path, lasso_path, path,
                          penalty_at)
from jaxreg.quantiles import QuantileProcess, quantile_process
from jaxreg.solvers import Solution
from jaxreg.tuning import TuneResult, tune

__version__ = "0.1.0"

__all__ = [
    "solve", "Solution", "ConvergenceWarning", "choose_solver",
    "path", "Path", "alpha_max", "alpha_grid", "penalty_at", "lasso_path", "enet_path",
    "quantile_process", "QuantileProcess",
    "cv", "CVResult", "estimators", "hypergrad", "tune", "TuneResult",
    "Lasso", "ElasticNet", "Ridge", "QuantileRegressor", "HuberRegressor",
    "LogisticRegression", "LassoCV", "ElasticNetCV", "RidgeCV", "LogisticRegressionCV",
    "losses", "optim", "penalties", "solvers",
    "SquaredLoss", "AbsoluteLoss", "QuantileLoss", "HuberLoss", "LogisticLoss",
    "MultinomialLoss",
    "L1", "L2", "ElasticNetPenalty", "WeightedL1", "GroupLassoPenalty", "NoPenalty",
]

# The scikit-learn estimators import scikit-learn: load them on first use, so
# that the functional core needs only jax, optax, chex and numpy.
_ESTIMATORS = ("Lasso", "ElasticNet", "Ridge", "QuantileRegressor", "HuberRegressor",
               "LogisticRegression", "LassoCV", "ElasticNetCV", "RidgeCV", "LogisticRegressionCV")


def __getattr__(name):
    if name == "estimators" or name in _ESTIMATORS:
        import importlib

        module = importlib.import_module("jaxreg.estimators")
        return module if name == "estimators" else getattr(module, name)
    raise AttributeError(f"module 'jaxreg' has no attribute {name!r}")
