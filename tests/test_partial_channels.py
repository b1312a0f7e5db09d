"""PC-DARTS: partial-channel mixed ops and edge normalization, from the op to a search on the DARTS cells."""
import copy

import pytest
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from slotnas import Slot, SlotnasError, TensorParam, construct
from slotnas.arch_space import GumbelSum, WeightedSum
from slotnas.arch_space.export import fix
from slotnas.arch_space.partial import channel_shuffle
from slotnas.arch_space.templates import build_template
from slotnas.arch_space.templates.cell import Cell, CellNode
from slotnas.runtime import run_search

from .test_templates import small_darts, template

NAMES = ["NC3", "SC5", "MAX3", "IDT", "NIL"]


def _slot_net(stride: int = 1, channels: int = 8) -> nn.Module:
    return nn.Sequential(Slot(channels, channels, stride, name="s"))


def _pc_darts_reference(x, candidates, weights, k):
    """PC-DARTS's MixedOp.forward, written out: ops on the first C/K channels, the rest (max-pooled when
    the ops reduce) appended, then ``x.view(b, k, c // k, h, w).transpose(1, 2)``."""
    part = x.shape[1] // k
    y = sum(w * op(x[:, :part]) for w, op in zip(weights, candidates) if not getattr(op, "is_zero", False))
    rest = x[:, part:] if y.shape[2:] == x.shape[2:] else F.max_pool2d(x[:, part:], 2, 2)
    out = torch.cat([y, rest], dim=1)
    b, c, h, w = out.shape
    return out.view(b, k, c // k, h, w).transpose(1, 2).contiguous().view(b, c, h, w)


def test_channel_shuffle_is_a_permutation_that_interleaves_the_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("k", [2, 4])
def test_partial_channel_op_equals_the_pc_darts_formula(stride, k):
    torch.manual_seed(0)
    model = _slot_net(stride)
    construct(model, [{"type": "mixed_op", "candidates": NAMES, "partial_channels": k}])
    op = model[0].entity
    assert isinstance(op, WeightedSum) and op.partial_channels == k
    conv = op.candidates[0][0]  # NC3 = Conv-BN-ReLU, built at C/K channels
    assert tuple(conv.weight.shape) == (8 // k, 8 // k, 3, 3)
    x = torch.randn(4, 8, 8, 8)
    weights = torch.softmax(op.alpha.value.detach(), -1)
    op.eval()
    torch.testing.assert_close(model(x), _pc_darts_reference(x, op.candidates, weights, k))
    assert model(x).shape == (4, 8, 8 // stride, 8 // stride)


def test_partial_channel_ops_train_and_export_full_width_candidates():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), Slot(8, 8, 1, name="s"), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 2))
    construct(model, [{"type": "mixed_op", "candidates": NAMES, "partial_channels": 4}])
    alpha = model[1].entity.alpha.value
    x = torch.randn(64, 1, 6, 6)
    y = (x.mean((1, 2, 3)) > 0).long()
    opt = torch.optim.Adam(list(model.parameters()) + [alpha], lr=0.02)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
    assert losses[-1] < 0.6 * losses[0]
    assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    op = model[1].entity
    full = op.to_fixed()
    assert full is op.to_fixed() and full is not op.candidates[op.chosen_index()]  # built once, full width
    derived = fix(model)
    assert derived(x).shape == (64, 2)
    widths = {m.weight.shape[1] for m in derived[1].modules() if isinstance(m, nn.Conv2d) and m.groups == 1}
    assert widths <= {8}


def test_gumbel_hard_with_partial_channels_runs_one_candidate_on_a_quarter():
    torch.manual_seed(0)
    model = _slot_net()
    construct(model, [{"type": "mixed_op", "mixed": "gumbel", "hard": True, "candidates": NAMES,
                       "partial_channels": 4}])
    op = model[0].entity
    assert isinstance(op, GumbelSum)
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    out = model(x)
    out.sum().backward()
    assert out.shape == x.shape and op.alpha.value.grad.abs().sum() > 0


def test_partial_channels_that_do_not_fit_are_one_line_errors():
    with pytest.raises(SlotnasError, match=r"3 does not divide the 8 channels of slot '0'; allowed: a divisor of 8"):
        construct(_slot_net(), [{"type": "mixed_op", "candidates": NAMES, "partial_channels": 3}])
    with pytest.raises(SlotnasError, match=r"slot '0' changes channels \(8 -> 16\)"):
        construct(nn.Sequential(Slot(8, 16, name="s")), [{"type": "mixed_op", "candidates": NAMES,
                                                          "partial_channels": 2}])
    own = nn.Sequential(Slot(8, 8, name="s", choices={"a": lambda: nn.Identity(), "b": lambda: nn.Identity()}))
    with pytest.raises(SlotnasError, match=r"choice 'a' cannot be built at 4 channels"):
        construct(own, [{"type": "mixed_op", "partial_channels": 2}])
    with pytest.raises(SlotnasError, match="partial_channels"):
        construct(_slot_net(), [{"type": "mixed_op", "mixed": "index", "candidates": NAMES, "partial_channels": 2}])


