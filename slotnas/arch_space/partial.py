"""Partial channels (PC-DARTS, Xu et al. 2020): a mixed op's candidates see only 1/K of the channels.

The other channels bypass the candidates (max-pooled where the candidates reduce resolution), the two
parts are concatenated and the channels shuffled so that every channel goes through the candidates in
some layer. Candidates are built at C/K channels; the derived network gets full-width ones.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from ..errors import SlotError


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: ``groups`` blocks of channels interleaved."""
    batch, channels = x.shape[:2]
    return x.view(batch, groups, channels // groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


def partial_channels(x: torch.Tensor, k: int, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``fn`` on the first C/K channels of ``x``, the rest passed by (pooled to ``fn``'s resolution), shuffled."""
    part = x.shape[1] // k
    y = fn(x[:, :part])
    rest = x[:, part:]
    if y.shape[2:] != rest.shape[2:]:
        rest = F.adaptive_max_pool2d(rest, y.shape[2:])  # = max pool 2x2 / stride 2 on even sizes
    return channel_shuffle(torch.cat([y, rest], dim=1), k)


def partial_width(slot_name: str, chn_in: Optional[int], chn_out: Optional[int], k: int) -> int:
    """The width candidates of a slot are built at with ``partial_channels: k``, or a one-line error."""
    if chn_in is None:
        raise SlotError(f"mixed_op partial_channels: slot {slot_name!r} has no known channel count")
    if chn_in != chn_out:
        raise SlotError(f"mixed_op partial_channels: slot {slot_name!r} changes channels ({chn_in} -> {chn_out}); "
                        "partial channels need slots that keep them (restrict the step with 'slots:')")
    if chn_in % k:
        raise SlotError(f"mixed_op partial_channels: {k} does not divide the {chn_in} channels of slot "
                        f"{slot_name!r}; allowed: a divisor of {chn_in}")
    return chn_in // k
