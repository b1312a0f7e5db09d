import pytest
import torch
import torchvision
from torch import nn

from slotnas import Categorical, SlotError, SlotnasError, TensorParam, construct, find_slots, slotify
from slotnas.arch_space import Index, WeightedSum
from slotnas.arch_space.ops import SepConv


def test_categorical_switches_module_and_caches(tiny_net):
    space = construct(tiny_net, [{"type": "categorical", "candidates": ["NC3", "SC5", "IDT"]}])
    assert space.names() == ["a", "b", "c"] and space.size() == 27
    assert all(isinstance(p, Categorical) for p in space)
    x = torch.randn(2, 1, 8, 8)
    assert tiny_net(x).shape == (2, 10)
    first = tiny_net.a.entity
    space.update({"a": "SC5"})
    assert isinstance(tiny_net.a.entity, SepConv) and tiny_net.a.entity.__getitem__(0).kernel_size == (5, 5)
    assert tiny_net(x).shape == (2, 10)
    space.update({"a": "NC3"})
    assert tiny_net.a.entity is first  # built once, cached
    space.update({"a": "IDT"})
    assert isinstance(tiny_net.a.entity, nn.Identity)


def test_only_the_chosen_candidate_is_registered(tiny_net):
    space = construct(tiny_net, [{"type": "categorical", "candidates": ["NC3", "SC5"]}])
    n_nc3 = sum(p.numel() for p in tiny_net.parameters())
    space.update({"a": "SC5", "b": "SC5", "c": "SC5"})
    n_sc5 = sum(p.numel() for p in tiny_net.parameters())
    assert n_sc5 < n_nc3  # separable convs are smaller; inactive candidates are not counted


def test_mixed_op_chain_and_fixed(tiny_net):
    space = construct(tiny_net, [
        {"type": "fixed", "slots": "b", "candidate": "MB3E3"},
        {"type": "mixed_op", "candidates": ["NC3", "NC5", "IDT", "NIL"]},
    ])
    assert space.names() == ["a", "c"]
    assert isinstance(tiny_net.a.entity, WeightedSum) and all(isinstance(p, TensorParam) for p in space)
    out = tiny_net(torch.randn(2, 1, 8, 8))
    out.sum().backward()
    assert all(t.grad is not None for t in space.tensors())
    assert tiny_net.b.entity.use_skip is False  # MB3E3 with stride 2 and 8->16 channels


def test_index_mixed_op_uses_categorical(tiny_net):
    space = construct(tiny_net, [{"type": "mixed_op", "mixed": "index", "candidates": ["NC3", "IDT"]}])
    assert isinstance(tiny_net.a.entity, Index) and isinstance(space["a"], Categorical)
    space.update({"a": "IDT"})
    assert tiny_net.a.entity.chosen() == "IDT"


def test_group_shares_one_parameter():
    model = torchvision.models.resnet18(num_classes=10)
    slotify(model, [{"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "layer1.*", "group": "l1"},
                    {"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "layer2.*"}])
    space = construct(model, [{"type": "categorical", "candidates": ["ORIG", "NC5", "SC3"]}])
    assert space.names()[0] == "l1" and len(space) == 1 + 4
    space.update({"l1": "SC3"})
    l1 = [s for s in find_slots(model) if s.group == "l1"]
    assert len(l1) == 4 and all(isinstance(s.entity, SepConv) for s in l1)
    assert len({id(s.entity) for s in l1}) == 4  # shared choice, separate weights
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_mixed_op_group_shares_alpha():
    model = torchvision.models.resnet18(num_classes=10)
    slotify(model, [{"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "layer1.*", "group": "g"}])
    space = construct(model, [{"type": "mixed_op", "candidates": ["NC3", "IDT"], "mixed": "gumbel", "tau": 0.5}])
    ops = [s.entity for s in find_slots(model)]
    assert len(space) == 1 and all(op.alpha is space["g"] and op.tau == 0.5 for op in ops)


def test_lazy_candidates_follow_the_model_device(tiny_net):
    space = construct(tiny_net, [{"type": "categorical", "candidates": ["NC3", "SC5"]}])
    tiny_net.to(torch.float64)
    space.update({"a": "SC5"})
    assert tiny_net.a.entity[0].weight.device == tiny_net.stem.weight.device


def test_construct_errors(tiny_net):
    with pytest.raises(SlotnasError, match=r"unknown constructor 'mixed' \(did you mean 'mixed_op'\?\)"):
        construct(tiny_net, [{"type": "mixed", "candidates": ["NC3"]}])
    with pytest.raises(SlotnasError, match=r"constructor 'categorical': unknown option 'candidate'"):
        construct(tiny_net, [{"type": "categorical", "candidate": ["NC3"]}])
    with pytest.raises(SlotnasError, match="slot 'a' has no choices of its own; give 'candidates'"):
        construct(tiny_net, [{"type": "mixed_op"}])
    with pytest.raises(SlotnasError, match=r"constructor 'mixed_op' \(mixed op 'gumbel'\): unknown option 'temp'; allowed: tau, hard"):
        construct(tiny_net, [{"type": "mixed_op", "mixed": "gumbel", "temp": 1, "candidates": ["NC3"]}])
    with pytest.raises(SlotnasError, match="unknown candidate 'NC9'"):
        construct(tiny_net, [{"type": "categorical", "candidates": ["NC3", "NC9"]}])
    with pytest.raises(SlotnasError, match="needs 'type'"):
        construct(tiny_net, [{"candidates": ["NC3"]}])


def test_unconstructed_slot_is_reported(tiny_net):
    with pytest.raises(SlotError, match=r"slot 'c' has no module after construct"):
        construct(tiny_net, [{"type": "fixed", "slots": "[ab]", "candidate": "NC3"}])


def test_callable_step_and_existing_space(tiny_net):
    def all_identity(slots, space):
        for s in slots:
            s.set_entity(nn.Identity() if s.stride == 1 else nn.Conv2d(s.chn_in, s.chn_out, 1, s.stride))

    space = construct(tiny_net, [all_identity])
    assert len(space) == 0 and tiny_net(torch.randn(1, 1, 8, 8)).shape == (1, 10)


def test_two_constructed_models_are_independent():
    from tests.conftest import TinyNet

    m1, m2 = TinyNet(), TinyNet()
    chain = [{"type": "categorical", "candidates": ["NC3", "IDT"]}]
    s1, s2 = construct(m1, chain), construct(m2, chain)
    s1.update({"a": "IDT"})
    assert isinstance(m1.a.entity, nn.Identity) and not isinstance(m2.a.entity, nn.Identity)
    assert s2["a"].value == "NC3"
