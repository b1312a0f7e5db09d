import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slotnas import Categorical, Slot, SlotError, TensorParam, build_candidate
from slotnas.arch_space import BinaryGate, GumbelSum, Index, WeightedSum

NAMES = ["NC3", "NC5", "IDT", "NIL"]


class Counting(nn.Module):
    """Wraps a module and counts forward calls."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0
        self.is_zero = getattr(inner, "is_zero", False)

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


def candidates(counting: bool = False):
    torch.manual_seed(0)
    slot = Slot(4, 4, 1, name="s")
    built = [(n, build_candidate(n, slot)) for n in NAMES]
    return [(n, Counting(m) if counting else m) for n, m in built]


def test_weighted_sum_equals_softmax_weighted_sum_and_reaches_alpha():
    cands = candidates()
    alpha = TensorParam(4, name="a")
    alpha.value = torch.tensor([0.1, 0.5, -0.2, 0.3])
    op = WeightedSum(cands, alpha)
    x = torch.randn(2, 4, 6, 6)
    w = F.softmax(alpha.value.detach(), -1)
    expected = sum(wi * m(x) for wi, (_, m) in zip(w, cands))
    torch.testing.assert_close(op(x), expected)
    op(x).square().mean().backward()
    assert alpha.value.grad is not None and alpha.value.grad.abs().sum() > 0
    assert all(p is not alpha.value for p in op.parameters())  # alphas stay out of weights
    assert op.chosen() == "NC5" and op.to_fixed() is cands[1][1]


def test_weighted_sum_skips_zero_op():
    cands = candidates(counting=True)
    WeightedSum(cands, TensorParam(4))(torch.randn(1, 4, 5, 5))
    assert [m.calls for _, m in cands] == [1, 1, 1, 0]


def test_alpha_shape_must_match_candidates():
    with pytest.raises(SlotError, match=r"shape \(4,\)"):
        WeightedSum(candidates(), TensorParam(3))


def test_gumbel_hard_runs_one_path_soft_runs_all():
    cands = candidates(counting=True)
    alpha = TensorParam(4)
    hard = GumbelSum(cands, alpha, tau=0.5, hard=True)
    x = torch.randn(1, 4, 5, 5)
    hard(x).sum().backward()
    assert sum(m.calls for _, m in cands) == 1
    assert alpha.value.grad is not None
    soft = GumbelSum(cands, alpha, tau=1.0, hard=False)
    soft(x)
    assert sum(m.calls for _, m in cands) == 1 + 3  # zero op skipped
    hard.eval()
    alpha.value = torch.tensor([0.0, 0.0, 5.0, 0.0])
    torch.testing.assert_close(hard(x), x)  # eval: the argmax candidate (IDT)


def test_binary_gate_keeps_at_most_two_paths_and_updates_alpha():
    torch.manual_seed(1)
    cands = candidates(counting=True)
    alpha = TensorParam(4)
    gate = BinaryGate(cands, alpha, n_paths=2)
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    for step in range(20):
        before = [m.calls for _, m in cands]
        gate(x).square().mean().backward()
        ran = sum(m.calls - b for (_, m), b in zip(cands, before))
        assert ran == 2
    grad = alpha.value.grad
    assert grad is not None and (grad != 0).sum() >= 2
    gate.n_paths = 1
    before = sum(m.calls for _, m in cands)
    gate(x)
    assert sum(m.calls for _, m in cands) - before == 1
    with pytest.raises(SlotError, match="n_paths"):
        BinaryGate(cands, TensorParam(4), n_paths=3)


def test_binary_gate_output_is_the_active_path():
    cands = candidates()
    alpha = TensorParam(4)
    alpha.value = torch.tensor([0.0, 0.0, 30.0, 29.0])  # almost surely IDT and NIL sampled
    gate = BinaryGate(cands, alpha)
    x = torch.randn(1, 4, 5, 5)
    seen = set()
    for _ in range(30):
        y = gate(x)
        if torch.allclose(y, x, atol=1e-5):
            seen.add("IDT")
        else:
            torch.testing.assert_close(y, torch.zeros_like(x), atol=1e-5, rtol=0)
            seen.add("NIL")
    assert seen == {"IDT", "NIL"}


def test_index_runs_only_the_chosen_candidate():
    cands = candidates(counting=True)
    param = Categorical(NAMES, name="c")
    op = Index(cands, param)
    x = torch.randn(1, 4, 5, 5)
    param.value = "IDT"
    assert torch.equal(op(x), x)
    assert [m.calls for _, m in cands] == [0, 0, 1, 0]
    assert op.chosen() == "IDT" and op.to_fixed() is cands[2][1]
    with pytest.raises(SlotError, match="Categorical whose choices"):
        Index(cands, Categorical(["NC3"]))


def _bn_candidates():
    torch.manual_seed(0)
    slot = Slot(4, 4, 1)
    names = ["NC3", "SC3", "MB3E3", "MAX3", "NIL"]
    return [(n, nn.Sequential(build_candidate(n, slot), nn.Dropout(0.3))) for n in names]


@pytest.mark.parametrize("op_cls, extra", [(WeightedSum, {}), (GumbelSum, {"tau": 0.7})])
def test_checkpointed_mixed_op_gives_the_same_outputs_gradients_and_bn_statistics(op_cls, extra):
    import copy

    plain_cands = _bn_candidates()
    lean_cands = copy.deepcopy(plain_cands)
    alpha_p, alpha_l = TensorParam(5, name="a"), TensorParam(5, name="a")
    with torch.no_grad():
        alpha_l.value.copy_(alpha_p.value.normal_())
    plain = op_cls(plain_cands, alpha_p, **extra).train()
    lean = op_cls(lean_cands, alpha_l, checkpoint=True, **extra).train()
    x = torch.randn(8, 4, 6, 6)
    outs = []
    for op in (plain, lean):
        torch.manual_seed(1)  # the same dropout masks and Gumbel noise
        xi = x.clone().requires_grad_(True)
        out = op(xi)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outs.append((out.detach(), xi.grad, op.alpha.value.grad))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*outs))
    for (name_p, p), (_, q) in zip(plain.named_parameters(), lean.named_parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name_p
    for (name_b, b), (_, c) in zip(plain.named_buffers(), lean.named_buffers()):
        assert torch.equal(b, c), name_b  # running statistics updated once, not again in the recomputation
