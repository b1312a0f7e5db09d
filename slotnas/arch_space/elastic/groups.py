"""Elastic groups: what one width, depth or kernel parameter's handler switches, and channel sorting."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch
from torch import nn

from ...errors import SlotnasError
from .layers import ElasticBlock, ElasticConv2d

IMPORTANCE = ("l1", "bn", "score")


@dataclass
class WidthGroup:
    """An elastic spatial group: one hidden feature map, its fan-out, channel-wise and fan-in layers."""

    name: str
    producers: List[nn.Module]
    channelwise: List[nn.Module]
    consumers: List[nn.Module]
    channels: int
    to_channels: Callable[[Any], int] = field(repr=False, default=int)
    score: Optional[nn.Parameter] = field(repr=False, default=None)

    def learn_score(self) -> nn.Parameter:
        """Give the group a learned per-channel score (ModularNAS's attention): ones, registered on every
        reading layer, which scales its input channels by it (the same function until it is trained)."""
        if self.score is None:
            weight = self.consumers[0].weight
            self.score = nn.Parameter(torch.ones(self.channels, device=weight.device, dtype=weight.dtype))
            for layer in self.consumers:
                layer.register_parameter("elastic_score", self.score)
        return self.score

    def apply(self, value: Any) -> None:
        """Set the group from its parameter's value (an expansion ratio or width fraction)."""
        self.set(self.to_channels(value))

    def set(self, channels: Optional[int]) -> None:
        """Let every layer of the group run on the first ``channels`` channels (None or full: all)."""
        active = None if channels is None or channels >= self.channels else int(channels)
        for layer in self.producers:
            layer.active_out = active
        for layer in self.channelwise:  # BN, and depthwise convs (whose channels follow active_out)
            layer.active_out = active
        for layer in self.consumers:
            layer.active_in = active

    def importance(self, kind: str = "l1") -> torch.Tensor:
        """Per-channel importance: L1 norm of the fan-in weights on each channel, |BN gamma|, or the
        magnitude of the learned score."""
        if kind == "l1":
            total = torch.zeros(self.channels, device=self.consumers[0].weight.device)
            for layer in self.consumers:
                weight = layer.weight.detach().abs()
                total += weight.transpose(0, 1).reshape(self.channels, -1).sum(1)
            return total
        if kind == "bn":
            bns = [m for m in self.channelwise if isinstance(m, nn.BatchNorm2d) and m.affine]
            if not bns:
                raise SlotnasError(f"elastic group {self.name!r}: importance 'bn' needs a BatchNorm with weights on "
                                   "the feature map; allowed here: l1")
            return torch.stack([bn.weight.detach().abs() for bn in bns]).sum(0)
        if kind == "score":
            if self.score is None:
                raise SlotnasError(f"elastic group {self.name!r}: importance 'score' needs a learned score (width "
                                   "rule option score: true); allowed here: l1, bn")
            return self.score.detach().abs()
        raise SlotnasError(f"elastic importance: {kind!r} not allowed; allowed: {', '.join(IMPORTANCE)}")

    @torch.no_grad()
    def sort(self, kind: str = "l1") -> torch.Tensor:
        """Reorder the channels of every layer in place, most important first; the full-width network
        computes the same function. Returns the permutation."""
        perm = torch.argsort(self.importance(kind), descending=True, stable=True)
        for layer in self.producers:
            _permute(layer, perm, dim=0, stats=False)
        for layer in self.channelwise:
            _permute(layer, perm, dim=0, stats=True)
        for layer in self.consumers:
            layer.weight.copy_(layer.weight.index_select(1, perm.to(layer.weight.device)))
        if self.score is not None:  # shared by the reading layers: permuted once
            self.score.copy_(self.score.index_select(0, perm.to(self.score.device)))
        return perm


def _permute(layer: nn.Module, perm: torch.Tensor, dim: int, stats: bool) -> None:
    names = ["weight", "bias"] + (["running_mean", "running_var"] if stats else [])
    for name in names:
        tensor = getattr(layer, name, None)
        if tensor is not None:
            tensor.copy_(tensor.index_select(dim, perm.to(tensor.device)))


@dataclass
class DepthGroup:
    """An elastic sequential group: a stage of blocks of which the first ``depth`` run."""

    name: str
    blocks: List[ElasticBlock]  # all but the first block of the stage (the first always runs)

    def apply(self, depth: int) -> None:
        """Run the first ``depth`` blocks; the others become identities."""
        for i, block in enumerate(self.blocks, start=2):
            block.elastic_skip = i > depth


@dataclass
class KernelGroup:
    """An elastic kernel: layers whose active kernel is a centre crop of the stored one."""

    name: str
    layers: List[ElasticConv2d]

    def apply(self, kernel: int) -> None:
        """Use the centre ``kernel`` x ``kernel`` taps (the stored size: all of them)."""
        for layer in self.layers:
            layer.active_kernel = None if kernel >= layer.kernel_size[0] else int(kernel)


@dataclass
class ElasticSpace:
    """The elastic groups of one model by parameter name, with the parameters' kinds and values."""

    width: Dict[str, List[WidthGroup]] = field(default_factory=dict)
    depth: Dict[str, List[DepthGroup]] = field(default_factory=dict)
    kernel: Dict[str, List[KernelGroup]] = field(default_factory=dict)

    def kinds(self) -> Dict[str, str]:
        """Parameter name -> 'width', 'depth' or 'kernel'."""
        return {name: kind for kind in ("kernel", "depth", "width") for name in getattr(self, kind)}

    def sort(self, importance: str = "l1") -> None:
        """Sort the channels of every width group by importance (function-preserving at full width)."""
        for groups in self.width.values():
            for group in groups:
                group.sort(importance)


def grow_kernel(conv: ElasticConv2d, size: int) -> None:
    """Zero-pad a conv's kernel to ``size`` (network morphism: the same function at the old size)."""
    old = conv.kernel_size[0]
    if size <= old:
        return
    pad = (size - old) // 2
    with torch.no_grad():
        grown = torch.nn.functional.pad(conv.weight.detach(), (pad, pad, pad, pad))
    conv.weight = nn.Parameter(grown, requires_grad=conv.weight.requires_grad)
    conv.kernel_size = (size, size)
    conv.padding = tuple(d * (size - 1) // 2 for d in conv.dilation)
