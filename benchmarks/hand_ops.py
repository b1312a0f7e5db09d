"""The benchmarks' candidate operations written in plain PyTorch, as a user would write them, without any
slotnas module: the hand-written supernets are built from these, so a slotnas overhead in its candidates
or mixed ops shows up in the ratios. Weights are copied from the slotnas supernet (``copy_weights``) so
both sides compute the same numbers and sample the same paths."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(c_in: int, c_out: int, k: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def sep_conv(c_in: int, c_out: int, k: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_in, k, stride, k // 2, groups=c_in, bias=False), nn.BatchNorm2d(c_in),
                         nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class AvgPool(nn.Module):
    """3x3 average pooling (valid pixels only), a 1x1 conv + BN when the channels change."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)) \
            if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)
        return x if self.proj is None else self.proj(x)


class Reduce(nn.Module):
    """Skip connection at stride 2: ReLU, two stride-2 1x1 convs on the input and on it shifted by a pixel."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(c_in, c_out // 2, 1, 2, bias=False)
        self.b = nn.Conv2d(c_in, c_out - c_out // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return self.bn(torch.cat([self.a(x), self.b(F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)))], 1))


def skip(c_in: int, c_out: int, stride: int) -> nn.Module:
    if stride == 2:
        return Reduce(c_in, c_out)
    if c_in != c_out:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
    return nn.Identity()


HAND = {"NC3": lambda i, o, s: conv_bn_relu(i, o, 3, s), "SC3": lambda i, o, s: sep_conv(i, o, 3, s),
        "SC5": lambda i, o, s: sep_conv(i, o, 5, s), "AVG3": AvgPool, "IDT": skip}


def hand_candidates(names: list, c_in: int, c_out: int, stride: int) -> nn.ModuleList:
    """The named candidates for one slot, written by hand."""
    return nn.ModuleList(HAND[name](c_in, c_out, stride) for name in names)


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy every parameter and buffer of ``source`` into ``target`` in order (same shapes required)."""
    src, dst = list(source.state_dict().values()), list(target.state_dict().values())
    assert len(src) == len(dst) and all(a.shape == b.shape for a, b in zip(src, dst)), "structures differ"
    with torch.no_grad():
        for a, b in zip(src, dst):
            b.copy_(a)
