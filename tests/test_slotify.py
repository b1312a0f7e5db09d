import pytest
import torch
import torchvision
from torch import nn

from slotnas import Slot, SlotError, find_slots, slotify


def test_slot_remembers_layer_arguments_and_names_itself(tiny_net):
    slots = find_slots(tiny_net)
    assert [s.name for s in slots] == ["a", "b", "c"]
    b = tiny_net.b
    assert (b.chn_in, b.chn_out, b.stride) == (8, 16, 2)
    s = Slot(4, kernel_size=5, groups=4)
    assert s.chn_out == 4 and s.kwargs == {"kernel_size": 5, "groups": 4}


def test_slot_without_entity_raises_naming_the_slot(tiny_net):
    find_slots(tiny_net)
    with pytest.raises(SlotError, match=r"slot 'a' has no module yet"):
        tiny_net(torch.randn(1, 1, 8, 8))


def test_set_entity_swaps_and_rejects_non_modules():
    slot = Slot(3, 3, name="s")
    slot.set_entity(nn.Identity())
    x = torch.randn(1, 3, 4, 4)
    assert torch.equal(slot(x), x)
    slot.set_entity(nn.Conv2d(3, 3, 1))
    assert slot(x).shape == x.shape and isinstance(slot.entity, nn.Conv2d)
    with pytest.raises(SlotError, match="entity must be an nn.Module"):
        slot.set_entity(lambda t: t)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_slotify_resnet_with_orig_everywhere_equals_original(arch):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=10)
    reference = getattr(torchvision.models, arch)(num_classes=10)
    reference.load_state_dict(model.state_dict())
    slots = slotify(model, [{"type": "Conv2d", "attrs": {"kernel_size": 3}}])
    n_3x3 = sum(1 for m in reference.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert len(slots) == n_3x3 and all(s.entity is s.original for s in slots)
    model.eval(), reference.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(model(x), reference(x))
    # the model's parameters are exactly the original ones (no duplicate registration)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())


def test_slotify_by_name_glob_keeps_arguments():
    model = torchvision.models.resnet18()
    slots = slotify(model, [{"name": "layer*.*.conv2"}])
    assert [s.name for s in slots] == [f"layer{i}.{j}.conv2" for i in range(1, 5) for j in range(2)]
    s = model.layer2[0].conv1  # untouched
    assert isinstance(s, nn.Conv2d)
    slot = model.layer2[0].conv2
    assert (slot.chn_in, slot.chn_out, slot.stride) == (128, 128, 1)
    assert slot.kwargs == {"kernel_size": 3, "padding": 1, "dilation": 1, "groups": 1, "bias": False}


def test_slotify_mobilenet_v2_depthwise_and_blocks():
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=10)
    reference = torchvision.models.mobilenet_v2(num_classes=10)
    reference.load_state_dict(model.state_dict())
    depthwise = slotify(model, [{"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "features.*.conv.*"}])
    assert depthwise and all(s.kwargs["groups"] == s.chn_in == s.chn_out for s in depthwise)
    assert {s.stride for s in depthwise} == {1, 2}
    model.eval(), reference.eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(model(x), reference(x))
    # whole inverted-residual blocks: channels from first/last conv, stride as product of strides
    blocks = slotify(torchvision.models.mobilenet_v2(), [{"type": "InvertedResidual"}])
    assert len(blocks) == 17
    assert (blocks[1].chn_in, blocks[1].chn_out, blocks[1].stride) == (16, 24, 2)


def test_slotify_outermost_match_wins_and_groups():
    model = torchvision.models.resnet18()
    slots = slotify(model, [{"type": "BasicBlock", "group": "blocks"}, {"type": "Conv2d"}])
    names = [s.name for s in slots]
    assert "layer1.0" in names and not any(n.startswith("layer1.0.") for n in names)
    assert "conv1" in names  # the stem conv is outside every block
    assert {s.group for s in slots if s.name.startswith("layer")} == {"blocks"}


def test_slotify_bad_rules():
    model = torchvision.models.resnet18()
    with pytest.raises(SlotError, match="matched no module"):
        slotify(model, [{"type": "Conv2d", "attrs": {"kernel_size": 9}}])
    with pytest.raises(SlotError, match=r"slot rule key 'kind' unknown; allowed: type, name, exclude, attrs, group"):
        slotify(model, [{"kind": "Conv2d"}])
    with pytest.raises(SlotError, match="needs at least one of"):
        slotify(model, [{"group": "g"}])
