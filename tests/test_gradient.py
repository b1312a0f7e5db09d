import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slotnas import Slot, SlotnasError, TensorParam, construct
from slotnas.arch_space import MixedOp, WeightedSum
from slotnas.metrics.traversal import count_params, expected_params
from slotnas.optim import OPTIMIZERS
from slotnas.optim.gradient import ArchBatch, unrolled_backward
from slotnas.runner import load_fixed
from slotnas.runtime import run_search

from .helpers import search_trials, tiny_config

CANDIDATES = ["NC3", "NC5", "IDT", "NIL"]


def search_toy(method: str, mixed: str, steps: int = 300, seed: int = 0, **options) -> list:
    """Target: relu of a standardized 5x5 convolution; one slot choosing among NC3 / NC5 / IDT / NIL."""
    torch.manual_seed(seed)
    channels = 4
    teacher = nn.Conv2d(channels, channels, 5, padding=2)

    def batch(n: int = 32):
        x = torch.randn(n, channels, 10, 10)
        with torch.no_grad():
            z = teacher(x)
            y = F.relu((z - z.mean((0, 2, 3), keepdim=True)) / z.std((0, 2, 3), keepdim=True))
        return x, y

    model = nn.Sequential(Slot(channels, channels, 1))
    space = construct(model, [{"type": "mixed_op", "mixed": mixed, "candidates": CANDIDATES}])
    optimizer = OPTIMIZERS.get(method)(space, **options)
    optimizer.prepare([(n, m) for n, m in model.named_modules() if isinstance(m, MixedOp)])
    weights = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for step in range(steps):
        optimizer.on_epoch(step, steps)
        (xt, yt), (xv, yv) = batch(), batch()
        optimizer.arch_mode()
        optimizer.arch_step(ArchBatch(val_loss=lambda: F.mse_loss(model(xv), yv),
                                      train_loss=lambda: F.mse_loss(model(xt), yt),
                                      weights=list(model.parameters()), weight_lr=0.01))
        optimizer.weight_mode()
        weights.zero_grad()
        loss = F.mse_loss(model(xt), yt)
        if loss.requires_grad:
            loss.backward()
            weights.step()
    return torch.softmax(space.tensors()[0].detach(), -1).tolist()


@pytest.mark.parametrize("method, mixed, options", [
    ("DARTS", "weighted_sum", {"lr": 1e-2}),
    ("GDAS", "gumbel", {"lr": 1e-2}),
    ("ProxylessNAS", "binary_gate", {"lr": 2e-2}),
])
def test_gradient_methods_find_the_5x5_convolution(method, mixed, options):
    probs = search_toy(method, mixed, **options)
    assert max(range(4), key=probs.__getitem__) == CANDIDATES.index("NC5"), probs


