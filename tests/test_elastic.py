"""Elastic width, depth and kernel on unmodified torchvision models: exactness against separately built
narrow networks, function-preserving sorting and growth, export, and a progressive-shrinking search."""
import copy
import random

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual

from slotnas.arch_space.elastic import apply_elastic
from slotnas.arch_space.export import fix
from slotnas.errors import SlotnasError
from slotnas.metrics import count_params
from slotnas.params import ParamSpace

MBV2_RULES = [{"type": "width", "name": "features.*.conv.0.0", "expand_ratio": [1, 3, 6]},
              {"type": "depth", "block": "InvertedResidual", "choices": [1, 2, 3, 4]}]
# torchvision's mobilenet_v2 stages: t, c, n, s (stage 1 has no expansion conv and stays fixed)
MBV2_STAGES = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]


def elastic(model, rules, shape):
    space = ParamSpace()
    apply_elastic(model, rules, space, shape)
    return space


def narrow_copy(narrow: nn.Module, wide: nn.Module) -> nn.Module:
    """Load ``narrow`` with the leading corner of each of ``wide``'s tensors (the first channels)."""
    state = {k: v[tuple(slice(0, s) for s in narrow.state_dict()[k].shape)] for k, v in wide.state_dict().items()}
    narrow.load_state_dict(state)
    return narrow


def mbv2(**kw):
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v2(num_classes=10, **kw).double()


@pytest.mark.parametrize("ratio", [3, 6, 2])
@pytest.mark.parametrize("training", [False, True])
def test_width_equals_narrow_block_with_sliced_weights(ratio, training):
    torch.manual_seed(0)
    block = InvertedResidual(24, 24, 1, expand_ratio=6).double()
    for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.normal_(), bn.running_var.uniform_(0.5, 2)
    space = elastic(block, [{"type": "width", "name": "conv.0.0", "expand_ratio": [2, 3, 6]}], (24, 8, 8))
    space.update({"conv.0.0.expand_ratio": ratio})
    narrow = narrow_copy(InvertedResidual(24, 24, 1, expand_ratio=ratio).double(), block)
    x = torch.randn(4, 24, 8, 8, dtype=torch.float64)
    block.train(training), narrow.train(training)
    assert torch.equal(block(x), narrow(x))
    if training:  # the running statistics of the active channels moved exactly like the narrow BN's
        assert torch.equal(block.conv[0][1].running_mean[:24 * ratio], narrow.conv[0][1].running_mean)
        assert torch.equal(block.conv[1][1].running_var[:24 * ratio], narrow.conv[1][1].running_var)


def test_full_setting_is_bit_identical_to_the_original():
    model, original = mbv2(), mbv2()
    space = elastic(model, MBV2_RULES + [{"type": "kernel", "name": "features.*.conv.1.0", "choices": [3, 5, 7]}],
                    (3, 32, 32))
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert torch.equal(model.eval()(x), original.eval()(x))
    assert [n for n, _ in model.named_parameters() if "kernel" not in n] == [n for n, _ in original.named_parameters()]
    space.update(space.sample(random.Random(1)))
    space.update({p.name: p.default for p in space})  # back to the full setting
    assert torch.equal(model(x), original(x))


def test_depth_equals_network_with_trailing_blocks_removed():
    model, original = mbv2(), mbv2()
    space = elastic(model, MBV2_RULES, (3, 32, 32))
    space.update({"features.7-10.depth": 2, "features.4-6.depth": 1})
    kept = [b for i, b in enumerate(original.features) if i not in (9, 10, 5, 6)]
    original.features = nn.Sequential(*kept)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert torch.equal(model.eval()(x), original.eval()(x))


def test_sort_keeps_the_full_network_function_and_orders_by_importance():
    model = mbv2()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):  # channels that differ
        bn.weight.data.normal_(), bn.running_mean.normal_(), bn.running_var.uniform_(0.5, 2)
    space = elastic(model, MBV2_RULES, (3, 32, 32))
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    before = model.eval()(x)
    space.elastic.sort("l1")
    assert torch.allclose(model(x), before, rtol=1e-9, atol=1e-9)
    group = space.elastic.width["features.5.conv.0.0.expand_ratio"][0]
    importance = group.importance("l1")
    assert torch.all(importance[:-1] >= importance[1:])
    space.elastic.sort("bn")
    gamma = group.importance("bn")
    assert torch.all(gamma[:-1] >= gamma[1:]) and torch.allclose(model(x), before, rtol=1e-9, atol=1e-9)


