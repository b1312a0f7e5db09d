"""Published search spaces, exact to the parameter: DARTS (search and evaluation networks) and NAS-Bench-201."""
import itertools
import os

import pytest
import torch
import yaml
from torch import nn

from slotnas.arch_space.export import apply_arch, fix
from slotnas.arch_space.published import SearchOp, ends_in_pool
from slotnas.cli import main
from slotnas.config import DEFAULT_CONFIG, load_config
from slotnas.metrics import count_params
from slotnas.runner import build_space, derived_log10

CONFIGS = os.path.dirname(DEFAULT_CONFIG)
DARTS_OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
             "dil_conv_5x5"]
EVAL_LAYOUT = [0] * 6 + [1] + [0] * 6 + [1] + [0] * 6  # 20 cells, reductions at 20 // 3 and 2 * 20 // 3


def space_of(name, *overrides, shape=(3, 32, 32)):
    return build_space(load_config(os.path.join(CONFIGS, name), list(overrides)), shape, 10)


def darts_v2():
    with open(os.path.join(CONFIGS, "darts_v2.yaml")) as fh:
        return yaml.safe_load(fh)["arch"]


def test_darts_v2_at_the_papers_evaluation_settings_has_its_published_size():
    model, space = space_of("darts_eval.yaml")
    apply_arch(model, space, darts_v2())
    fixed = fix(model)
    assert count_params(fixed) == 3_349_342  # DARTS's code prints 3.349342 MB; the paper's Table 1 says 3.3M
    assert fixed(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_the_darts_search_network_exports_the_affine_evaluation_network():
    model, space = space_of("darts_cell.yaml", "template.init_channels=36", f"template.cells_layout={EVAL_LAYOUT}")
    cell_bns = [m for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d) and name.startswith("cells.")]
    assert cell_bns and not any(bn.affine for bn in cell_bns)  # DARTS's search network: non-affine BN in cells
    pools = [m for m in model.modules()
             if isinstance(m, SearchOp) and isinstance(m.op, nn.Sequential) and ends_in_pool(m.op[0])]
    assert len(pools) == 20 * 14 * 2  # every edge's max and avg pool, each followed by a non-affine BN
    assert all(isinstance(p.op[-1], nn.BatchNorm2d) and not p.op[-1].affine for p in pools)
    apply_arch(model, space, darts_v2())
    fixed = fix(model)
    assert count_params(fixed) == 3_349_342  # the same network as darts_eval.yaml builds directly
    assert all(bn.affine for bn in fixed.modules() if isinstance(bn, nn.BatchNorm2d))


def test_darts_operations_are_darts_definitions():
    model, _ = space_of("darts_eval.yaml", "template.cells_layout=[0]", "template.init_channels=4")
    op = {name: model.cells[0].nodes[0].edges[0].entity.candidates[i] for i, name in enumerate(DARTS_OPS)}
    kinds = lambda m: [type(c).__name__ for c in m]  # noqa: E731
    assert kinds(op["sep_conv_3x3"]) == ["ReLU", "Conv2d", "Conv2d", "BatchNorm2d"] * 2
    assert kinds(op["dil_conv_5x5"]) == ["ReLU", "Conv2d", "Conv2d", "BatchNorm2d"]
    assert op["dil_conv_5x5"][1].dilation == (2, 2) and op["dil_conv_5x5"][1].padding == (4, 4)
    assert op["sep_conv_5x5"][1].groups == 4 and op["sep_conv_5x5"][1].padding == (2, 2)
    assert isinstance(op["skip_connect"], nn.Identity) and op["none"].is_zero
    assert kinds(op["avg_pool_3x3"]) == ["AvgPool2d"] and op["avg_pool_3x3"][0].count_include_pad is False


def test_darts_derived_architectures_number_about_ten_to_the_eighteen():
    model, space = space_of("darts_cell.yaml")
    assert len(space) == 28 and derived_log10(model, space) == pytest.approx(18.0, abs=0.05)


