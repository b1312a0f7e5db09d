import copy
import random

import pytest
import torch
import yaml
from torch import nn

from slotnas import Categorical, SlotnasError, TensorParam, construct, find_slots
from slotnas.arch_space import WeightedSum
from slotnas.arch_space.export import fix
from slotnas.arch_space.ops import SepConv
from slotnas.arch_space.templates import build_template, check_template
from slotnas.arch_space.templates.hierarchical import Pattern
from slotnas.cli import main
from slotnas.config import DEFAULT_CONFIG
from slotnas.runner import load_fixed
from slotnas.runtime import run_search
from slotnas.slot import Slot, holds_slots

from .helpers import tiny_config

CONFIGS = DEFAULT_CONFIG.rsplit("/", 1)[0]
LIU = yaml.safe_load(open(f"{CONFIGS}/hierarchical_liu.yaml"))["template"]
TINY = {"type": "hierarchical", "primitive_operations": ["NC3", "IDT", "NIL"], "num_levels": 2,
        "details_levels": [{"num_level": 1, "num_nodes": 3, "num_motifs": 2},
                           {"num_level": 2, "num_nodes": 4, "topology": "chain", "edge_operations": [
                               {"from": 0, "to": 1, "allowed_operations": ["ConvBNAct-out_channels:4&activation:relu"]}]}]}


def liu(shape=(1, 16, 16)):
    model = build_template(copy.deepcopy(LIU), shape, 10)
    return model, construct(model, [{"type": "categorical"}])


def test_liu_levels_and_parameter_counts():
    model, space = liu()
    prims = ["SC3", "DW3", "NC1", "MAX3", "AVG3", "IDT", "NIL"]
    motifs = [f"motif1.{m}" for m in range(6)]
    graph = model.graph
    assert isinstance(graph, Pattern) and len(graph.incoming) == 14 and len(graph.edges) == 13  # a chain
    fixed = [key for key, edge in graph.edges.items() if not isinstance(edge, Slot)]
    assert fixed == ["0_1", "4_5", "8_9", "12_13"]  # stem and separable convs are predefined
    by_kind = {kind: [p for p in space if p.name.startswith(kind)] for kind in ("motif1.", "motif2.", "graph.")}
    assert [len(v) for v in by_kind.values()] == [6 * 6, 10, 9] and len(space) == 55
    assert all(p.choices == prims for p in by_kind["motif1."])  # level 1: the primitives
    assert all(p.choices == prims + motifs for p in by_kind["motif2."])  # level 2: motifs and primitives
    # the network's chain edges take every lower pattern but not "no edge", which would cut it
    assert all(p.choices == prims[:-1] + motifs + ["motif2.0"] for p in by_kind["graph."])
    space.update({"graph.edge1_2": "motif2.0", "motif2.0.edge0_1": "motif1.3"})
    cell = graph.edges["1_2"].entity
    assert isinstance(cell, Pattern) and len(cell.edges) == 10 and cell.project is not None  # 5 nodes, dense
    motif = cell.edges["0_1"].entity
    assert isinstance(motif, Pattern) and len(motif.edges) == 6 and len(motif.incoming) == 4
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 10)


def test_liu_motif_choices_are_shared_by_every_use():
    model, space = liu()
    space.update({"graph.edge1_2": "motif1.3", "graph.edge9_10": "motif1.3", "motif1.3.edge0_2": "SC3"})
    uses = [model.graph.edges[k].entity for k in ("1_2", "9_10")]
    assert [u.edges["0_2"].entity[0].in_channels for u in uses] == [16, 64]  # one motif, two widths
    space.update({"motif1.3.edge0_2": "IDT"})
    assert all(isinstance(u.edges["0_2"].entity, nn.Identity) for u in uses)
    # a use that is not in the model catches up when it is chosen again
    space.update({"graph.edge1_2": "SC3"})
    space.update({"motif1.3.edge0_2": "MAX3"})
    assert isinstance(uses[0].edges["0_2"].entity, nn.Identity)  # inactive: left alone
    space.update({"graph.edge1_2": "motif1.3"})
    assert model.graph.edges["1_2"].entity is uses[0]  # built once, cached
    assert uses[0].edges["0_2"].candidate == "MAX3"


