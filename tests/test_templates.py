import copy
import random

import pytest
import torch
import torchvision
import yaml

from slotnas import SlotnasError, TensorParam, construct, find_slots
from slotnas.arch_space.export import fix
from slotnas.arch_space.templates import build_template, check_template
from slotnas.arch_space.templates.block import Skippable
from slotnas.arch_space.templates.cell import Cell, FixedNode
from slotnas.cli import main
from slotnas.config import DEFAULT_CONFIG
from slotnas.metrics import count_params
from slotnas.runtime import run_search

from .helpers import tiny_config

CONFIGS = DEFAULT_CONFIG.rsplit("/", 1)[0]


def template(name: str) -> dict:
    return yaml.safe_load(open(f"{CONFIGS}/{name}.yaml"))["template"]


def test_mobilenetv2_block_equals_torchvision_with_default_choices():
    model = build_template(template("mobilenetv2_block"), (3, 224, 224), 1000)
    reference = torchvision.models.mobilenet_v2()
    assert sum(p.numel() for p in model.parameters()) == 3_504_872 == sum(p.numel() for p in reference.parameters())
    space = construct(model, [{"type": "mixed_op", "mixed": "index"}])
    assert count_params(model) == 3_504_872 and len(space) == 17
    x = torch.randn(1, 3, 224, 224)
    assert model(x).shape == reference(x).shape == (1, 1000)


def test_darts_cell_counts():
    model = build_template(template("darts_cell"), (3, 32, 32), 10)
    cells = [m for m in model.modules() if isinstance(m, Cell)]
    assert len(cells) == 8
    reductions = [i for i, c in enumerate(cells) if c.nodes[0].edges[0].stride == 2]
    assert reductions == [2, 5]  # at 1/3 and 2/3 of the depth
    assert all(sum(len(n.edges) for n in c.nodes) == 14 for c in cells)
    space = construct(model, [{"type": "mixed_op", "mixed": "weighted_sum"}])
    assert len(find_slots(model)) == 8 * 14 and len(space) == 28
    assert all(isinstance(p, TensorParam) and p.shape == (8,) for p in space)
    assert {p.name.split(".")[0] for p in space} == {"normal", "reduction"}


def random_alphas(space):
    for p in space.of_type(TensorParam):
        space.update({p.name: torch.randn(p.shape)})


@pytest.mark.parametrize("name, mixed, shape", [("mobilenetv2_block", "index", (3, 32, 32)),
                                                 ("darts_cell", "weighted_sum", (1, 8, 8)),
                                                 ("enas_cell", "index", (1, 8, 8))])
def test_twenty_random_samples_forward_backward(name, mixed, shape):
    torch.manual_seed(0)
    spec = template(name)
    if spec["type"] == "cell":
        spec["init_channels"] = 4  # same space (choices), less compute
    model = build_template(spec, shape, 10)
    space = construct(model, [{"type": "mixed_op", "mixed": mixed}])
    rng = random.Random(0)
    x = torch.randn(2, *shape)
    for _ in range(20):
        if space.discrete():
            space.update(space.sample(rng))
        else:
            random_alphas(space)
        out = model(x)
        assert out.shape == (2, 10)
        out.sum().backward()
        fixed = fix(model)
        assert fixed(x).shape == (2, 10)


def test_darts_export_keeps_top2_edges_without_zero():
    torch.manual_seed(0)
    model = build_template(template("darts_cell"), (1, 16, 16), 10)
    space = construct(model, [{"type": "mixed_op", "mixed": "weighted_sum"}])
    for p in space:
        logits = torch.zeros(8)
        logits[0] = 5.0  # zero op strongest everywhere: must still not be chosen
        space.update({p.name: logits})
    fixed = fix(model)
    nodes = [m for m in fixed.modules() if isinstance(m, FixedNode)]
    assert len(nodes) == 32 and all(len(n.sources) == 2 for n in nodes)
    assert not any(getattr(m, "is_zero", False) for m in fixed.modules())


def test_block_depth_edges_and_concat():
    spec = {"type": "block", "chain_size": [2, 4], "other_configs": {"kernel_size": [3, 5]},
            "node_operations": [{"node_id": 1, "allowed_operations": ["ConvBNAct-out_channels:8"]},
                                {"node_id": 2, "allowed_operations": ["MBConv-expansion_ratio:2", "Identity"]},
                                {"node_id": 3, "similar_to": 2},
                                {"node_id": 4, "allowed_operations": ["SeparableConv2d"], "combine_op": "concat"}],
            "edge_operations": [{"from": 1, "to": 4}]}
    model = build_template(check_template(spec), (3, 8, 8), 5)
    space = construct(model, [{"type": "categorical"}])
    assert "depth" in space and space["depth"].choices == [2, 3, 4]
    assert space["nodes.1"].choices == ["MBConv-k3", "MBConv-k5", "Identity"]
    skippable = [m for m in model.modules() if isinstance(m, Skippable)]
    assert len(skippable) == 2
    space.update({"depth": 2})
    assert [s.active for s in skippable] == [False, False]
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 5)
    assert model.nodes[3].node.chn_in == 16  # concat of node 3 (8) and node 1 (8)


