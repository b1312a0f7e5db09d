import pytest
import torch
from torch import nn

from slotnas import Slot, SlotnasError, SlotError, build_candidate, register_candidate
from slotnas.arch_space import CANDIDATES, candidate_names

BUILT_IN = (
    [f"NC{k}" for k in (1, 3, 5, 7)] + [f"SC{k}" for k in (3, 5, 7)] + [f"DW{k}" for k in (3, 5, 7)] + ["DC3", "DC5"]
    + [f"MB{k}E{e}" for k in (3, 5, 7) for e in (1, 3, 6)] + ["AVG3", "MAX3", "IDT", "NIL"]
)


def test_all_documented_ids_are_registered():
    assert set(BUILT_IN + ["ORIG"]) <= set(candidate_names())


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("chn_out", [8, 16])
def test_candidate_shapes_and_backward(name, stride, chn_out):
    slot = Slot(8, chn_out, stride, name="s")
    module = build_candidate(name, slot)
    x = torch.randn(2, 8, 9, 9, requires_grad=True)  # odd size: stride-2 padding corner cases
    y = module(x)
    assert y.shape == (2, chn_out, 5 if stride == 2 else 9, 5 if stride == 2 else 9)
    y.sum().backward()
    if name != "NIL":
        assert x.grad is not None and torch.isfinite(x.grad).all()


def test_identity_is_a_true_identity_when_shapes_match():
    assert isinstance(build_candidate("IDT", Slot(8, 8, 1)), nn.Identity)


def test_depthwise_needs_a_channel_multiple():
    conv = build_candidate("DW3", Slot(8, 8, 1)).__getitem__(0)
    assert conv.groups == 8 and conv.weight.shape == (8, 1, 3, 3)
    with pytest.raises(SlotError, match=r"out channels \(12\) must be a multiple of in channels \(8\)"):
        build_candidate("DW3", Slot(8, 12, 1))


def test_mbconv_residual_only_when_shapes_match():
    assert build_candidate("MB3E6", Slot(8, 8, 1)).use_skip
    assert not build_candidate("MB3E6", Slot(8, 8, 2)).use_skip


def test_orig_needs_a_slotified_slot():
    original = nn.Conv2d(3, 3, 3)
    assert build_candidate("ORIG", Slot(3, original=original)) is original
    with pytest.raises(SlotError, match="'ORIG' needs a slot made by slotify"):
        build_candidate("ORIG", Slot(3, name="x"))


def test_unknown_candidate_suggests_a_close_id():
    with pytest.raises(SlotnasError, match=r"unknown candidate 'NC4' \(did you mean 'NC1'\?|unknown candidate 'NC4'"):
        build_candidate("NC4", Slot(3))
    with pytest.raises(SlotnasError, match="allowed: NC1, NC3"):
        build_candidate("XYZ", Slot(3))


def test_user_registered_candidate():
    @register_candidate("TEST_DOUBLE_CONV")
    def double(slot):
        return nn.Sequential(nn.Conv2d(slot.chn_in, slot.chn_out, 3, slot.stride, 1), nn.Conv2d(slot.chn_out, slot.chn_out, 1))

    try:
        y = build_candidate("TEST_DOUBLE_CONV", Slot(4, 6, 2))(torch.randn(1, 4, 8, 8))
        assert y.shape == (1, 6, 4, 4)
        with pytest.raises(SlotnasError, match="already registered"):
            register_candidate("TEST_DOUBLE_CONV")(lambda s: nn.Identity())
    finally:
        CANDIDATES._items.pop("TEST_DOUBLE_CONV")