def test_liu_twenty_random_samples_forward_backward_and_export():
    torch.manual_seed(0)
    model, space = liu()
    rng = random.Random(0)
    x = torch.randn(2, 1, 16, 16)
    for _ in range(20):
        space.update(space.sample(rng))
        out = model(x)
        assert out.shape == (2, 10)
        out.sum().backward()
        fixed = fix(model).eval()
        assert not any(isinstance(m, Slot) for m in fixed.modules())
        torch.testing.assert_close(fixed(x), model.eval()(x))
        model.train()


def test_nested_mixed_ops_share_one_alpha_per_motif_edge():
    model = build_template(copy.deepcopy(TINY), (1, 8, 8), 10)
    space = construct(model, [{"type": "mixed_op", "mixed": "weighted_sum"}])
    # level 1: 2 motifs x 3 edges over the primitives; network: 2 searchable chain edges
    assert sorted(p.name for p in space) == sorted([f"motif1.{m}.edge{e}" for m in (0, 1) for e in ("0_1", "0_2", "1_2")]
                                                   + ["graph.edge1_2", "graph.edge2_3"])
    assert all(isinstance(p, TensorParam) for p in space)
    assert space["graph.edge1_2"].shape == (4,) and space["motif1.0.edge0_1"].shape == (3,)
    mixed = [m for m in model.modules() if isinstance(m, WeightedSum)]
    uses = [m for m in mixed if m.alpha is space["motif1.0.edge0_1"]]
    assert len(uses) == 2  # motif1.0 sits under both network edges, one alpha
    model(torch.randn(2, 1, 8, 8)).sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in space.tensors())
    for p in space:  # argmax export through two levels of mixed ops
        space.update({p.name: torch.eye(p.shape[0])[1]})  # IDT everywhere
    fixed = fix(model)
    assert not any(isinstance(m, (Slot, WeightedSum)) for m in fixed.modules())
    assert fixed(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_network_edges_set_channels_and_resolution():
    spec = edit(lambda s: level(s, 2).update(topology="dense", edge_operations=[
        {"from": 0, "to": 1, "allowed_operations": ["ConvBNAct-out_channels:4&activation:relu"]},
        {"from": 0, "to": 2, "allowed_operations": ["Conv2d-out_channels:4"]},
        {"from": 0, "to": 3, "allowed_operations": ["Conv2d-out_channels:6&stride:2"]},
        {"from": 1, "to": 3, "allowed_operations": ["Conv2d-out_channels:6&stride:2"]},
        {"from": 2, "to": 3, "allowed_operations": ["SeparableConv2d-out_channels:6&stride:2"]}]))
    model = build_template(check_template(spec), (1, 8, 8), 10)
    space = construct(model, [{"type": "categorical"}])
    assert [n for n in space.names() if n.startswith("graph")] == ["graph.edge1_2"]  # the only searchable one
    assert model.graph.project is not None and model.graph.project[0].in_channels == 3 * 6
    assert model.head[-1].in_features == 6
    h = model.graph.edges["0_3"](torch.randn(2, 1, 8, 8))
    assert h.shape == (2, 6, 4, 4) and model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_tiny_hierarchical_search_and_export(tmp_path):
    cfg = tiny_config(tmp_path, model=None, template=copy.deepcopy(TINY), construct=[{"type": "categorical"}],
                      optim={"type": "RegularizedEvolution", "population": 2, "sample_size": 2}, run={"budget": 3})
    result = run_search(cfg)
    assert len(result.trials) == 3 and len(result.best_arch) == 8
    fixed = load_fixed(result.run_dir)
    assert not any(isinstance(m, Slot) for m in fixed.modules())
    assert fixed(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_describe_hierarchical(capsys):
    assert main(["describe", f"{CONFIGS}/hierarchical_liu.yaml"]) == 0
    out = capsys.readouterr().out
    assert "slots: 9 in the default architecture" in out and "architecture parameters: 55" in out
    assert "36 x [SC3, DW3, NC1, MAX3, AVG3, IDT, NIL]" in out


def level(spec: dict, number: int) -> dict:
    return next(d for d in spec["details_levels"] if d["num_level"] == number)


def edit(fn):
    spec = copy.deepcopy(TINY)
    fn(spec)
    return spec


@pytest.mark.parametrize("spec, message", [
    (edit(lambda s: s["details_levels"].pop(0)), r"details_levels: no entry for level 1"),
    (edit(lambda s: level(s, 2).update(edge_operations=[{"from": 2, "to": 1, "allowed_operations": ["IDT"]}])),
     r"template level 2 edge .*: edges must go to a later node \(from < to\)"),
    (edit(lambda s: level(s, 2).update(edge_operations=[{"from": 0, "to": 9, "allowed_operations": ["IDT"]}])),
     r"template level 2 edge .*: from and to must be node ids 0..3"),
    (edit(lambda s: level(s, 2).update(edge_operations=[{"from": 0, "to": 2, "allowed_operations": ["IDT"]}])),
     r"template level 2 edge .*: not an edge of its chain graph of 4 nodes"),
    (edit(lambda s: level(s, 1).update(edge_operations=[{"from": 0, "to": 1, "allowed_operations": ["motif1.1"]}])),
     r"template level 1 edge 0->1: 'motif1.1' is not a lower-level motif; allowed: none"),
    (edit(lambda s: s.update(primitive_operations=["NC3", "SepConv"])),
     r"unknown operation 'SepConv'"),
    (edit(lambda s: s.update(other_configs={"out_channels": [8, 16]})),
     r"template.other_configs.out_channels: patterns keep channels and resolution"),
    (edit(lambda s: level(s, 1).update(edge_operations=[{"from": 0, "to": 1, "allowed_operations": [
        "Conv2d-out_channels:8"]}])), r"template level 1 edge 0->1: motif edges must keep channels and resolution"),
    (edit(lambda s: level(s, 2).update(topology="dense")),
     r"template level 2 edge 0->2: gives 3 channels at stride 1 but node 2 has 4 at stride 1; constrain it"),
    (edit(lambda s: level(s, 1).update(topology="ring")), r"topology 'ring' not allowed; allowed: dense, chain"),
    (edit(lambda s: level(s, 2).update(num_motifs=2)), r"the top level is the network's one graph"),
    (edit(lambda s: level(s, 1).update(num_node=3)),
     r"template level 1: unknown key 'num_node' \(did you mean 'num_nodes'\?\); allowed: num_level, num_nodes"),
])
def test_bad_hierarchical_templates(spec, message):
    with pytest.raises(SlotnasError, match=message):
        check_template(spec)


def test_categorical_binds_slots_nested_in_own_choices():
    """construct, outside templates: a Slot's own choice holding Slots of a shared group."""

    def block() -> nn.Module:
        return nn.Sequential(Slot(4, group="inner", choices={"a": lambda: nn.Conv2d(4, 4, 3, padding=1),
                                                              "b": lambda: SepConv(4, 4, 3)}), nn.ReLU())

    model = nn.Sequential(*(Slot(4, choices={"id": nn.Identity, "block": holds_slots(block)}) for _ in range(2)))
    space = construct(model, [{"type": "categorical"}])
    assert sorted(space.names()) == ["0", "1", "inner"]  # "inner" exists before any block is chosen
    assert all(isinstance(p, Categorical) for p in space)
    space.update({"0": "block", "inner": "b"})
    assert isinstance(model[0].entity[0].entity, SepConv)
    assert [s.name for s in find_slots(model)] == ["0", "0.entity.0", "1"]


def test_unmarked_choice_holding_slots_is_a_clear_error():
    def block() -> nn.Module:
        return Slot(4, group="late", choices={"a": nn.Identity, "b": nn.ReLU})

    model = nn.Sequential(Slot(4, choices={"id": nn.Identity, "block": block}))
    space = construct(model, [{"type": "categorical"}])
    assert space.names() == ["0"]
    with pytest.raises(SlotnasError, match=r"candidate 'block' holds Slots with no parameter yet; mark its factory"):
        space.update({"0": "block"})
