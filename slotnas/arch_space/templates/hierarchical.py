"""Hierarchical template (NeuraSearchLib listing 3, Liu et al. 2018): patterns whose edges are lower-level patterns.

Level 0 is the primitive operations. A level-L pattern ("motif") is a DAG whose edges choose among
the motifs of every lower level and the primitives; all uses of a motif share its choices (one
parameter per motif edge), wherever it is nested. The top level is one graph: the network body.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from ...constraints import Annotated, LevelCount, NodeCount, Range
from ...errors import SlotnasError
from ...registry import check_keys, check_value
from ...slot import Slot, holds_slots
from .. import ops
from .spec import Op, classifier, edge_ends, expand_choices, op_factory

LEVEL_KEYS = ("num_level", "num_nodes", "num_motifs", "topology", "edge_operations")
EDGE_KEYS = ("from", "to", "allowed_operations", "motif")
TOPOLOGIES = ("dense", "chain")
Edge = Tuple[int, int]
Shape = Tuple[int, int]  # channels, stride
Factory = Callable[[], nn.Module]


class Pattern(nn.Module):
    """A DAG: node 0 is the input, each node sums its incoming edges; when the last node has several,
    it concatenates them and a 1x1 conv-BN-ReLU projects back to the pattern's channels."""

    def __init__(self, edges: Dict[Edge, nn.Module], num_nodes: int, out_channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict({f"{i}_{j}": module for (i, j), module in edges.items()})
        self.incoming = [[(i, f"{i}_{j}") for (i, jj) in edges if jj == j] for j in range(num_nodes)]
        last = len(self.incoming[-1])
        self.project = ops.ConvBNReLU(last * out_channels, out_channels, 1) if last > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states = [x]
        for j, incoming in enumerate(self.incoming[1:], start=1):
            outs = [self.edges[key](states[i]) for i, key in incoming]
            if j == len(self.incoming) - 1 and self.project is not None:
                states.append(self.project(torch.cat(outs, dim=1)))
            else:
                h = outs[0]
                for out in outs[1:]:
                    h = h + out
                states.append(h)
        return states[-1]


class HierarchicalNet(nn.Module):
    """The top-level graph, then a pooled linear head."""

    def __init__(self, graph: Pattern, head_in: int, num_classes: int) -> None:
        super().__init__()
        self.graph, self.head = graph, classifier(head_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.graph(x))


def _pairs(num_nodes: int, topology: str) -> List[Edge]:
    if topology == "chain":
        return [(j - 1, j) for j in range(1, num_nodes)]
    return [(i, j) for j in range(1, num_nodes) for i in range(j)]


def _level_details(num_levels: int, details_levels: List[Dict[str, Any]]) -> Dict[int, Dict[str, Any]]:
    check_value("template.num_levels", num_levels, LevelCount)
    if not isinstance(details_levels, list):
        raise SlotnasError("template.details_levels: expected a list of {num_level, num_nodes, ...}")
    levels: Dict[int, Dict[str, Any]] = {}
    for entry in details_levels:
        if not isinstance(entry, dict) or "num_level" not in entry:
            raise SlotnasError(f"template.details_levels: each entry needs num_level, got {entry!r}")
        level = entry["num_level"]
        where = f"template level {level!r}"
        check_keys(where, entry, LEVEL_KEYS)
        if not isinstance(level, int) or not 1 <= level <= num_levels or level in levels:
            raise SlotnasError(f"{where}: num_level must be a distinct integer in 1..{num_levels}")
        d = {"num_motifs": 1, "topology": "dense", "edge_operations": [], **entry}
        check_value(f"{where}.num_nodes", d.get("num_nodes"), Annotated[int, Range(2, 64)])
        check_value(f"{where}.num_motifs", d["num_motifs"], NodeCount)
        if level == num_levels and d["num_motifs"] != 1:
            raise SlotnasError(f"{where}: the top level is the network's one graph; num_motifs must be 1")
        if d["topology"] not in TOPOLOGIES:
            raise SlotnasError(f"{where}: topology {d['topology']!r} not allowed; allowed: {', '.join(TOPOLOGIES)}")
        d["constraints"] = _constraints(where, d)
        levels[level] = d
    missing = [lvl for lvl in range(1, num_levels + 1) if lvl not in levels]
    if missing:
        raise SlotnasError(f"template.details_levels: no entry for level {missing[0]}")
    return levels


def _constraints(where: str, d: Dict[str, Any]) -> Dict[Tuple[Optional[int], int, int], List[str]]:
    """(motif or None for all, from, to) -> allowed operations, checked against the level's edges."""
    pairs = set(_pairs(d["num_nodes"], d["topology"]))
    out: Dict[Tuple[Optional[int], int, int], List[str]] = {}
    for edge in d["edge_operations"]:
        src, dst = edge_ends(f"{where} edge", edge, 0, d["num_nodes"] - 1)
        check_keys(f"{where} edge {edge!r}", edge, EDGE_KEYS)
        motif = edge.get("motif")
        if (src, dst) not in pairs:
            raise SlotnasError(f"{where} edge {edge!r}: not an edge of its {d['topology']} graph "
                               f"of {d['num_nodes']} nodes")
        if motif is not None and not (isinstance(motif, int) and 0 <= motif < d["num_motifs"]):
            raise SlotnasError(f"{where} edge {edge!r}: motif must be 0..{d['num_motifs'] - 1}")
        allowed = edge.get("allowed_operations")
        if not allowed or not isinstance(allowed, list):
            raise SlotnasError(f"{where} edge {edge!r}: allowed_operations must be a non-empty list")
        out[(motif, src, dst)] = list(allowed)
    return out


class _Hierarchy:
    """Builds the patterns of every level at a given channel count (lower levels on demand)."""

    def __init__(self, levels: Dict[int, Dict[str, Any]], primitives: Dict[str, str],
                 other_configs: Dict[str, List[Any]]) -> None:
        self.levels, self.primitives, self.other_configs = levels, primitives, other_configs
        self.ops: Dict[Tuple[str, int], Op] = {}

    def motifs(self, below: int) -> Dict[str, Tuple[int, int]]:
        """Name -> (level, index) of the motifs of every level under ``below``, lowest level first."""
        return {f"motif{lvl}.{m}": (lvl, m) for lvl in range(1, below) for m in range(self.levels[lvl]["num_motifs"])}

    def op(self, spec: str, channels: int) -> Op:
        """Operation ``spec`` on ``channels``, checked once per width."""
        key = (spec, channels)
        if key not in self.ops:
            self.ops[key] = op_factory(spec, channels)
        return self.ops[key]

    def choices(self, level: int, motif: int, edge: Edge, shape: Shape) -> Tuple[Dict[str, Factory], Shape]:
        """Label -> factory for one edge of a level-``level`` pattern fed ``shape``; and the shape it gives."""
        where = f"template level {level} edge {edge[0]}->{edge[1]}"
        constraints = self.levels[level]["constraints"]
        allowed = constraints.get((motif, *edge), constraints.get((None, *edge)))
        lower = self.motifs(level)
        channels = shape[0]
        if allowed is None:
            names, specs = list(lower), dict(self.primitives)
        else:
            names = [a for a in allowed if isinstance(a, str) and a.startswith("motif")]
            for name in names:
                if name not in lower:
                    raise SlotnasError(f"{where}: {name!r} is not a lower-level motif; allowed: "
                                       f"{', '.join(lower) or 'none (level 1 edges take operations)'}")
            specs = expand_choices([a for a in allowed if a not in names], self.other_configs)
        factories: Dict[str, Factory] = {}
        gives: Dict[str, Shape] = {}
        for label, spec in specs.items():  # operations first: the default (first) choice is the simplest
            op = self.op(spec, channels)
            if op.is_zero and self.levels[level]["topology"] == "chain":
                continue  # a chain edge is the only path: "no edge" would cut the network
            factories[label], gives[label] = op.factory, (op.out_channels, op.stride)
        for name in names:
            factories[name] = holds_slots(lambda lvl_m=lower[name]: self.pattern(*lvl_m, channels))
            gives[name] = (channels, 1)
        if not factories:
            raise SlotnasError(f"{where}: no operation left (a chain edge cannot be 'no edge')")
        if len(set(gives.values())) > 1:
            raise SlotnasError(f"{where}: its operations give different (channels, stride): {gives}")
        return factories, next(iter(gives.values()))

    def edge(self, level: int, motif: int, edge: Edge, shape: Shape) -> Tuple[nn.Module, Shape]:
        """The edge's module (a Slot when it has a choice, shared per motif edge) and its output shape."""
        factories, gives = self.choices(level, motif, edge, shape)
        if len(factories) == 1:
            return next(iter(factories.values()))(), gives
        group = f"graph.edge{edge[0]}_{edge[1]}" if level == len(self.levels) else \
            f"motif{level}.{motif}.edge{edge[0]}_{edge[1]}"
        return Slot(shape[0], gives[0], gives[1], group=group, choices=factories), gives

    def pattern(self, level: int, motif: int, channels: int) -> Pattern:
        """A lower-level motif on ``channels``: every edge keeps channels and resolution."""
        d = self.levels[level]
        edges = {}
        for edge in _pairs(d["num_nodes"], d["topology"]):
            edges[edge], gives = self.edge(level, motif, edge, (channels, 1))
            if gives != (channels, 1):
                raise SlotnasError(f"template level {level} edge {edge[0]}->{edge[1]}: motif edges must keep "
                                   f"channels and resolution ({channels}, stride 1), got {gives}")
        return Pattern(edges, d["num_nodes"], channels)

    def graph(self, in_channels: int) -> Tuple[Pattern, int]:
        """The top-level graph on the input; node shapes follow each node's edge from its predecessor."""
        top = len(self.levels)
        d = self.levels[top]
        pairs = _pairs(d["num_nodes"], d["topology"])
        nodes: List[Shape] = [(in_channels, 1)]  # channels, total stride
        edges: Dict[Edge, nn.Module] = {}
        for j in range(1, d["num_nodes"]):
            for i in sorted((i for i, jj in pairs if jj == j), reverse=True):  # predecessor first
                edges[(i, j)], (c, s) = self.edge(top, 0, (i, j), (nodes[i][0], 1))
                shape = (c, nodes[i][1] * s)
                if i == j - 1:
                    nodes.append(shape)
                elif shape != nodes[j]:
                    raise SlotnasError(f"template level {top} edge {i}->{j}: gives {c} channels at stride "
                                       f"{shape[1]} but node {j} has {nodes[j][0]} at stride {nodes[j][1]}; "
                                       "constrain it with edge_operations")
        ordered = {edge: edges[edge] for edge in pairs}
        return Pattern(ordered, d["num_nodes"], nodes[-1][0]), nodes[-1][0]


def hierarchical(in_channels: int, num_classes: int, primitive_operations: List[str], num_levels: LevelCount,
                 details_levels: List[Dict[str, Any]],
                 other_configs: Optional[Dict[str, List[Any]]] = None) -> HierarchicalNet:
    """Build the top-level graph; its searchable edges are Slots whose choices build lower-level motifs."""
    other_configs = other_configs or {}
    for key in ("out_channels", "stride"):
        if key in other_configs:
            raise SlotnasError(f"template.other_configs.{key}: patterns keep channels and resolution; "
                               "set it on an operation in edge_operations instead")
    if not primitive_operations or not isinstance(primitive_operations, list):
        raise SlotnasError("template.primitive_operations must be a non-empty list of operations")
    hierarchy = _Hierarchy(_level_details(num_levels, details_levels),
                           expand_choices(primitive_operations, other_configs), other_configs)
    graph, channels = hierarchy.graph(in_channels)
    for level in range(1, num_levels):  # structure errors now, not when construct first builds a motif
        for motif in range(hierarchy.levels[level]["num_motifs"]):
            hierarchy.pattern(level, motif, channels)
    return HierarchicalNet(graph, channels, num_classes)