def test_a_learned_score_trains_orders_the_channels_and_is_baked_into_the_export():
    torch.manual_seed(0)
    block = InvertedResidual(16, 16, 1, expand_ratio=6).double().eval()
    original = copy.deepcopy(block)
    space = elastic(block, [{"type": "width", "name": "conv.0.0", "expand_ratio": [3, 6], "score": True}], (16, 6, 6))
    x = torch.randn(4, 16, 6, 6, dtype=torch.float64)
    assert torch.equal(block(x), original(x))  # a score of ones: the same function, bit for bit
    (group,) = space.elastic.width["conv.0.0.expand_ratio"]
    block(x).square().sum().backward()
    assert group.score.grad is not None and group.score.grad.abs().sum() > 0
    with torch.no_grad():
        group.score.uniform_(0.1, 2.0)
    before = block(x)
    space.elastic.sort("score")
    assert torch.allclose(block(x), before, atol=1e-12) and torch.all(group.score[:-1] >= group.score[1:])
    space.update({"conv.0.0.expand_ratio": 3})
    fixed = fix(block)
    assert not any("score" in k for k in fixed.state_dict()) and torch.allclose(fixed(x), block(x), atol=1e-12)


def test_export_matches_torchvision_built_with_those_widths_and_depths():
    model = mbv2()
    space = elastic(model, MBV2_RULES, (3, 32, 32))
    ratios, depths = [3, 6, 3, 6, 3, 6], [2, 1, 3, 2, 1, 1]
    setting = [MBV2_STAGES[0]] + [[t, c, d, s] for t, d, (_, c, _, s) in zip(ratios, depths, MBV2_STAGES[1:])]
    index, values = 2, {}  # one expansion ratio per stage, as torchvision builds it
    for stage, (_, _, n, _) in enumerate(MBV2_STAGES[1:]):
        for i in range(index, index + n):
            values[f"features.{i}.conv.0.0.expand_ratio"] = ratios[stage]
        if n > 1:
            values[f"features.{index}-{index + n - 1}.depth"] = depths[stage]
        index += n
    space.update(values)
    fixed = fix(model).eval()
    assert not any("Elastic" in type(m).__name__ for m in fixed.modules())
    reference = mbv2(inverted_residual_setting=setting).eval()
    assert count_params(fixed) == sum(p.numel() for p in reference.parameters())
    reference.load_state_dict(dict(zip(reference.state_dict(), fixed.state_dict().values())))
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert torch.equal(fixed(x), model.eval()(x)) and torch.equal(reference(x), fixed(x))


def test_resnet_bottleneck_widths_and_stage_depths_export_like_torchvision():
    torch.manual_seed(0)
    model = torchvision.models.resnet50(num_classes=10).double()
    space = elastic(model, [{"type": "width", "name": "layer*.conv[12]", "width": [0.25, 0.5, 0.75, 1.0]},
                            {"type": "depth", "block": "Bottleneck", "choices": [1, 2, 3, 4, 5, 6]}], (3, 32, 32))
    assert {"layer1.depth", "layer4.depth", "layer1.0.conv1.width", "layer3.5.conv2.width"} <= set(space.names())
    assert space.get("layer1.depth").choices == [1, 2, 3] and space.get("layer3.depth").choices == [1, 2, 3, 4, 5, 6]
    depths = [2, 3, 4, 2]
    space.update({**{n: 0.5 for n in space.names() if n.endswith(".width")},
                  **{f"layer{i + 1}.depth": d for i, d in enumerate(depths)}})
    fixed = fix(model).eval()
    reference = torchvision.models.ResNet(torchvision.models.resnet.Bottleneck, depths, num_classes=10,
                                          width_per_group=32).double().eval()
    assert count_params(fixed) == sum(p.numel() for p in reference.parameters())
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert torch.equal(fixed(x), model.eval()(x))


def test_residual_adds_tie_a_stage_into_one_group():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).double()
    space = elastic(model, [{"type": "width", "name": "layer2.0.conv2", "width": [0.5, 1.0]}], (3, 32, 32))
    (group,) = space.elastic.width["layer2.0.conv2.width"]
    names = {id(m): n for n, m in model.named_modules()}
    assert {names[id(m)] for m in group.producers} == {"layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv2"}
    assert {names[id(m)] for m in group.consumers} == {"layer2.1.conv1", "layer3.0.conv1", "layer3.0.downsample.0"}
    space.update({"layer2.0.conv2.width": 0.5})
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    fixed = fix(model).eval()
    assert fixed.layer2[1].conv2.out_channels == 64 and fixed.layer3[0].downsample[0].in_channels == 64
    assert torch.equal(fixed(x), model.eval()(x))


class Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.head = nn.Conv2d(3, 8, 1), nn.Conv2d(3, 8, 1), nn.Conv2d(16, 4, 1)

    def forward(self, x):
        return self.head(torch.cat([self.a(x), self.b(x)], 1))


