"""Operations of published search spaces under their papers' names: DARTS (Liu et al. 2019) and
NAS-Bench-201 (Dong & Yang 2020), as candidates; plus the DARTS search-network conversion.

DARTS: none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3/5x5 (two ReLU-dw-pw-BN blocks),
dil_conv_3x3/5x5 (ReLU-dw(dilation 2)-pw-BN). NAS-Bench-201 adds nor_conv_1x1/3x3 (ReLU-conv-BN);
its none, skip_connect and avg_pool_3x3 are DARTS's. Channels may change (a 1x1 ReLU-conv-BN maps
them where the paper's op keeps them).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ..slot import Slot
from . import ops
from .candidates import register_candidate


class ReLUConvBN(nn.Sequential):
    """ReLU -> k x k conv (no bias) -> BN: DARTS's and NAS-Bench-201's plain convolution."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(nn.ReLU(inplace=False), *ops.conv_bn(c_in, c_out, k, stride, dilation))


class DilConv(nn.Sequential):
    """DARTS dil_conv: ReLU -> depthwise k x k (dilated) -> pointwise 1x1 -> BN."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, dilation: int = 2) -> None:
        pad = dilation * (k - 1) // 2
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, k, stride, pad, dilation=dilation, groups=c_in, bias=False),
                         *ops.conv_bn(c_in, c_out, 1, 1))


class SepConv(nn.Sequential):
    """DARTS sep_conv: two stacked ReLU -> depthwise k x k -> pointwise 1x1 -> BN (stride in the first)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1) -> None:
        super().__init__(*DilConv(c_in, c_in, k, stride, dilation=1), *DilConv(c_in, c_out, k, 1, dilation=1))


class Pool(nn.Sequential):
    """3x3 max or average pooling (NAS-Bench-201: a 1x1 ReLU-conv-BN first when channels change)."""

    def __init__(self, kind: str, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(*([ReLUConvBN(c_in, c_out, 1)] if c_in != c_out else []), ops.pool3x3(kind, stride))


class ResNetBasicBlock(nn.Module):
    """NAS-Bench-201's residual reduction block: two 3x3 ReLU-conv-BN, avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample: Optional[nn.Module] = None
        if stride == 2:
            self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))
        elif c_in != c_out:
            self.downsample = ReLUConvBN(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


def _skip(slot: Slot) -> nn.Module:
    if slot.stride == 1:
        return nn.Identity() if slot.chn_in == slot.chn_out else ReLUConvBN(slot.chn_in, slot.chn_out, 1)
    return ops.FactorizedReduce(slot.chn_in, slot.chn_out)


register_candidate("none")(lambda s: ops.Zero(s.chn_out, s.stride))
register_candidate("skip_connect")(_skip)
register_candidate("max_pool_3x3")(lambda s: Pool("max", s.chn_in, s.chn_out, s.stride))
register_candidate("avg_pool_3x3")(lambda s: Pool("avg", s.chn_in, s.chn_out, s.stride))
for _k in (3, 5):
    register_candidate(f"sep_conv_{_k}x{_k}")(lambda s, k=_k: SepConv(s.chn_in, s.chn_out, k, s.stride))
    register_candidate(f"dil_conv_{_k}x{_k}")(lambda s, k=_k: DilConv(s.chn_in, s.chn_out, k, s.stride))
for _k in (1, 3):
    register_candidate(f"nor_conv_{_k}x{_k}")(lambda s, k=_k: ReLUConvBN(s.chn_in, s.chn_out, k, s.stride))


def non_affine(module: nn.Module) -> nn.Module:
    """``module`` with every affine BatchNorm2d replaced by a non-affine one (DARTS's search network)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and child.affine:
            setattr(module, name, nn.BatchNorm2d(child.num_features, child.eps, child.momentum, affine=False,
                                                 track_running_stats=child.track_running_stats))
        else:
            non_affine(child)
    return module


def ends_in_pool(module: nn.Module) -> bool:
    """Whether the module's last step is a pooling layer."""
    while isinstance(module, nn.Sequential) and len(module):
        module = module[-1]
    return isinstance(module, (nn.MaxPool2d, nn.AvgPool2d, ops.Pool))


class SearchOp(nn.Module):
    """An operation as DARTS's search network runs it (non-affine BN, a non-affine BN after pooling);
    export gives the evaluation network's operation instead (affine, fresh weights), as DARTS retrains
    the derived architecture from scratch."""

    def __init__(self, build: Callable[[], nn.Module], channels: int) -> None:
        super().__init__()
        search = non_affine(build())
        self.is_zero = bool(getattr(search, "is_zero", False))
        if ends_in_pool(search):
            search = nn.Sequential(search, nn.BatchNorm2d(channels, affine=False))
        self.op = search
        self.__dict__["_build"] = build
        self.__dict__["_evaluation"] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)

    def to_fixed(self) -> nn.Module:
        """The evaluation network's operation (built once)."""
        if self.__dict__["_evaluation"] is None:
            self.__dict__["_evaluation"] = self.__dict__["_build"]()
        return self.__dict__["_evaluation"]
