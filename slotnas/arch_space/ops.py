"""Building-block modules that candidates are made of (conv-bn-relu, separable, MBConv, ...)."""
from __future__ import annotations

from typing import List

import torch
from torch import nn

from ..errors import SlotError


def conv_bn(c_in: int, c_out: int, k: int, stride: int, dilation: int = 1, groups: int = 1) -> List[nn.Module]:
    """A 'same'-padded k x k convolution followed by batch norm."""
    pad = dilation * (k // 2)
    return [nn.Conv2d(c_in, c_out, k, stride, pad, dilation=dilation, groups=groups, bias=False), nn.BatchNorm2d(c_out)]


class ConvBNReLU(nn.Sequential):
    """Conv k x k -> BatchNorm -> ReLU."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1) -> None:
        super().__init__(*conv_bn(c_in, c_out, k, stride), nn.ReLU(inplace=False))


class DepthwiseConv(nn.Sequential):
    """Depthwise k x k -> BN -> ReLU (Liu et al.'s primitive); out channels must be a multiple of in."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1) -> None:
        if c_out % c_in:
            raise SlotError(f"depthwise conv: out channels ({c_out}) must be a multiple of in channels ({c_in})")
        super().__init__(*conv_bn(c_in, c_out, k, stride, groups=c_in), nn.ReLU(inplace=False))


class SepConv(nn.Sequential):
    """Depthwise k x k (optionally dilated) -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(
            *conv_bn(c_in, c_in, k, stride, dilation, groups=c_in),
            nn.ReLU(inplace=False),
            *conv_bn(c_in, c_out, 1, 1),
            nn.ReLU(inplace=False),
        )


class MBConv(nn.Module):
    """MobileNetV2 inverted residual: expand 1x1 -> depthwise k x k -> project 1x1 (+ skip)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, expansion: int = 6) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers: List[nn.Module] = []
        if expansion != 1:
            layers += [*conv_bn(c_in, hidden, 1, 1), nn.ReLU6(inplace=True)]
        layers += [*conv_bn(hidden, hidden, k, stride, groups=hidden), nn.ReLU6(inplace=True)]
        layers += conv_bn(hidden, c_out, 1, 1)
        self.conv = nn.Sequential(*layers)
        self.use_skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_skip else out


def pool3x3(kind: str, stride: int = 1) -> nn.Module:
    """3x3 max pooling or average pooling over the valid pixels only, 'same' padding."""
    return nn.MaxPool2d(3, stride, 1) if kind == "max" else nn.AvgPool2d(3, stride, 1, count_include_pad=False)


class Pool(nn.Module):
    """3x3 average or max pooling, with a 1x1 conv-bn projection when channels change."""

    def __init__(self, kind: str, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.pool = pool3x3(kind, stride)
        self.proj = nn.Sequential(*conv_bn(c_in, c_out, 1, 1)) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        return x if self.proj is None else self.proj(x)


class FactorizedReduce(nn.Module):
    """Halve resolution and map channels with two offset stride-2 1x1 convs (DARTS)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        half = c_out // 2
        self.relu = nn.ReLU(inplace=False)
        self.conv1 = nn.Conv2d(c_in, half, 1, 2, bias=False)
        self.conv2 = nn.Conv2d(c_in, c_out - half, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # the second branch sees the input shifted by one pixel, zero-padded back to its size,
        # so both branches agree for even, odd and 1x1 inputs
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv1(x), self.conv2(shifted)], dim=1))


class Zero(nn.Module):
    """Zeros of the output shape: the 'no connection' candidate."""

    is_zero = True

    def __init__(self, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.c_out, self.stride = c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        zero = x[:, :1, ::s, ::s].mul(0.0)  # stays in the graph; one channel, then a view
        return zero.expand(-1, self.c_out, -1, -1)

    def extra_repr(self) -> str:
        return f"c_out={self.c_out}, stride={self.stride}"
