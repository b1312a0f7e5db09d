"""Cell-based template (NeuraSearchLib listing 2 / DARTS / NAS-Bench-201): stacked cells whose edges are Slots.

Options beyond the listing: ``affine: false`` builds DARTS's search network (non-affine BN, BN after
pooling; export gives the affine evaluation network); ``head: bn_relu`` puts BN-ReLU before the
pooled classifier; per cell group ``preprocess: false`` feeds the inputs unchanged, ``output: last``
returns the last node instead of concatenating them, ``cell: resnet`` makes a fixed residual block
(NAS-Bench-201's reductions), ``num_init_inputs: null`` keeps every edge on export (argmax per edge), and
``edge_normalization: true`` weights each node's incoming edges by learned softmax(beta) (PC-DARTS), which
also weighs the edges an export keeps.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple

import torch
from torch import nn

from ...constraints import Layout, Names, NodeCount, PositiveInt
from ...errors import SlotnasError
from ...params import ParamSpace, TensorParam
from ...registry import check_options, check_value
from ...slot import Slot
from .. import ops
from ..mixed_ops import MixedOp
from ..published import ReLUConvBN, ResNetBasicBlock, SearchOp
from .spec import classifier, op_factory

OUTPUTS = ("concat", "last")
CELL_KINDS = ("searched", "resnet")
HEADS = ("plain", "bn_relu")


def _edge_op(spec: str, channels: int, stride: int, affine: bool) -> Callable[[], nn.Module]:
    op = op_factory(spec, channels, stride)
    if op.out_channels != channels:
        raise SlotnasError(f"template: operation {spec!r} gives {op.out_channels} channels; cell edges keep the "
                           f"cell's {channels} (leave out_channels out)")
    if affine:
        return op.factory

    def search_op(channels: int = channels) -> nn.Module:  # the keyword partial channels build with
        return SearchOp(functools.partial(op.factory, channels), channels)

    return search_op


class CellNode(nn.Module):
    """An intermediate node: the sum of its incoming edges (Slots), one per earlier node; with edge
    normalization (PC-DARTS) the sum weighted by softmax(beta), beta a TensorParam the template declares."""

    def __init__(self, edges: Sequence[Slot], sources: Sequence[int], keep: Optional[int],
                 param_name: Optional[str] = None) -> None:
        super().__init__()
        self.edges = nn.ModuleList(edges)
        self.sources, self.keep = list(sources), keep
        self.param_name = param_name  # the edge weights' parameter, when edge normalization is on
        self.beta: Optional[TensorParam] = None  # a Param, not an nn.Parameter: kept out of parameters()

    def edge_weights(self) -> Optional[torch.Tensor]:
        """softmax(beta) over the incoming edges, or None without edge normalization."""
        return None if self.beta is None else torch.softmax(self.beta.value, -1)

    def forward(self, states: List[torch.Tensor]) -> torch.Tensor:
        weights = self.edge_weights()
        out = None
        for i, (edge, src) in enumerate(zip(self.edges, self.sources)):
            y = edge(states[src])
            if weights is not None:
                y = y * weights[i]
            out = y if out is None else out + y
        return out

    def kept(self) -> List[Tuple[int, str, nn.Module]]:
        """The edges an export keeps, as (edge index, op name, module): alpha mixed ops keep the top-``keep``
        edges by strongest non-zero op (DARTS), or with ``keep`` None every edge's argmax; other edges keep
        their chosen op; edges choosing zero are dropped."""
        chosen: List[Tuple[float, int, str, nn.Module]] = []
        weights = self.edge_weights()
        weights = None if weights is None else weights.detach()
        for i, edge in enumerate(self.edges):
            entity = edge.entity
            alpha = getattr(entity, "alpha", None)
            if isinstance(entity, MixedOp) and isinstance(alpha, TensorParam) and self.keep is not None:
                probs = torch.softmax(alpha.value.detach(), -1)
                nonzero = [j for j, z in enumerate(entity._is_zero) if not z]
                if not nonzero:
                    continue
                best = max(nonzero, key=lambda j: float(probs[j]))
                strength = float(probs[best]) * (1.0 if weights is None else float(weights[i]))  # PC-DARTS
                chosen.append((strength, i, entity.names[best], entity.fixed_candidate(best)))
            else:
                module = entity.to_fixed() if isinstance(entity, MixedOp) else entity
                name = entity.names[entity.chosen_index()] if isinstance(entity, MixedOp) else \
                    getattr(edge, "candidate", None) or type(module).__name__
                if not getattr(module, "is_zero", False):
                    chosen.append((float("inf"), i, name, module))
        if any(strength != float("inf") for strength, _, _, _ in chosen):
            chosen = sorted(chosen, key=lambda c: -c[0])[: self.keep]
        return [(i, name, module) for _, i, name, module in sorted(chosen, key=lambda c: c[1])]

    def to_fixed(self) -> nn.Module:
        """Export: a FixedNode of the :meth:`kept` edges."""
        kept = self.kept()
        return FixedNode([m for _, _, m in kept], [self.sources[i] for i, _, _ in kept])


class FixedNode(nn.Module):
    """An exported node: the sum of its kept edges."""

    def __init__(self, edges: Sequence[nn.Module], sources: Sequence[int]) -> None:
        super().__init__()
        self.edges, self.sources = nn.ModuleList(edges), list(sources)

    def forward(self, states: List[torch.Tensor]) -> torch.Tensor:
        if not self.sources:
            return torch.zeros_like(states[-1])
        out = self.edges[0](states[self.sources[0]])
        for edge, src in zip(self.edges[1:], self.sources[1:]):
            out = out + edge(states[src])
        return out


def _preprocess(group: str, c_in: int, channels: int, needs_reduce: bool, details: Dict[str, Any],
                affine: bool) -> nn.Module:
    """What a cell does to one input: FactorizedReduce after a reduction, a 1x1 ReLU-conv-BN, or nothing."""
    if not details["preprocess"]:
        if needs_reduce or c_in != channels:
            raise SlotnasError(f"template cell group {group!r}: preprocess: false needs inputs of the cell's "
                               f"{channels} channels and resolution, got {c_in} channels"
                               + (" from before a reduction" if needs_reduce else ""))
        return nn.Identity()

    def build() -> nn.Module:
        if needs_reduce:
            return ops.FactorizedReduce(c_in, channels)
        return ReLUConvBN(c_in, channels, 1)

    return build() if affine else SearchOp(build, channels)


class Cell(nn.Module):
    """Preprocess the init inputs, then nodes over all earlier nodes; the output concatenates the nodes
    (or is the last node, with ``output: last``)."""

    def __init__(self, group: str, inputs: Sequence[Tuple[int, bool]], channels: int, reduction: bool,
                 details: Dict[str, Any], affine: bool = True, edge_normalization: bool = False) -> None:
        super().__init__()
        self.group = group
        self.preprocess = nn.ModuleList(_preprocess(group, c, channels, reduce, details, affine)
                                        for c, reduce in inputs)
        n_init = len(inputs)
        nodes = []
        for j in range(details["num_nodes_per_cell"]):
            edges = []
            for i in range(n_init + j):
                stride = 2 if reduction and i < n_init else 1
                choices = {spec: _edge_op(spec, channels, stride, affine) for spec in details["primitive_operations"]}
                edges.append(Slot(channels, channels, stride, group=f"{group}.node{j}.edge{i}", choices=choices))
            beta = f"{group}.node{j}.edges" if edge_normalization else None  # shared by the group's cells
            nodes.append(CellNode(edges, range(n_init + j), details["num_init_inputs"], beta))
        self.nodes = nn.ModuleList(nodes)
        self.n_init, self.last_only = n_init, details["output"] == "last"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        states = [pre(x) for pre, x in zip(self.preprocess, inputs)]
        for node in self.nodes:
            states.append(node(states))
        return states[-1] if self.last_only else torch.cat(states[self.n_init:], dim=1)


class CellNet(nn.Module):
    """Stem, the cells in layout order (each fed by the previous ``num_init_nodes`` outputs), pooled head."""

    def __init__(self, stem: nn.Module, cells: Sequence[nn.Module], n_inputs: Sequence[int], head_in: int,
                 num_classes: int, head: str = "plain") -> None:
        super().__init__()
        self.stem, self.cells = stem, nn.ModuleList(cells)
        self.n_inputs = list(n_inputs)
        self.lastact = nn.Sequential(nn.BatchNorm2d(head_in), nn.ReLU(inplace=False)) if head == "bn_relu" else None
        self.head = classifier(head_in, num_classes)

    def declare_params(self, space: ParamSpace) -> None:
        """With edge normalization, one TensorParam of edge weights per node of each cell group."""
        for cell in self.cells:
            for node in getattr(cell, "nodes", ()):
                if getattr(node, "param_name", None) is None:  # also an exported network's FixedNode
                    continue
                if node.param_name not in space:
                    space.add(TensorParam(len(node.edges), name=node.param_name))
                node.beta = space.get(node.param_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        outputs = [s] * max(self.n_inputs)
        for cell, n in zip(self.cells, self.n_inputs):
            outputs.append(cell(*outputs[-n:]))
        return self.head(outputs[-1] if self.lastact is None else self.lastact(outputs[-1]))


def cell_group_schema(cell: Literal[CELL_KINDS] = "searched", num_nodes_per_cell: NodeCount = 4,
                      num_init_nodes: Optional[NodeCount] = None, num_init_inputs: Optional[NodeCount] = 2,
                      primitive_operations: Optional[Names] = None, reduction: Optional[bool] = None,
                      preprocess: bool = True, output: Literal[OUTPUTS] = "concat") -> None:
    """One cell group's details: the options ``check_options`` checks (``num_init_inputs``: edges each node
    keeps on export, null for every edge's argmax; ``num_init_nodes`` defaults to 1 for resnet, else 2)."""


