"""Metric interface and registry: ``compute(model) -> dict`` of named numbers."""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence

import torch
from torch import nn

from ..constraints import Shape
from ..arch_space.export import module_device
from ..registry import Registry

METRICS = Registry("metric")


def register_metric(name: str) -> Callable:
    """Decorator registering a Metric class under ``name``."""
    return METRICS.register(name)


class Metric:
    """Computes properties of the current architecture; results are merged into the metrics dict."""

    def __init__(self, input_shape: Optional[Shape] = None) -> None:
        self.input_shape = input_shape

    def compute(self, model: nn.Module) -> Dict[str, Any]:
        """Named values for the model's current architecture."""
        raise NotImplementedError


def probe_forward(model: nn.Module, input_shape: Sequence[int]) -> None:
    """One eval-mode, no-grad forward of zeros (batch 1) for hooks to observe; restores train mode."""
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=module_device(model)))
    finally:
        model.train(was_training)
