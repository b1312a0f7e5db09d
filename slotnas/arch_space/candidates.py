"""Candidate registry: ids such as NC3, SC5, DW3, MB3E6, IDT, NIL, ORIG built from a Slot's arguments."""
from __future__ import annotations

from typing import Callable, List

from torch import nn

from ..errors import SlotError
from ..registry import Registry
from ..slot import Slot
from . import ops

CANDIDATES = Registry("candidate")

CandidateBuilder = Callable[[Slot], nn.Module]


def register_candidate(name: str) -> Callable[[CandidateBuilder], CandidateBuilder]:
    """Decorator registering ``fn(slot) -> nn.Module`` as candidate id ``name``."""
    return CANDIDATES.register(name)


def build_candidate(name: str, slot: Slot) -> nn.Module:
    """Build candidate ``name`` with the channels and stride the Slot remembers."""
    builder = CANDIDATES.get(name)
    if slot.chn_in is None and name != "ORIG":
        raise SlotError(f"slot {slot.name!r}: candidate {name!r} needs the slot's chn_in, which is unknown")
    return builder(slot)


def candidate_names() -> List[str]:
    """All registered candidate ids."""
    return CANDIDATES.names()


for _k in (1, 3, 5, 7):
    register_candidate(f"NC{_k}")(lambda s, k=_k: ops.ConvBNReLU(s.chn_in, s.chn_out, k, s.stride))
for _k in (3, 5, 7):
    register_candidate(f"SC{_k}")(lambda s, k=_k: ops.SepConv(s.chn_in, s.chn_out, k, s.stride))
for _k in (3, 5, 7):
    register_candidate(f"DW{_k}")(lambda s, k=_k: ops.DepthwiseConv(s.chn_in, s.chn_out, k, s.stride))
for _k in (3, 5):
    register_candidate(f"DC{_k}")(lambda s, k=_k: ops.SepConv(s.chn_in, s.chn_out, k, s.stride, dilation=2))
for _k in (3, 5, 7):
    for _e in (1, 3, 6):
        register_candidate(f"MB{_k}E{_e}")(
            lambda s, k=_k, e=_e: ops.MBConv(s.chn_in, s.chn_out, k, s.stride, expansion=e)
        )


@register_candidate("AVG3")
def _avg3(slot: Slot) -> nn.Module:
    return ops.Pool("avg", slot.chn_in, slot.chn_out, slot.stride)


@register_candidate("MAX3")
def _max3(slot: Slot) -> nn.Module:
    return ops.Pool("max", slot.chn_in, slot.chn_out, slot.stride)


@register_candidate("IDT")
def _identity(slot: Slot) -> nn.Module:
    if slot.stride == 1 and slot.chn_in == slot.chn_out:
        return nn.Identity()
    if slot.stride == 1:
        return nn.Sequential(*ops.conv_bn(slot.chn_in, slot.chn_out, 1, 1))
    if slot.stride == 2:
        return ops.FactorizedReduce(slot.chn_in, slot.chn_out)
    raise SlotError(f"slot {slot.name!r}: IDT supports stride 1 or 2, got {slot.stride}")


@register_candidate("NIL")
def _zero(slot: Slot) -> nn.Module:
    return ops.Zero(slot.chn_out, slot.stride)


@register_candidate("ORIG")
def _original(slot: Slot) -> nn.Module:
    if slot.original is None:
        raise SlotError(f"slot {slot.name!r}: candidate 'ORIG' needs a slot made by slotify()")
    return slot.original