def _group_details(groups: Dict[int, str], details: Dict[str, Any]) -> Dict[int, Dict[str, Any]]:
    check_value("template.cell_groups_details", details, Dict[str, Any])
    per_group = all(isinstance(v, dict) for v in details.values()) and set(details) <= set(groups.values())
    defaults = {k: p.default for k, p in inspect.signature(cell_group_schema).parameters.items()}
    out = {}
    for gid, name in groups.items():
        d = dict(details[name]) if per_group else dict(details)
        check_options(cell_group_schema, f"template cell group {name!r}", d)
        d = {**defaults, "reduction": name == "reduction", **d}
        if d["num_init_nodes"] is None:
            d["num_init_nodes"] = 1 if d["cell"] == "resnet" else 2
        if d["cell"] == "searched" and not d["primitive_operations"]:
            raise SlotnasError(f"template cell group {name!r}: primitive_operations must be a non-empty list")
        out[gid] = d
    return out


def cell(in_channels: int, num_classes: int, num_cell_groups: Dict[int, str], cells_layout: Layout,
         cell_groups_details: Dict[str, Any], init_channels: PositiveInt = 16, stem_multiplier: PositiveInt = 3,
         affine: bool = True, head: Literal[HEADS] = "plain", edge_normalization: bool = False) -> CellNet:
    """DARTS-style network: Slots on every edge, grouped so that all cells of a group share parameters
    (``edge_normalization``: PC-DARTS's learned weights of each node's incoming edges)."""
    groups = {int(k): str(v) for k, v in num_cell_groups.items()}
    for position, gid in enumerate(cells_layout):
        if gid not in groups:
            raise SlotnasError(f"template.cells_layout[{position}]: unknown cell group {gid!r}; "
                               f"allowed: {', '.join(map(str, groups))}")
    details = _group_details(groups, cell_groups_details)
    stem_out = init_channels * stem_multiplier
    stem = nn.Sequential(nn.Conv2d(in_channels, stem_out, 3, padding=1, bias=False), nn.BatchNorm2d(stem_out))
    history: List[Tuple[int, int]] = [(stem_out, 0)]  # (channels, number of reductions) of each output
    channels = init_channels
    cells, n_inputs = [], []
    for gid in cells_layout:
        d = details[gid]
        n = d["num_init_nodes"]
        prev = (history[:1] * n + history)[-n:]
        level = prev[-1][1]
        inputs = [(c, lvl < level) for c, lvl in prev]
        if any(level - lvl > 1 for _, lvl in prev):
            raise SlotnasError("template: cell inputs span more than one reduction; lower num_init_nodes")
        if d["reduction"]:
            channels *= 2
        if d["cell"] == "resnet":
            cells.append(ResNetBasicBlock(prev[-1][0], channels, 2 if d["reduction"] else 1))
            out_channels = channels
        else:
            cells.append(Cell(groups[gid], inputs, channels, d["reduction"], d, affine, edge_normalization))
            out_channels = channels * (1 if d["output"] == "last" else d["num_nodes_per_cell"])
        n_inputs.append(n)
        history.append((out_channels, level + (1 if d["reduction"] else 0)))
    return CellNet(stem, cells, n_inputs, history[-1][0], num_classes, head)