def _pc_darts_cells(k: int = 4, edge_normalization: bool = True):
    spec = dict(template("darts_cell"), edge_normalization=edge_normalization, cells_layout=[0, 1, 0])
    model = build_template(spec, (1, 16, 16), 10)
    space = construct(model, [{"type": "mixed_op", "partial_channels": k}])
    return model, space


def test_darts_cells_with_partial_channels_and_edge_normalization():
    torch.manual_seed(0)
    model, space = _pc_darts_cells()
    betas = [name for name in space.names() if name.endswith(".edges")]
    assert len(betas) == 8 and space.get("normal.node3.edges").shape == (5,)  # one per node and cell group
    cells = [c for c in model.cells if isinstance(c, Cell)]
    assert cells[0].nodes[2].beta is cells[2].nodes[2].beta  # normal cells share theirs
    x = torch.randn(4, 1, 16, 16)
    model(x).sum().backward()
    assert all(space.get(name).value.grad.abs().sum() > 0 for name in betas)
    plain, _ = _pc_darts_cells(k=1, edge_normalization=False)
    assert sum(p.numel() for p in model.parameters()) < 0.5 * sum(p.numel() for p in plain.parameters())
    assert fix(model)(x).shape == (4, 10)  # the derived network: full-width operations


def test_edge_normalization_decides_which_edges_an_export_keeps():
    torch.manual_seed(0)
    model, space = _pc_darts_cells()
    node: CellNode = next(c for c in model.cells if isinstance(c, Cell)).nodes[3]  # 5 incoming edges
    for edge in node.edges:  # every edge chooses sep_conv_3x3 with the same confidence ...
        logits = torch.zeros(8)
        logits[4] = 3.0
        space.update({edge.param_name: logits})
    space.update({"normal.node3.edges": torch.tensor([0.0, 2.0, 0.0, 0.0, 1.0])})  # ... the betas decide
    assert [i for i, _, _ in node.kept()] == [1, 4]
    assert [name for _, name, _ in node.kept()] == ["sep_conv_3x3"] * 2


def test_pc_darts_search_on_the_darts_cell_space_end_to_end(tmp_path):
    spec = copy.deepcopy(template("darts_cell"))
    cfg = small_darts(tmp_path, construct=[{"type": "mixed_op", "mixed": "weighted_sum", "partial_channels": 2}],
                      optim={"type": "DARTS", "lr": 6e-4}, estim={"type": "SuperNetEstim", "epochs": 2},
                      run={"retrain_epochs": 1})
    cfg["template"]["edge_normalization"] = True
    assert spec["affine"] is False
    result = run_search(cfg)
    assert len(result.trials) == 2 and all(t.state.name == "COMPLETE" for t in result.trials)
    assert set(result.trials[-1].metrics["alphas"]) >= {"normal.node0.edges", "reduction.node1.edges"}
    with open(f"{result.run_dir}/best_arch.yaml") as fh:
        genotype = yaml.safe_load(fh)["genotype"]
    assert all(len(edges) == 2 for group in ("normal", "reduction") for edges in genotype[group]["nodes"])
    assert result.final_metrics["val_acc"] > 0


def test_hierarchical_space_narrows_the_operations_inside_motifs():
    torch.manual_seed(0)
    model = build_template(template("hierarchical_liu"), (1, 16, 16), 10)
    construct(model, [{"type": "mixed_op", "partial_channels": 2}])
    ops = [m for m in model.modules() if isinstance(m, WeightedSum)]
    motif_ops = [op for op in ops if op.partial_channels == 1]
    leaf_ops = [op for op in ops if op.partial_channels == 2]
    assert motif_ops and leaf_ops and len(motif_ops) + len(leaf_ops) == len(ops)
    assert all(any(name.startswith("motif") for name in op.names) for op in motif_ops)  # choosing motifs: full width
    assert all(not name.startswith("motif") for op in leaf_ops for name in op.names)  # operations are narrowed
    x = torch.randn(2, 1, 16, 16)
    model(x).sum().backward()
    assert all(op.alpha.value.grad is not None for op in leaf_ops)
    assert fix(model)(x).shape == (2, 10)
