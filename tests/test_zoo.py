"""Slotify never breaks a host model: torchvision (and timm, when installed) models of many families.

For each: ORIG everywhere is bit-identical and has the same parameters, a random architecture over
ORIG/NC3/SC3/IDT trains one step (also where the host applies in-place ops after a slot), and the
original model's state_dict loads strictly into the slotified one. The slowest cases are marked
``slow``: ``pytest -m "not slow"`` deselects them locally; CI runs them all.
"""
import copy
import random

import pytest
import torch
import torchvision
from torch import nn

from slotnas import construct, slotify
from slotnas.arch_space.export import fix
from slotnas.slot import Slot

CONV3 = [{"type": "Conv2d", "attrs": {"kernel_size": 3}}]
LINEAR = [{"type": "Linear"}]
CANDIDATES = ["ORIG", "NC3", "SC3", "IDT"]

TORCHVISION = [  # (builder, kwargs, slot rules, input size, slow)
    ("resnet18", {}, CONV3, 64, False),
    ("mobilenet_v2", {}, CONV3, 64, False),
    ("mobilenet_v3_small", {}, CONV3, 64, False),
    ("squeezenet1_1", {}, CONV3, 64, False),
    ("shufflenet_v2_x0_5", {}, CONV3, 64, False),
    ("mnasnet0_5", {}, CONV3, 64, False),
    ("efficientnet_b0", {}, CONV3, 64, True),
    ("regnet_x_400mf", {}, CONV3, 64, True),
    ("densenet121", {}, CONV3, 64, True),
    ("googlenet", {"aux_logits": False, "init_weights": True}, CONV3, 64, True),
    ("vit_b_16", {"image_size": 32}, LINEAR, 32, True),
    ("swin_t", {}, LINEAR, 64, True),
]


def params_of(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_model(model: nn.Module, rules, size: int, conv_search: bool) -> None:
    torch.manual_seed(0)
    model.eval()
    original = copy.deepcopy(model)
    state = copy.deepcopy(original.state_dict())
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = original(x)
    slots = slotify(model, rules)
    assert slots and list(model.state_dict()) == list(state)  # the same keys, in the same order
    space = construct(model, [{"type": "categorical", "candidates": CANDIDATES if conv_search else ["ORIG"]}])
    model.load_state_dict(state)  # strict: the original weights load while ORIG is chosen
    with torch.no_grad():
        assert torch.equal(model(x), expected)  # ORIG everywhere: bit-identical
    fixed = fix(model)
    assert params_of(fixed) == params_of(original)
    assert list(fixed.state_dict()) == list(state) and not any(isinstance(m, Slot) for m in fixed.modules())
    rng = random.Random(0)
    space.update({name: rng.choice(space.get(name).choices) for name in space.names()})
    partly = fix(model).state_dict()  # ORIG layers of a mixed architecture keep the original model's keys
    kept = [f"{s.name}.{key}" for s in slots if s.candidate == "ORIG" for key in s.original.state_dict()]
    assert all(torch.equal(partly[key], state[key]) for key in kept)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = model(x).float().logsumexp(-1).mean()
    loss.backward()  # no "modified by an inplace operation", whatever the slots hold
    opt.step()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name, kwargs, rules, size", [
    pytest.param(n, k, r, s, marks=[pytest.mark.slow] if slow else [], id=n) for n, k, r, s, slow in TORCHVISION])
def test_torchvision_model(name, kwargs, rules, size):
    model = getattr(torchvision.models, name)(num_classes=10, **kwargs)
    check_model(model, rules, size, conv_search=rules is CONV3)


TIMM = [("resnet18", CONV3, 64), ("efficientnet_b0", CONV3, 64), ("convnext_atto", LINEAR, 64),
        ("mobilevit_xxs", CONV3, 64), ("vit_tiny_patch16_224", LINEAR, 224), ("deit_tiny_patch16_224", LINEAR, 224)]


@pytest.mark.slow
@pytest.mark.parametrize("name, rules, size", TIMM, ids=[t[0] for t in TIMM])
def test_timm_model(name, rules, size):
    timm = pytest.importorskip("timm", reason="timm is not installed (pip install 'slotnas[zoo]')")
    check_model(timm.create_model(name, pretrained=False, num_classes=10), rules, size, conv_search=rules is CONV3)


def test_a_host_that_reads_a_slots_tensors():
    """nn.MultiheadAttention reads out_proj.weight: ORIG works; any other candidate is a clear error."""
    torch.manual_seed(0)
    attention = nn.TransformerEncoderLayer(16, 2, 32, batch_first=True).eval()
    x = torch.randn(2, 5, 16)
    expected = attention(x)
    (slot,) = slotify(attention, [{"type": "Linear", "name": "self_attn.out_proj"}])
    assert torch.equal(attention(x), expected) and slot.weight is slot.original.weight
    space = construct(attention, [{"type": "categorical", "candidates": ["ORIG", "IDT"]}])
    space.update({"self_attn.out_proj": "IDT"})
    with pytest.raises(AttributeError, match=r"slot 'self_attn.out_proj': the host reads 'weight', which its "
                                             r"candidate 'IDT' \(Identity\) does not have"):
        attention(x)


class ConvReluConv(nn.Module):
    """The minimal in-place case: a conv whose output the host overwrites with ReLU(inplace=True)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.relu(self.conv1(x)))


def test_in_place_host_ops_after_a_slot():
    torch.manual_seed(0)
    model = ConvReluConv()
    x = torch.randn(2, 3, 8, 8)
    expected = model(x)
    slotify(model, [{"name": "conv1"}])
    assert model.relu.inplace is False and torch.equal(model(x), expected)  # same numbers out of place
    space = construct(model, [{"type": "categorical", "candidates": ["ORIG", "NC3", "SC3"]}])
    for choice in ("NC3", "SC3"):
        space.update({"conv1": choice})
        model(x).sum().backward()
    model.relu.inplace = True  # what the host did: the candidate's saved ReLU output gets overwritten
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        model(x).sum().backward()