NB201_EDGES = ["normal.node0.edge0", "normal.node1.edge0", "normal.node1.edge1", "normal.node2.edge0",
               "normal.node2.edge1", "normal.node2.edge2"]


@pytest.mark.parametrize("op, params", [("nor_conv_3x3", 1_531_546), ("skip_connect", 73_306),
                                        ("nor_conv_1x1", 241_306), ("none", 73_306)])
def test_nas_bench_201_counts(op, params):
    model, space = space_of("nb201.yaml")
    assert space.names() == NB201_EDGES and space.size() == 15_625
    apply_arch(model, space, {edge: op for edge in NB201_EDGES})
    fixed = fix(model)
    assert count_params(fixed) == params  # the reference's counts for CIFAR-10
    assert fixed(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_nas_bench_201_cells_sum_all_earlier_nodes_and_return_the_last():
    model, space = space_of("nb201.yaml", shape=(3, 16, 16))
    cell = model.cells[0]
    assert [node.sources for node in cell.nodes] == [[0], [0, 1], [0, 1, 2]] and cell.last_only
    assert type(model.cells[5]).__name__ == "ResNetBasicBlock" and type(model.cells[11]).__name__ == "ResNetBasicBlock"
    for ops in itertools.islice(itertools.product(["none", "skip_connect", "avg_pool_3x3"], repeat=6), 0, 729, 97):
        apply_arch(model, space, dict(zip(NB201_EDGES, ops)))
        assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_describe_prints_a_fixed_architectures_size(capsys):
    assert main(["describe", os.path.join(CONFIGS, "darts_eval.yaml"),
                 "--arch", os.path.join(CONFIGS, "darts_v2.yaml")]) == 0
    out = capsys.readouterr().out
    assert "derived: 10^18.03 architectures" in out
    assert "fixed architecture: 3,349,342 parameters" in out
    assert main(["describe", os.path.join(CONFIGS, "nb201.yaml")]) == 0
    assert "size: 10^4.19 architectures" in capsys.readouterr().out  # 15,625


def test_a_bad_arch_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("arch: {normal.node0.edge0: sep_conv_4x4}\n")
    assert main(["describe", os.path.join(CONFIGS, "darts_eval.yaml"), "--arch", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("slotnas: error: arch: normal.node0.edge0: unknown candidate 'sep_conv_4x4' (did you mean")
    assert err.rstrip().endswith("allowed: " + ", ".join(DARTS_OPS)) and err.count("\n") == 1


def test_the_genotype_in_best_arch_reads_back_darts_v2():
    """The readable genotype of the DARTS search space set to DARTS_V2 lists exactly DARTS_V2's edges."""
    import os

    import slotnas
    from slotnas.arch_space.export import apply_arch
    from slotnas.arch_space.templates.cell import cell_genotype
    from slotnas.config import load_config, read_yaml

    configs = os.path.join(os.path.dirname(slotnas.__file__), "configs")
    model, space = build_space(load_config(os.path.join(configs, "darts_cell.yaml")), (3, 32, 32), 10)
    arch = read_yaml(os.path.join(configs, "darts_v2.yaml"))["arch"]
    apply_arch(model, space, arch)
    genotype = cell_genotype(model)
    cells = genotype.pop("cells")
    listed = {}
    for group, cell in genotype.items():
        for j, edges in enumerate(cell["nodes"]):
            for edge in edges:
                src = {"c_{k-2}": 0, "c_{k-1}": 1}.get(edge["from"]) if edge["from"].startswith("c_") \
                    else 2 + int(edge["from"][len("node"):])
                listed[f"{group}.node{j}.edge{src}"] = edge["op"]
    assert listed == arch and all(len(edges) == 2 for cell in genotype.values() for edges in cell["nodes"])
    assert genotype["normal"]["output"] == "concat of all nodes"
    assert len(cells) == 8 and cells[0] == "normal (ReLUConvBN, ReLUConvBN)"
    assert cells[3] == "normal (FactorizedReduce, ReLUConvBN)"  # after a reduction: c_{k-2} is twice the size
