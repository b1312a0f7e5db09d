"""Elastic layers: Conv2d, BatchNorm2d and Linear that run on the first channels (and a centre kernel) of
their own weights, sliced in forward, and blocks that can be skipped. Modules become elastic in place by a
class swap, so parameter names, weights and the full setting's output stay those of the original model."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import SlotError

ELASTIC_ATTRS = ("active_out", "active_in", "active_kernel", "elastic_skip")


def is_depthwise(conv: nn.Conv2d) -> bool:
    """Whether the conv maps each channel on its own (groups == in == out channels)."""
    return conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels


def _on_meta(cls: Type[nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
    """A module built without initializing weights (its tensors are replaced right after)."""
    return cls(*args, device="meta", **kwargs)


def _param(tensor: torch.Tensor, like: nn.Parameter) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone(), requires_grad=like.requires_grad)


class ElasticConv2d(nn.Conv2d):
    """A Conv2d that computes with ``weight[:active_out, :active_in]`` (depthwise: the first channels and
    as many groups) and, with ``active_kernel``, the centre crop of its kernel (OFA's elastic kernel, with
    optional learned per-size transforms of the crop); None everywhere is the original layer. A reading layer
    of a width group with a learned score (``elastic_score``) scales its input channels' weights by it."""

    active_out: Optional[int]
    active_in: Optional[int]
    active_kernel: Optional[int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.active_out is None and self.active_in is None and self.active_kernel is None \
                and "elastic_score" not in self._parameters:
            return super().forward(x)
        weight, bias, groups, padding = self.active_weight()
        return F.conv2d(x, weight, bias, self.stride, padding, self.dilation, groups)

    def active_weight(self) -> Tuple[torch.Tensor, Optional[torch.Tensor], int, Tuple[int, ...]]:
        """Weight, bias, groups and padding of the active setting (views of the stored tensors)."""
        params = self._parameters  # direct lookups: this runs once per layer and forward
        weight, bias, groups, padding = params["weight"], params["bias"], self.groups, self.padding
        out, inp, kernel = self.active_out, self.active_in, self.active_kernel
        if groups > 1:  # depthwise (make_elastic refuses other grouped convs): channels and groups together
            channels = out or inp
            if channels is not None:
                weight, groups = weight[:channels], channels
                bias = None if bias is None else bias[:channels]
        else:
            if out is not None:
                weight = weight[:out]
                bias = None if bias is None else bias[:out]
            if inp is not None:
                weight = weight[:, :inp].contiguous()  # a strided weight makes the conv ~13% slower
            score = params.get("elastic_score")
            if score is not None:
                weight = weight * score[:weight.shape[1]].view(1, -1, 1, 1)
        if kernel is not None and kernel < weight.shape[-1]:
            weight = self._crop(weight, kernel).contiguous()
            padding = tuple(d * (kernel - 1) // 2 for d in self.dilation)
        return weight, bias, groups, padding

    def _crop(self, weight: torch.Tensor, size: int) -> torch.Tensor:
        """Centre crop to ``size``, through each intermediate size with its transform when there are any."""
        current = weight
        for bigger, smaller in self._kernel_steps(size):
            start = (bigger - smaller) // 2
            current = current[:, :, start:start + smaller, start:start + smaller]
            matrix = self._parameters.get(f"kernel_{bigger}to{smaller}")
            if matrix is not None:
                shape = current.shape
                current = (current.reshape(shape[0], shape[1], -1) @ matrix).reshape(shape)
        return current

    def _kernel_steps(self, size: int) -> list:
        sizes = getattr(self, "kernel_sizes", None) or [self.kernel_size[0], size]
        sizes = sorted((s for s in sizes if size <= s <= self.kernel_size[0]), reverse=True)
        return list(zip(sizes, sizes[1:]))

    def to_fixed(self) -> nn.Module:
        """A plain Conv2d holding copies of the active weights."""
        weight, bias, groups, padding = self.active_weight()
        conv = _on_meta(nn.Conv2d, weight.shape[1] * groups, weight.shape[0], tuple(weight.shape[2:]),
                        stride=self.stride, padding=padding, dilation=self.dilation, groups=groups,
                        bias=bias is not None, padding_mode=self.padding_mode)
        conv.weight = _param(weight, self.weight)
        if bias is not None:
            conv.bias = _param(bias, self.bias)
        return conv.train(self.training)


class ElasticBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm2d over its first ``active_out`` channels: affine parameters and running statistics are
    sliced views, so training updates the shared buffers in place (OFA's dynamic BN)."""

    active_out: Optional[int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.active_out
        if c is None:
            return super().forward(x)
        if not self.training and self.track_running_stats:  # the evaluation fast path
            params, stats = self._parameters, self._buffers
            weight, bias = params["weight"], params["bias"]
            return F.batch_norm(x, stats["running_mean"][:c], stats["running_var"][:c],
                                None if weight is None else weight[:c], None if bias is None else bias[:c],
                                False, 0.0, self.eps)
        self._check_input_dim(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        mean = self.running_mean[:c] if track and self.running_mean is not None else None
        var = self.running_var[:c] if track and self.running_var is not None else None
        weight = None if self.weight is None else self.weight[:c]
        bias = None if self.bias is None else self.bias[:c]
        return F.batch_norm(x, mean, var, weight, bias, use_batch, factor, self.eps)

    def to_fixed(self) -> nn.Module:
        """A plain BatchNorm2d with copies of the active parameters and statistics."""
        c = self.active_out or self.num_features
        bn = _on_meta(nn.BatchNorm2d, c, eps=self.eps, momentum=self.momentum, affine=self.affine,
                      track_running_stats=self.track_running_stats)
        if self.affine:
            bn.weight, bn.bias = _param(self.weight[:c], self.weight), _param(self.bias[:c], self.bias)
        for name, buf in self._buffers.items():
            if buf is not None:
                bn._buffers[name] = buf.detach().clone() if buf.dim() == 0 else buf[:c].detach().clone()
        return bn.train(self.training)


class ElasticLinear(nn.Linear):
    """A Linear on its first ``active_in`` inputs and ``active_out`` outputs."""

    active_out: Optional[int]
    active_in: Optional[int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.active_out is None and self.active_in is None and "elastic_score" not in self._parameters:
            return super().forward(x)
        out = self.active_out or self.out_features
        bias = None if self.bias is None else self.bias[:out]
        return F.linear(x, self.active_weight(), bias)

    def active_weight(self) -> torch.Tensor:
        """The weight of the active setting, input columns scaled by a learned score if the layer has one."""
        out, inp = self.active_out or self.out_features, self.active_in or self.in_features
        weight = self.weight[:out, :inp]
        score = self._parameters.get("elastic_score")
        return weight if score is None else weight * score[:inp]

    def to_fixed(self) -> nn.Module:
        """A plain Linear with copies of the active weights."""
        out, inp = self.active_out or self.out_features, self.active_in or self.in_features
        linear = _on_meta(nn.Linear, inp, out, bias=self.bias is not None)
        linear.weight = _param(self.active_weight(), self.weight)
        if self.bias is not None:
            linear.bias = _param(self.bias[:out], self.bias)
        return linear.train(self.training)


ELASTIC_LAYERS: Dict[type, type] = {nn.Conv2d: ElasticConv2d, nn.BatchNorm2d: ElasticBatchNorm2d,
                                    nn.Linear: ElasticLinear}


def make_elastic(module: nn.Module, name: str) -> nn.Module:
    """Turn a Conv2d / BatchNorm2d / Linear into its elastic class in place (idempotent)."""
    if type(module) in ELASTIC_LAYERS.values():
        return module
    cls = ELASTIC_LAYERS.get(type(module))
    if cls is None:
        allowed = ", ".join(c.__name__ for c in ELASTIC_LAYERS)
        raise SlotError(f"elastic: layer {name!r} is a {type(module).__name__}; elastic width and kernel work on "
                        f"exactly these layer types: {allowed}")
    if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
        raise SlotError(f"elastic: layer {name!r} pads with {module.padding_mode!r}; allowed: zeros")
    if isinstance(module, nn.Conv2d) and module.groups > 1 and not is_depthwise(module):
        raise SlotError(f"elastic: layer {name!r} is a grouped conv ({module.groups} groups); allowed: groups 1 or "
                        "depthwise (groups = in = out channels)")
    module.__class__ = cls
    module.active_out = module.active_in = module.active_kernel = None
    return module


class ElasticBlock:
    """Mixin of skippable blocks: with ``elastic_skip`` the block returns its input (identity)."""

    elastic_skip: bool

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        if self.elastic_skip:
            return x
        return super().forward(x, *args, **kwargs)  # type: ignore[misc]

    def to_fixed(self) -> nn.Module:
        """nn.Identity when skipped, else a plain copy of the original block class."""
        if self.elastic_skip:
            return nn.Identity()
        return plain_copy(self)


_BLOCK_CLASSES: Dict[type, type] = {}


def make_skippable(block: nn.Module) -> nn.Module:
    """Give ``block`` an identity switch by swapping in a subclass of its own class (idempotent)."""
    if isinstance(block, ElasticBlock):
        return block
    base = type(block)
    cls = _BLOCK_CLASSES.get(base)
    if cls is None:
        cls = _BLOCK_CLASSES[base] = type(f"Elastic{base.__name__}", (ElasticBlock, base), {"__module__": __name__})
    block.__class__ = cls
    block.elastic_skip = False
    return block


def original_class(module: nn.Module) -> type:
    """The class a module had before it became elastic."""
    cls = type(module)
    for base, elastic in ELASTIC_LAYERS.items():
        if cls is elastic:
            return base
    if isinstance(module, ElasticBlock):
        return cls.__mro__[2]
    return cls


def plain_copy(module: nn.Module) -> nn.Module:
    """A shallow copy of an elastic module as its original class, without the elastic switches."""
    clone = object.__new__(original_class(module))
    clone.__dict__.update((k, v) for k, v in module.__dict__.items() if k not in ELASTIC_ATTRS)
    return clone
