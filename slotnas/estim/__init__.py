"""Estimators: evaluate the architecture the space encodes and return metrics."""
from .base import ESTIMATORS, Estimator, arch_label, register_estimator
from .subnet import DefaultEstim, SubNetEstim  # isort: skip  (registration order = listing order)
from .spos import SharedWeightsEstim, SPOSEstim  # isort: skip
from .progressive import ProgressiveShrinkingEstim  # isort: skip
from .supernet import SuperNetEstim  # isort: skip
from .objective import ObjectiveEstim, TrialContext  # isort: skip
from .command import CommandEstim  # isort: skip
from .trainer import NonFiniteLoss, Trainer, reset_weights

__all__ = ["ESTIMATORS", "Estimator", "arch_label", "register_estimator", "SubNetEstim", "DefaultEstim",
           "SharedWeightsEstim", "SPOSEstim", "ProgressiveShrinkingEstim", "SuperNetEstim", "ObjectiveEstim", "TrialContext", "CommandEstim", "Trainer", "NonFiniteLoss", "reset_weights"]
