"""Traversal metrics: a per-module quantity summed over the modules of the current architecture."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.pooling import _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd, _AvgPoolNd, _MaxPoolNd

from ..arch_space.export import fix, iter_active
from .base import Metric, probe_forward, register_metric


class TraversalMetric(Metric):
    """Sums ``module_value`` over every active module; with ``needs_forward`` it sees each call's tensors."""

    key = "value"
    needs_forward = False

    def module_value(self, module: nn.Module, inputs: Optional[tuple], output: Any) -> float:
        """The quantity of one module (for one call when ``needs_forward``)."""
        raise NotImplementedError

    def compute(self, target: nn.Module) -> Dict[str, Any]:
        if not self.needs_forward:
            return {self.key: sum(self.module_value(m, None, None) for m in _unique(iter_active(target)))}
        target = fix(target)  # the modules that run: elastic layers resolve to sliced copies
        modules = _unique(target.modules())
        total = [0.0]

        def hook(module: nn.Module, inputs: tuple, output: Any) -> None:
            total[0] += self.module_value(module, inputs, output)

        handles = [m.register_forward_hook(hook) for m in modules]
        try:
            probe_forward(target, self.input_shape)
        finally:
            for h in handles:
                h.remove()
        return {self.key: total[0]}


def _unique(modules: Sequence[nn.Module]) -> List[nn.Module]:
    seen, out = set(), []
    for m in modules:
        if id(m) not in seen:
            seen.add(id(m))
            out.append(m)
    return out


def count_params(model: nn.Module) -> int:
    """Parameters of the current architecture only (unchosen candidates are not counted)."""
    seen: Dict[int, nn.Parameter] = {}  # holds them: ids of freed copies (elastic layers' to_fixed) get reused
    for module in iter_active(model):
        for p in module._parameters.values():
            if p is not None:
                seen.setdefault(id(p), p)
    return sum(p.numel() for p in seen.values())


def expected_params(model: nn.Module) -> torch.Tensor:
    """Differentiable parameter count: softmax(alpha)-weighted over the candidates of alpha mixed ops."""
    from ..arch_space.mixed_ops import MixedOp
    from ..params import TensorParam
    from ..slot import Slot

    total: Any = torch.zeros(())
    fixed = 0
    stack = [model]
    while stack:
        module = stack.pop()
        if isinstance(module, Slot):
            stack.append(module.entity)
            continue
        alpha = getattr(module, "alpha", None)
        if isinstance(module, MixedOp) and isinstance(alpha, TensorParam):
            sizes = torch.tensor([float(count_params(c)) for c in module.candidates], device=alpha.value.device)
            total = total.to(alpha.value.device) + (torch.softmax(alpha.value, -1) * sizes).sum()
            continue
        if isinstance(module, MixedOp):
            stack.append(module.to_fixed())
            continue
        fixed += sum(p.numel() for p in module._parameters.values() if p is not None)
        stack.extend(c for c in module._modules.values() if c is not None)
    return total + fixed


@register_metric("params")
class ParamsMetric(Metric):
    """Number of parameters of the current architecture (``expected``: differentiable in the alphas)."""

    def compute(self, target: nn.Module) -> Dict[str, Any]:
        return {"params": count_params(target)}

    def expected(self, target: nn.Module) -> Dict[str, torch.Tensor]:
        """The alpha-weighted parameter count, for gradient methods' criteria."""
        return {"params": expected_params(target)}


def module_macs(module: nn.Module, inputs: tuple, output: Any, folded_bn: bool = False) -> float:
    """Multiply-accumulates of one call: conv, linear, batch norm (1 per element unless folded into the
    conv before it, as inference runtimes do), pooling (window size per output)."""
    if isinstance(module, _ConvNd):
        kernel = 1
        for k in module.kernel_size:
            kernel *= k
        return output.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, _BatchNorm):
        return 0.0 if folded_bn else output.numel()
    if isinstance(module, (_AvgPoolNd, _MaxPoolNd)):
        k = module.kernel_size
        window = k if isinstance(k, int) else int(torch.tensor(k).prod())
        return output.numel() * (window ** (output.dim() - 2) if isinstance(k, int) else window)
    if isinstance(module, (_AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd)):
        return inputs[0].numel()
    return 0.0


@register_metric("flops")
class FlopsMetric(TraversalMetric):
    """MACs of one forward pass (batch 1) of the current architecture, reported as ``macs``."""

    key = "macs"
    needs_forward = True

    def compute(self, target: nn.Module) -> Dict[str, Any]:
        # A BN reading one of these tensors is folded into that conv. The tensors are kept
        # referenced during the pass so that no id is reused by a later tensor.
        self._conv_outputs: Dict[int, torch.Tensor] = {}
        try:
            return super().compute(target)
        finally:
            self._conv_outputs = {}

    def module_value(self, module: nn.Module, inputs: Optional[tuple], output: Any) -> float:
        inputs = inputs or ()
        if isinstance(module, _ConvNd):
            self._conv_outputs[id(output)] = output
        folded = isinstance(module, _BatchNorm) and bool(inputs) and id(inputs[0]) in self._conv_outputs
        return module_macs(module, inputs, output, folded_bn=folded)
