"""Optimizers: propose architectures from a ParamSpace, learn from finished trials."""
from .base import OPTIMIZERS, DiscreteOptimizer, Optimizer, arch_key, register_optimizer
from .random_search import GridSearch, RandomSearch  # isort: skip  (registration order = listing order)
from .evolution import Evolution, RegularizedEvolution  # isort: skip
from .bo import SkoptBO  # isort: skip
from .gp import GPBO  # isort: skip
from .smbo import XGBoostSMBO  # isort: skip
from .tpe import TPE  # isort: skip
from .nsga import NSGA2  # isort: skip
from .gradient import DARTSOptim, GDASOptim, GradientOptimizer, ProxylessNASOptim, SNASOptim  # isort: skip

__all__ = [
    "OPTIMIZERS", "Optimizer", "DiscreteOptimizer", "arch_key", "register_optimizer",
    "RandomSearch", "GridSearch", "Evolution", "RegularizedEvolution", "SkoptBO", "GPBO", "XGBoostSMBO", "TPE", "NSGA2",
    "GradientOptimizer", "DARTSOptim", "SNASOptim", "GDASOptim", "ProxylessNASOptim",
]