@pytest.mark.parametrize("change, message", [
    ({"node_operations": [{"node_id": 1, "allowed_operations": ["Conv2d"]}, {"node_id": 2, "similar_to": 7}]},
     r"template node 2: similar_to unknown node 7; defined nodes: 1, 2"),
    ({"edge_operations": [{"from": 2, "to": 1}]}, r"template edge .*: edges must go to a later node"),
    ({"node_operations": [{"node_id": 1, "allowed_operations": ["Conv3d"]}, {"node_id": 2, "similar_to": 1}]},
     r"unknown operation 'Conv3d' \(did you mean 'Conv2d'\?\)"),
    ({"node_operations": [{"node_id": 1, "allowed_operations": ["Conv2d-kernal_size:3"]}, {"node_id": 2, "similar_to": 1}]},
     r"operation 'Conv2d' has no argument 'kernal_size' \(did you mean 'kernel_size'\?\)"),
    ({"chain_size": [3, 2]}, r"template.chain_size: min \(3\) > max \(2\)"),
    ({"node_operations": [{"node_id": 1, "allowed_operations": ["Conv2d"]}]}, r"template node 2: no operations"),
])
def test_bad_block_templates(change, message):
    spec = {"type": "block", "chain_size": [2, 2],
            "node_operations": [{"node_id": 1, "allowed_operations": ["Conv2d"]}, {"node_id": 2, "similar_to": 1}]}
    spec.update(change)
    with pytest.raises(SlotnasError, match=message):
        check_template(spec)


def test_bad_cell_templates():
    spec = copy.deepcopy(template("darts_cell"))
    spec["cells_layout"] = [0, 2]
    with pytest.raises(SlotnasError, match=r"cells_layout\[1\]: unknown cell group 2; allowed: 0, 1"):
        check_template(spec)
    spec = copy.deepcopy(template("darts_cell"))
    spec["cell_groups_details"]["primitive_operations"] = ["SC3", "Identity"]
    with pytest.raises(SlotnasError, match="'Identity' cannot reduce resolution"):
        check_template(spec)
    spec["cell_groups_details"]["primitive_operations"] = ["SC3", "SeparableConv2d-out_channels:5"]
    with pytest.raises(SlotnasError, match="gives 5 channels; cell edges keep the cell's 8 "):
        check_template(spec)


def small_darts(tmp_path, **sections) -> dict:
    """The DARTS cell template, narrowed (3 cells, 2 nodes, 4 channels), as a tiny validated config."""
    spec = copy.deepcopy(template("darts_cell"))
    spec.update(init_channels=4, cells_layout=[0, 1, 0])
    spec["cell_groups_details"]["num_nodes_per_cell"] = 2
    return tiny_config(tmp_path, model=None, template=spec, **sections)


def test_darts_cell_search_with_gradient_and_evolution(tmp_path):
    result = run_search(small_darts(tmp_path, construct=[{"type": "mixed_op", "mixed": "weighted_sum"}],
                                    optim={"type": "DARTS", "lr": 3e-3}, estim={"type": "SuperNetEstim", "epochs": 1}))
    assert len(result.best_arch) == 10  # 5 edges x (normal, reduction)
    with open(f"{result.run_dir}/best_arch.yaml") as fh:
        genotype = yaml.safe_load(fh)["genotype"]  # the readable genotype of the DARTS winner
    kept = {f"{group}.node{j}": len(edges) for group in ("normal", "reduction")
            for j, edges in enumerate(genotype[group]["nodes"])}
    assert set(kept) == {"normal.node0", "normal.node1", "reduction.node0", "reduction.node1"}
    assert all(n == 2 for n in kept.values()) and len(genotype["cells"]) == 3  # top-2 edges per node, 3 cells
    result = run_search(small_darts(tmp_path, construct=[{"type": "mixed_op", "mixed": "index"}],
                                    optim={"type": "RegularizedEvolution", "population": 2, "sample_size": 2},
                                    run={"budget": 3}))
    assert len(result.trials) == 3


def test_describe_command(capsys):
    assert main(["describe", f"{CONFIGS}/darts_cell.yaml"]) == 0
    out = capsys.readouterr().out
    assert "slots: 112 in the default architecture" in out and "architecture parameters: 28" in out and "28 x [8 alphas]" in out


def width_spec() -> dict:
    return {"type": "block", "other_configs": {"out_channels": [8, 16]},
            "node_operations": [{"node_id": 1, "allowed_operations": ["ConvBNAct-out_channels:8"]},
                                {"node_id": 2, "allowed_operations": ["MBConv-expansion_ratio:2", "MaxPool2d"]},
                                {"node_id": 3, "allowed_operations": ["SeparableConv2d-out_channels:12"],
                                 "combine_op": "concat"}],
            "edge_operations": [{"from": 1, "to": 3}]}


@pytest.mark.parametrize("step", [{"type": "categorical"}, {"type": "mixed_op", "mixed": "index"}])
def test_block_searches_out_channels(step):
    model = build_template(check_template(width_spec()), (3, 8, 8), 5)
    space = construct(model, [step])
    # MaxPool2d keeps its input width (8); MBConv searches 8 or 16: node 3 sees 8 + {8, 16}
    assert space["nodes.1"].choices == ["MBConv-c8", "MBConv-c16", "MaxPool2d"]
    x = torch.randn(2, 3, 8, 8)
    for choice, width in [("MBConv-c8", 16), ("MBConv-c16", 24), ("MaxPool2d", 16)]:
        space.update({"nodes.1": choice})
        model.eval()
        fixed = fix(model)
        torch.testing.assert_close(fixed(x), model(x))
        node3 = [m for m in fixed.modules() if isinstance(m, torch.nn.Conv2d)][-2]  # depthwise conv of node 3
        assert node3.in_channels == width
        assert count_params(model) == sum(p.numel() for p in fixed.parameters())


def test_block_width_search_errors():
    spec = width_spec()
    spec["node_operations"][2]["combine_op"] = "sum"
    with pytest.raises(SlotnasError, match=r"template node 3: summed inputs have channels \[\[8, 16\], \[8\]\]"):
        check_template(spec)
    spec = width_spec()
    spec["node_operations"][2]["allowed_operations"] = ["SeparableConv2d"]
    with pytest.raises(SlotnasError, match=r"template node 3: the last node's out_channels cannot be searched"):
        check_template(spec)