def test_second_order_hypergradient_matches_finite_differences():
    torch.manual_seed(0)
    dtype = torch.float64
    ops = [("c3", nn.Conv2d(2, 2, 3, padding=1)), ("c1", nn.Conv2d(2, 2, 1)), ("tanh", nn.Tanh())]
    alpha = TensorParam(3)
    alpha.value.data = torch.tensor([0.3, -0.2, 0.1], dtype=dtype)
    model = WeightedSum(ops, alpha).to(dtype)
    xt, yt = torch.randn(4, 2, 5, 5, dtype=dtype), torch.randn(4, 2, 5, 5, dtype=dtype)
    xv, yv = torch.randn(4, 2, 5, 5, dtype=dtype), torch.randn(4, 2, 5, 5, dtype=dtype)
    weights = list(model.parameters())
    xi, wd = 0.1, 0.01

    def unrolled_objective() -> float:
        """L_val(w - xi (dL_train/dw + wd w), alpha), computed exactly; weights restored."""
        saved = [w.detach().clone() for w in weights]
        grads = torch.autograd.grad(F.mse_loss(model(xt), yt), weights)
        with torch.no_grad():
            for w, g in zip(weights, grads):
                w.sub_(xi * (g + wd * w))
            value = F.mse_loss(model(xv), yv).item()
            for w, s in zip(weights, saved):
                w.copy_(s)
        return value

    batch = ArchBatch(val_loss=lambda: F.mse_loss(model(xv), yv), train_loss=lambda: F.mse_loss(model(xt), yt),
                      weights=weights, weight_lr=xi, weight_decay=wd)
    before = [w.detach().clone() for w in weights]
    unrolled_backward(batch, [alpha.value])
    assert all(torch.equal(w, b) for w, b in zip(weights, before))  # weights untouched
    h = 1e-5
    numeric = []
    for i in range(3):
        with torch.no_grad():
            alpha.value[i] += h
        plus = unrolled_objective()
        with torch.no_grad():
            alpha.value[i] -= 2 * h
        minus = unrolled_objective()
        with torch.no_grad():
            alpha.value[i] += h
        numeric.append((plus - minus) / (2 * h))
    torch.testing.assert_close(alpha.value.grad, torch.tensor(numeric, dtype=dtype), rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("optim, mixed", [
    ({"type": "DARTS", "lr": 3e-3}, "weighted_sum"),
    ({"type": "DARTS", "lr": 3e-3, "unrolled": True}, "weighted_sum"),
    ({"type": "SNAS", "lr": 3e-3}, "gumbel"),
    ({"type": "GDAS", "lr": 3e-3, "schedule": "linear"}, "gumbel"),
    ({"type": "ProxylessNAS"}, "binary_gate"),
])
def test_supernet_search_end_to_end(tmp_path, optim, mixed):
    cfg = tiny_config(tmp_path, optim=optim, estim={"type": "SuperNetEstim", "epochs": 2},
                      construct=[{"type": "mixed_op", "mixed": mixed, "candidates": ["NC3", "SC3", "IDT"]}],
                      criterion=[{"metric": "params", "mode": "add", "coeff": 0.1, "target": 5000}],
                      run={"export_onnx": True, "retrain_epochs": 1})
    result = run_search(cfg)
    epochs = search_trials(result.run_dir, kind="epoch")
    assert [t.metrics["epoch"] for t in epochs] == [0, 1] and [t.fidelity for t in epochs] == [1, 2]
    alphas = epochs[-1].metrics["alphas"]
    assert set(alphas) == {"cells.0", "cells.1"} and all(abs(sum(p) - 1) < 1e-5 for p in alphas.values())
    assert set(epochs[-1].arch.values()) <= {"NC3", "SC3", "IDT"}
    assert len(search_trials(result.run_dir, kind="retrain")) == 1
    assert {"alphas.png", "best_arch.yaml", "best_model.onnx", "best_model.pt"} <= set(os.listdir(result.run_dir))
    fixed = load_fixed(result.run_dir)
    assert not any(isinstance(m, (Slot, MixedOp)) for m in fixed.modules())
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(fixed(x), result.model(x))


def test_one_level_and_slotified_resnet18(tmp_path):
    cfg = tiny_config(
        tmp_path, model={"type": "torchvision:resnet18"},
        slots=[{"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "layer4.*"}],
        construct=[{"type": "mixed_op", "candidates": ["NC3", "NC5", "SC3", "IDT"]}],
        data={"type": "digits", "batch_size": 256, "channels": 3, "image_size": 16},
        optim={"type": "DARTS"}, estim={"type": "SuperNetEstim", "epochs": 1, "one_level": True})
    result = run_search(cfg)
    assert len(result.best_arch) == 4 and all(k.startswith("layer4.") for k in result.best_arch)


def test_expected_params_is_differentiable_and_exact_at_one_hot(tiny_net):
    space = construct(tiny_net, [{"type": "mixed_op", "candidates": ["NC3", "SC3", "IDT"]}])
    expected = expected_params(tiny_net)
    expected.backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in space.tensors())
    for name in space.names():
        space.update({name: torch.tensor([0.0, 60.0, 0.0])})
    assert float(expected_params(tiny_net).detach()) == pytest.approx(count_params(tiny_net), rel=1e-6)


def test_method_and_mixed_op_must_match(tmp_path):
    cfg = tiny_config(tmp_path, optim={"type": "DARTS"}, estim={"type": "SuperNetEstim", "epochs": 1})  # mixed: index
    with pytest.raises(SlotnasError, match=r"optim DARTS: the space has no TensorParam; construct with mixed_op "
                                           r"\(mixed: weighted_sum\)"):
        run_search(cfg)
    cfg = tiny_config(tmp_path, optim={"type": "DARTS"}, estim={"type": "SuperNetEstim", "epochs": 1},
                      construct=[{"type": "mixed_op", "mixed": "gumbel", "candidates": ["NC3", "IDT"]}])
    with pytest.raises(SlotnasError, match=r"optim DARTS needs mixed ops 'weighted_sum'; slot 'cells.0' has "
                                           r"GumbelSum \(set construct mixed: weighted_sum\)"):
        run_search(cfg)

def test_optimizer_and_estimator_kinds_are_checked_before_any_work(tmp_path):
    with pytest.raises(SlotnasError, match=r"^estim.type: SuperNetEstim needs a gradient optimizer, but optim "
                                           r"RandomSearch is discrete; with it use estim SubNetEstim or DefaultEstim"):
        tiny_config(tmp_path, optim={"type": "RandomSearch"}, estim={"type": "SuperNetEstim", "epochs": 1})
    with pytest.raises(SlotnasError, match=r"^estim.type: SubNetEstim needs a discrete optimizer, but optim GDAS is "
                                           r"gradient; with it use estim SuperNetEstim$"):
        tiny_config(tmp_path, optim={"type": "GDAS"})
    with pytest.raises(SlotnasError, match=r"^run.workers: SuperNetEstim trains one supernet in one process"):
        tiny_config(tmp_path, optim={"type": "DARTS"}, estim={"type": "SuperNetEstim"}, run={"workers": 2})
    assert not list(tmp_path.iterdir())  # no run folder was made
