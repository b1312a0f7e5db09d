"""Traversal metrics: properties summed over the modules of the current architecture."""
from __future__ import annotations

from typing import Any, Dict

from torch import nn

from ..arch_space.export import iter_active
from .base import Metric, register_metric


def count_params(model: nn.Module) -> int:
    """Parameters of the current architecture only (unchosen candidates are not counted)."""
    seen = set()
    total = 0
    for module in iter_active(model):
        for p in module._parameters.values():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


@register_metric("params")
class ParamsMetric(Metric):
    """Number of parameters of the current architecture."""

    def compute(self, model: nn.Module) -> Dict[str, Any]:
        return {"params": count_params(model)}
