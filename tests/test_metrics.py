
import numpy as np
import pytest
import torch
import torchvision

from slotnas import SlotnasError, construct, slotify
from slotnas.arch_space.export import fix
from slotnas.metrics import (AggregateCriterion, CriterionChain, FlopsMetric, LatencyLUT, LutLatencyMetric,
                             OnnxExportMetric, OrtLatencyMetric, ParamsMetric, count_params)
from slotnas.metrics.lut import slot_contexts
from slotnas.registry import check_options

from .conftest import TinyNet


@pytest.mark.parametrize("arch, gmacs", [("resnet18", 1.81), ("mobilenet_v2", 0.30)])
def test_flops_match_torchvision_documented_gmacs(arch, gmacs):
    model = getattr(torchvision.models, arch)()
    macs = FlopsMetric(input_shape=(3, 224, 224)).compute(model)["macs"]
    assert abs(macs / 1e9 - gmacs) / gmacs < 0.02


def test_flops_and_params_count_only_the_chosen_candidates(tiny_net):
    space = construct(tiny_net, [{"type": "mixed_op", "candidates": ["NC3", "NC5", "SC3", "IDT"]}])
    for name in space.names():
        space.update({name: torch.tensor([0.0, 5.0, 0.0, 0.0])})  # NC5 everywhere
    fixed = fix(tiny_net)
    flops = FlopsMetric(input_shape=(1, 8, 8))
    assert flops.compute(tiny_net) == flops.compute(fixed)
    assert ParamsMetric().compute(tiny_net)["params"] == sum(p.numel() for p in fixed.parameters())
    assert count_params(tiny_net) < sum(p.numel() for p in tiny_net.parameters())


def test_flops_counts_bn_unless_folded_into_a_conv():
    from torch import nn

    model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(36, 2))
    expected = 3 * 64 + 4 * 36 * 27 + 0 + 4 * 9 * 4 + 2 * 36  # bn, conv, folded bn, pool window, linear
    assert FlopsMetric(input_shape=(3, 8, 8)).compute(model)["macs"] == expected


def ort_output(onnx_bytes: bytes, x: torch.Tensor) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


def test_onnx_export_of_slotified_model_matches_pytorch():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    slotify(model, [{"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "layer[34].*"}])
    space = construct(model, [{"type": "mixed_op", "candidates": ["ORIG", "SC3", "MB3E3", "IDT"]}])
    for i, name in enumerate(space.names()):
        logits = torch.zeros(4)
        logits[i % 4] = 3.0
        space.update({name: logits})
    model.eval()
    onnx_bytes = OnnxExportMetric(input_shape=(3, 32, 32)).export(model)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = fix(model)(x).numpy()
    np.testing.assert_allclose(ort_output(onnx_bytes, x), expected, atol=1e-4, rtol=1e-4)


def test_ort_latency_reports_statistics_and_checks_options(tiny_net):
    construct(tiny_net, [{"type": "fixed", "candidate": "NC3"}])
    metric = OrtLatencyMetric(input_shape=(1, 8, 8), warmup=2, repeats=10)
    result = metric.compute(tiny_net)
    assert set(result) == {"latency_ms", "latency_min_ms", "latency_median_ms", "latency_p90_ms", "latency_cv"}
    assert 0 < result["latency_min_ms"] <= result["latency_median_ms"] <= result["latency_p90_ms"]
    assert result["latency_ms"] == result["latency_min_ms"]
    median = OrtLatencyMetric(input_shape=(1, 8, 8), warmup=1, repeats=5, statistic="median").compute(tiny_net)
    assert median["latency_ms"] == median["latency_median_ms"]
    with pytest.raises(SlotnasError, match="^ort_latency.statistic: expected one of 'min', 'median', 'p90', got str 'mean'$"):
        check_options(OrtLatencyMetric, "ort_latency", {"statistic": "mean"})  # what the config check runs
    with pytest.raises(SlotnasError, match=r"provider: 'NopeExecutionProvider' not available here; allowed: .*CPUExecutionProvider"):
        OrtLatencyMetric(input_shape=(1, 8, 8), provider="NopeExecutionProvider").compute(tiny_net)
    with pytest.raises(SlotnasError, match="input_shape is unknown"):
        OnnxExportMetric().export(tiny_net)


def small_space():
    torch.manual_seed(0)
    model = TinyNet()
    space = construct(model, [{"type": "mixed_op", "candidates": ["NC3", "SC3", "IDT"]}])
    return model, space


def test_latency_lut_predicts_base_plus_choices_and_round_trips(tmp_path):
    model, space = small_space()
    profiler = OrtLatencyMetric(input_shape=(1, 8, 8), warmup=2, repeats=5)
    lut = LatencyLUT.build(model, space, (1, 8, 8), profiler, calibrate=2)
    contexts = slot_contexts(model, (1, 8, 8))
    assert [c.slot.name for c in contexts] == ["a", "b", "c"]
    assert contexts[1].key("SC3") == "SC3|1x8x8x8|1x16x4x4|s2"
    assert len(lut.entries) == 9 and all(v > 0 for v in lut.entries.values())
    for name in space.names():
        space.update({name: torch.tensor([0.0, 4.0, 0.0])})  # SC3 everywhere
    expected = lut.base_ms + sum(lut.entries[c.key("SC3")] for c in contexts)
    assert lut.predict(contexts) == pytest.approx(expected)
    path = tmp_path / "lut.json"
    lut.save(str(path))
    metric = LutLatencyMetric(table=str(path))
    assert metric.compute(model)["latency_ms"] == pytest.approx(expected, abs=1e-3)
    # differentiable expectation: gradients reach every alpha; near one-hot it equals the prediction
    expected_latency = lut.expected(contexts)
    expected_latency.backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in space.tensors())
    for name in space.names():
        space.update({name: torch.tensor([0.0, 40.0, 0.0])})
    assert float(lut.expected(contexts).detach()) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(SlotnasError, match="not found; build it with"):
        LatencyLUT.load(str(tmp_path / "missing.json"))


@pytest.mark.parametrize("mode, expected", [("add", 1.0 + 0.5 * (2.0 - 1)), ("mul", 1.0 * 2.0 ** 0.5),
                                            ("logmul", 1.0 * (1 + 0.5 * np.log(2.0)))])
def test_aggregate_criteria(mode, expected):
    criterion = AggregateCriterion("latency_ms", mode=mode, coeff=0.5, target=10.0)
    assert criterion(1.0, {"latency_ms": 20.0}) == pytest.approx(expected)
    assert criterion(1.0, {"latency_ms": 10.0}) == pytest.approx(1.0)  # unchanged at the target
    latency = torch.tensor(20.0, requires_grad=True)
    criterion(torch.tensor(1.0), {"latency_ms": latency}).backward()
    assert latency.grad is not None and latency.grad > 0


def test_criterion_chain_and_errors():
    chain = CriterionChain([{"metric": "latency_ms", "mode": "add", "coeff": 1.0, "target": 10.0},
                            {"metric": "params", "mode": "mul", "coeff": 1.0, "target": 100}])
    assert chain(1.0, {"latency_ms": 20.0, "params": 200}) == pytest.approx((1.0 + 1.0) * 2)
    with pytest.raises(SlotnasError, match="criterion.mode: 'pow' not allowed; allowed: add, mul, logmul"):
        AggregateCriterion("x", mode="pow")
    with pytest.raises(SlotnasError, match="metric 'latency_ms' was not computed"):
        chain(1.0, {"params": 1})