@pytest.mark.parametrize("model, rule, message", [
    (Concat(), {"type": "width", "name": "a", "width": [0.5, 1.0]}, r"elastic\[0\]: the output of 'a' reaches operation cat"),
    (Concat(), {"type": "width", "name": "head", "width": [0.5, 1.0]}, "reaches the model's output"),
    (Concat(), {"type": "width", "name": "nothing*", "width": [0.5]}, "no Conv2d or Linear layer matches"),
    (nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 4, 1)),
     {"type": "width", "name": "0", "expand_ratio": [4.0]}, r"elastic\[0\]\.expand_ratio: 4.0 gives 12 channels for '0', which has 8"),
    (Concat(), {"type": "width", "name": "a"}, "exactly one of expand_ratio and width"),
    (Concat(), {"type": "depth", "block": "Conv2d", "choices": [1, 2]}, "no stage of 2 or more"),
    (Concat(), {"type": "kernel", "choices": [3, 4]}, "must be odd"),
    (Concat(), {"type": "widht", "width": [0.5]}, "did you mean 'width'"),
    (Concat(), {"type": "width", "width": [1.5]}, r"elastic\[0\]\.width: expected a list of float in \(0, 1\]"),
])
def test_bad_rules_are_one_line_errors(model, rule, message):
    with pytest.raises(SlotnasError, match=message) as info:
        elastic(model, [rule], (3, 8, 8))
    assert "\n" not in str(info.value)


def test_a_model_that_does_not_run_on_the_input_is_a_one_line_error():
    for rule in ({"type": "width", "name": "a", "width": [0.5, 1.0]}, {"type": "depth", "block": "Conv2d", "choices": [1]}):
        with pytest.raises(SlotnasError, match=r"^elastic\[0\]: the model does not run on an input of shape \[1, 8, 8\] "
                                               r"\(RuntimeError: .*channels.*\); check the data's channels") as info:
            elastic(Concat(), [rule], (1, 8, 8))
        assert "\n" not in str(info.value)


def test_elastic_kernel_crops_the_centre_and_grows_function_preserving():
    torch.manual_seed(0)
    wide = nn.Sequential(nn.Conv2d(4, 4, 7, padding=3, groups=4)).double()
    kernel = wide[0].weight.detach().clone()
    space = elastic(wide, [{"type": "kernel", "choices": [3, 5, 7]}], (4, 9, 9))
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    space.update({"0.kernel": 5})
    assert torch.equal(wide(x), nn.functional.conv2d(x, kernel[:, :, 1:6, 1:6], wide[0].bias, padding=2, groups=4))
    small = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4)).double()
    original = copy.deepcopy(small)
    space = elastic(small, [{"type": "kernel", "choices": [3, 5, 7], "transform": True}], (4, 9, 9))
    assert space.get("0.kernel").value == 3 and small[0].weight.shape[-1] == 7
    assert torch.equal(small(x), original(x))
    space.update({"0.kernel": 7})
    assert torch.allclose(small(x), original(x), atol=1e-12)  # zero taps around the old kernel: same function
    with torch.no_grad():  # OFA's transforms: fixing bakes the transformed crop into a plain 3x3 conv
        small[0].kernel_5to3.add_(0.1 * torch.randn(9, 9, dtype=torch.float64))
    space.update({"0.kernel": 3})
    fixed = fix(small)
    assert type(fixed[0]) is nn.Conv2d and fixed[0].kernel_size == (3, 3) and fixed[0].padding == (1, 1)
    assert not torch.equal(small(x), original(x)) and torch.allclose(fixed(x), small(x), atol=1e-12)


def test_progressive_shrinking_search_on_digits(tmp_path):
    from slotnas.runtime.search import search
    from tests.helpers import tiny_config

    cfg = tiny_config(tmp_path, model={"type": "torchvision:mobilenet_v2", "width_mult": 0.5}, construct=[],
                      elastic=[{"type": "width", "name": "features.*.conv.0.0", "expand_ratio": [3, 6]},
                               {"type": "depth", "block": "InvertedResidual", "choices": [1, 2, 3]}],
                      estim={"type": "ProgressiveShrinkingEstim", "full_epochs": 4, "stage_epochs": 1,
                             "bn_batches": 4, "distill": 0.5},
                      trainer={"lr": 0.1, "weight_decay": 4e-5},
                      data={"type": "digits", "image_size": 16, "channels": 3, "batch_size": 64},
                      run={"budget": 4, "export_onnx": True})
    result = search(cfg)
    accs = [t.metrics["val_acc"] for t in result.trials]
    assert len(accs) == 4 and min(accs) > 30.0  # chance is 10%: every sampled sub-network learned digits
    from slotnas.runner import load_fixed

    fixed = load_fixed(result.run_dir)  # best_arch.yaml + best_model.pt: a plain narrow network
    assert not any("Elastic" in type(m).__name__ for m in fixed.modules())
    assert count_params(fixed) == result.best.metrics["params"]