def cell_genotype(model: nn.Module) -> Optional[Dict[str, Any]]:
    """The readable genotype of a cell network's current architecture (None for other models): per cell
    group, each node's kept edges (source and op; sources c_{k-2}, c_{k-1} are the cell's inputs, nodeN
    earlier nodes) and the cell's output; under ``cells``, each cell's group and input preprocessing."""
    from ..export import active

    if not isinstance(model, CellNet):
        return None
    genotype: Dict[str, Any] = {}
    layout = [f"{cell.group} ({', '.join(type(active(pre)).__name__ for pre in cell.preprocess)})"
              for cell in model.cells if isinstance(cell, Cell)]
    for cell in model.cells:
        if not isinstance(cell, Cell) or cell.group in genotype or not isinstance(cell.nodes[0], CellNode):
            continue  # a resnet cell, a group already seen, or an exported (fixed) cell
        inputs = [f"c_{{k-{cell.n_init - i}}}" for i in range(cell.n_init)]
        label = lambda src: inputs[src] if src < cell.n_init else f"node{src - cell.n_init}"  # noqa: E731
        genotype[cell.group] = {
            "nodes": [[{"from": label(node.sources[i]), "op": name} for i, name, _ in node.kept()]
                      for node in cell.nodes],
            "output": "last node" if cell.last_only else "concat of all nodes"}
    genotype["cells"] = layout  # each cell in order: its group and how it preprocesses its inputs
    return genotype


def genotype_entry(model: nn.Module) -> Dict[str, Any]:
    """``{"genotype": ...}`` for a best_arch.yaml of a cell network, else nothing."""
    genotype = cell_genotype(model)
    return {} if genotype is None else {"genotype": genotype}
