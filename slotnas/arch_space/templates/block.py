"""Block-wise template (NeuraSearchLib listing 1): a chain of nodes, each choosing among operations."""
from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ...constraints import Dropout, LayerCount
from ...errors import SlotnasError
from ...params import Categorical, ParamSpace
from ...registry import check_keys, check_value
from ...slot import Slot
from ..export import active
from .spec import build_op, classifier, edge_ends, expand_choices, format_op, parse_op

COMBINE_OPS = ("sum", "concat")
NodeId = Union[int, str]


class Skippable(nn.Module):
    """A node that a depth parameter can turn into identity (it must preserve the shape)."""

    def __init__(self, node: nn.Module) -> None:
        super().__init__()
        self.node = node
        self.active = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.node(x) if self.active else x

    def to_fixed(self) -> nn.Module:
        """The node itself, or identity when skipped (export)."""
        return self.node if self.active else nn.Identity()


class BlockNet(nn.Module):
    """Nodes in a chain, extra edges combined at their receiver by sum or concat, pooled linear head."""

    def __init__(self, nodes: List[nn.Module], inputs: List[List[int]], combine: List[str], head_in: int,
                 num_classes: int, dropout: float, depth: Optional[Tuple[int, int]]) -> None:
        super().__init__()
        self.nodes = nn.ModuleList(nodes)
        self.inputs, self.combine, self.depth_range = inputs, combine, depth
        self.head = classifier(head_in, num_classes, dropout)

    def declare_params(self, space: ParamSpace) -> None:
        """A ``depth`` Categorical when chain_size is a range; its handler skips the trailing nodes."""
        if self.depth_range is None:
            return
        low, high = self.depth_range
        space.add(Categorical(list(range(low, high + 1)), default=high, name="depth"))

        def skip_beyond(depth: Categorical) -> None:
            for index, node in enumerate(self.nodes):
                if isinstance(node, Skippable):
                    node.active = index < depth.value

        space.connect(skip_beyond, ["depth"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: List[torch.Tensor] = [x]
        for node, sources, combine in zip(self.nodes, self.inputs, self.combine):
            if len(sources) == 1:
                h = outputs[sources[0]]
            elif combine == "concat":
                h = torch.cat([outputs[i] for i in sources], dim=1)
            else:
                h = outputs[sources[0]]
                for i in sources[1:]:
                    h = h + outputs[i]
            outputs.append(node(h))
        return self.head(outputs[-1])


def _node_ids(entries: Sequence[Dict[str, Any]], size: int) -> Dict[int, Dict[str, Any]]:
    allowed = ("node_id", "allowed_operations", "similar_to", "combine_op")
    by_id: Dict[int, Dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or "node_id" not in entry:
            raise SlotnasError(f"template.node_operations: each entry needs node_id, got {entry!r}")
        check_keys(f"template node {entry['node_id']}", entry, allowed)
        node = size if entry["node_id"] == "max" else entry["node_id"]
        if not isinstance(node, int) or not 1 <= node <= size:
            raise SlotnasError(f"template node {entry['node_id']!r}: node_id must be 1..{size} or 'max'")
        by_id[node] = entry
    return by_id


def _resolve_ops(node: int, by_id: Dict[int, Dict[str, Any]], seen: Tuple[int, ...] = ()) -> List[str]:
    entry = by_id.get(node)
    if entry is None:
        raise SlotnasError(f"template node {node}: no operations; give allowed_operations or similar_to")
    if "similar_to" in entry:
        source = entry["similar_to"]
        if source not in by_id:
            raise SlotnasError(f"template node {node}: similar_to unknown node {source!r}; "
                               f"defined nodes: {', '.join(map(str, sorted(by_id)))}")
        if source in seen:
            raise SlotnasError(f"template node {node}: similar_to forms a cycle")
        # a repeat of the source block: same operations, stride 1 (as MobileNetV2 repeats its blocks)
        return [_with_stride_one(s) for s in _resolve_ops(source, by_id, seen + (node,))]
    ops = entry.get("allowed_operations")
    if not ops or not isinstance(ops, list):
        raise SlotnasError(f"template node {node}: allowed_operations must be a non-empty list")
    return list(ops)


def _with_stride_one(spec: str) -> str:
    name, args = parse_op(spec)
    args.pop("stride", None)
    return format_op(name, args)


class WidthSwitch(nn.Module):
    """A node operation built once per input width that searched upstream widths allow; the chosen
    upstream operations decide which one runs (and which one export keeps)."""

    def __init__(self, by_width: Dict[int, nn.Module], width: Callable[[], int]) -> None:
        super().__init__()
        self.by_width = nn.ModuleDict({str(c): m for c, m in by_width.items()})
        self.width = width  # current input width, read from the chosen upstream operations

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.by_width[str(x.shape[1])](x)

    def to_fixed(self) -> nn.Module:
        """The operation for the current input width (export, parameter counts)."""
        return self.by_width[str(self.width())]


class _Widths:
    """Output channels of every node (0 = the input): the possible ones while building, the current
    ones read from the chosen operations (tagged ``template_out_channels``) afterwards."""

    def __init__(self, in_channels: int) -> None:
        self.possible: List[List[int]] = [[in_channels]]
        self.nodes: List[nn.Module] = []
        self.inputs: List[List[int]] = []
        self.combine: List[str] = []

    def possible_inputs(self, node: int, sources: List[int], combine: str) -> List[int]:
        options = [self.possible[i] for i in sources]
        if combine == "concat":
            return sorted({sum(combo) for combo in itertools.product(*options)})
        if len(options) > 1 and (any(len(o) > 1 for o in options) or len({o[0] for o in options}) > 1):
            raise SlotnasError(f"template node {node}: summed inputs have channels {options}; "
                               "use combine_op: concat or matching, fixed out_channels")
        return options[0]

    def add(self, module: nn.Module, sources: List[int], combine: str, outs: List[int]) -> None:
        self.nodes.append(module)
        self.inputs.append(sources)
        self.combine.append(combine)
        self.possible.append(outs)

    def of_node(self, k: int) -> int:
        if k == 0:
            return self.possible[0][0]
        width = getattr(active(self.nodes[k - 1]), "template_out_channels", None)
        return self.of_input(k) if width is None else width  # None: a skipped node passes its input on

    def of_input(self, node: int) -> int:
        widths = [self.of_node(i) for i in self.inputs[node - 1]]
        return sum(widths) if self.combine[node - 1] == "concat" else widths[0]


def _out_width(spec: str, c_in: int) -> int:
    return parse_op(spec)[1].get("out_channels") or c_in


def _factory(spec: str, c_ins: List[int], widths: _Widths, node: int) -> Callable[[], nn.Module]:
    """Factory of a node operation: one module, or a WidthSwitch when the input width is searched."""

    def build(c_in: int) -> nn.Module:
        module, out = build_op(spec, c_in)
        if out != _out_width(spec, c_in):
            raise SlotnasError(f"template node {node}: operation {spec!r} gives {out} channels; a block node "
                               f"gives its out_channels or, without one, its input width ({c_in})")
        module.template_out_channels = out
        return module

    if len(c_ins) == 1:
        return lambda: build(c_ins[0])
    return lambda: WidthSwitch({c: build(c) for c in c_ins}, lambda: widths.of_input(node))


def block(in_channels: int, num_classes: int, node_operations: List[Dict[str, Any]],
          chain_size: Optional[Tuple[LayerCount, LayerCount]] = None, other_configs: Optional[Dict[str, List[Any]]] = None,
          edge_operations: Optional[List[Dict[str, Any]]] = None, dropout: Dropout = 0.0) -> BlockNet:
    """Build the chain; nodes with more than one choice become Slots whose choices are the operations."""
    other_configs = other_configs or {}
    if chain_size is None:
        chain_size = [len(node_operations)] * 2
    check_value("template.chain_size", chain_size, Tuple[LayerCount, LayerCount])
    low, high = chain_size
    if low > high:
        raise SlotnasError(f"template.chain_size: min ({low}) > max ({high})")
    by_id = _node_ids(node_operations, high)
    extra: Dict[int, List[int]] = {}
    for edge in edge_operations or []:
        src, dst = edge_ends("template edge", edge, 1, high)
        extra.setdefault(dst, []).append(src)
    widths = _Widths(in_channels)
    for node in range(1, high + 1):
        sources = [node - 1] + extra.get(node, [])
        combine = by_id.get(node, {}).get("combine_op", "sum")
        if combine not in COMBINE_OPS:
            raise SlotnasError(f"template node {node}: combine_op {combine!r} not allowed; allowed: sum, concat")
        c_ins = widths.possible_inputs(node, sources, combine)
        choices = expand_choices(_resolve_ops(node, by_id), other_configs)
        factories = {label: _factory(spec, c_ins, widths, node) for label, spec in choices.items()}
        first_label = next(iter(choices))
        module = factories[first_label]()
        outs = sorted({_out_width(spec, c) for spec in choices.values() for c in c_ins})
        if len(choices) > 1:
            slot = Slot(c_ins[0], _out_width(choices[first_label], c_ins[0]), name=f"node{node}", choices=factories)
            slot.set_entity(module, candidate=first_label)
            module = slot
        if node > low:
            if any(_out_width(spec, c) != c or parse_op(spec)[1].get("stride", 1) != 1
                   for spec in choices.values() for c in c_ins):
                raise SlotnasError(f"template node {node}: chain_size lets it be skipped, but it changes the shape")
            module = Skippable(module)
        widths.add(module, sources, combine, outs)
    if len(widths.possible[-1]) > 1:
        raise SlotnasError(f"template node {high}: the last node's out_channels cannot be searched "
                           f"(the head needs one width), got {widths.possible[-1]}")
    depth = (low, high) if low < high else None
    return BlockNet(widths.nodes, widths.inputs, widths.combine, widths.possible[-1][0], num_classes, dropout,
                    depth)
