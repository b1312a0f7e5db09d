"""Criterion chain: the task loss first, then aggregate criteria that fold a metric into it."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Union

import torch

from ..constraints import PositiveFloat
from ..errors import SlotnasError

MODES = ("add", "mul", "logmul")
Number = Union[float, torch.Tensor]


def _log(x: Number) -> Number:
    return torch.log(x) if isinstance(x, torch.Tensor) else math.log(x)


class AggregateCriterion:
    """Combine ``loss`` with ``metric`` (relative to ``target``) by add, mul or log-mul.

    - add (ProxylessNAS):  loss + coeff * (m / target - 1)
    - mul (MnasNet):       loss * (m / target) ** coeff
    - logmul (FBNet):      loss * (1 + coeff * log(m / target))
    Each leaves the loss unchanged at m == target; floats and tensors (differentiable) both work.
    """

    def __init__(self, metric: str, mode: str = "add", coeff: float = 1.0, target: PositiveFloat = 1.0) -> None:
        if mode not in MODES:
            raise SlotnasError(f"criterion.mode: {mode!r} not allowed; allowed: {', '.join(MODES)}")
        if target <= 0:
            raise SlotnasError(f"criterion.target: must be > 0, got {target}")
        self.metric, self.mode, self.coeff, self.target = metric, mode, coeff, target

    def __call__(self, loss: Number, metrics: Mapping[str, Any]) -> Number:
        if self.metric not in metrics:
            raise SlotnasError(f"criterion: metric {self.metric!r} was not computed; add it to metrics:")
        ratio = metrics[self.metric] / self.target
        if self.mode == "add":
            return loss + self.coeff * (ratio - 1)
        if self.mode == "mul":
            return loss * ratio ** self.coeff
        return loss * (1 + self.coeff * _log(ratio))


class CriterionChain:
    """Applies aggregate criteria in order to a task loss (a float, or a tensor for gradient methods)."""

    def __init__(self, steps: Sequence[Dict[str, Any]] = ()) -> None:
        self.steps: List[AggregateCriterion] = [AggregateCriterion(**dict(s)) for s in steps]

    def __call__(self, loss: Number, metrics: Mapping[str, Any]) -> Number:
        for step in self.steps:
            loss = step(loss, metrics)
        return loss

    def __bool__(self) -> bool:
        return bool(self.steps)
