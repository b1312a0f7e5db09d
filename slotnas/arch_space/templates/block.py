"""Block-wise template (NeuraSearchLib listing 1): a chain of nodes, each choosing among operations."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from ...errors import SlotnasError
from ...params import Categorical, ParamSpace
from ...slot import Slot
from .spec import build_op, classifier, expand_choices, format_op, parse_op

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
        for key in entry:
            if key not in allowed:
                raise SlotnasError(f"template node {entry['node_id']}: unknown key {key!r}; allowed: {', '.join(allowed)}")
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


def block(in_channels: int, num_classes: int, node_operations: List[Dict[str, Any]],
          chain_size: Optional[List[int]] = None, other_configs: Optional[Dict[str, List[Any]]] = None,
          edge_operations: Optional[List[Dict[str, Any]]] = None, dropout: float = 0.0) -> BlockNet:
    """Build the chain; nodes with more than one choice become Slots whose choices are the operations."""
    other_configs = other_configs or {}
    if chain_size is None:
        chain_size = [len(node_operations)] * 2
    if not (isinstance(chain_size, list) and len(chain_size) == 2 and 1 <= chain_size[0]):
        raise SlotnasError(f"template.chain_size: expected [min, max] with min >= 1, got {chain_size!r}")
    low, high = chain_size
    if low > high:
        raise SlotnasError(f"template.chain_size: min ({low}) > max ({high})")
    by_id = _node_ids(node_operations, high)
    extra: Dict[int, List[int]] = {}
    for edge in edge_operations or []:
        src, dst = edge.get("from"), edge.get("to")
        if not (isinstance(src, int) and isinstance(dst, int) and 1 <= src <= high and 1 <= dst <= high):
            raise SlotnasError(f"template edge {edge!r}: from and to must be node ids 1..{high}")
        if src >= dst:
            raise SlotnasError(f"template edge {edge!r}: edges must go to a later node (from < to)")
        extra.setdefault(dst, []).append(src)
    nodes, inputs, combines, channels = [], [], [], [in_channels]
    for node in range(1, high + 1):
        sources = [node - 1] + extra.get(node, [])
        combine = by_id.get(node, {}).get("combine_op", "sum")
        if combine not in COMBINE_OPS:
            raise SlotnasError(f"template node {node}: combine_op {combine!r} not allowed; allowed: sum, concat")
        c_in = sum(channels[i] for i in sources) if combine == "concat" else channels[sources[0]]
        if combine == "sum" and any(channels[i] != c_in for i in sources):
            raise SlotnasError(f"template node {node}: summed inputs have channels {[channels[i] for i in sources]}; "
                               "use combine_op: concat or matching out_channels")
        choices = expand_choices(_resolve_ops(node, by_id), other_configs)
        first_label, first_spec = next(iter(choices.items()))
        module, c_out = build_op(first_spec, c_in)
        if len(choices) > 1:
            factories: Dict[str, Callable[[], nn.Module]] = {
                label: (lambda spec=spec, ci=c_in: build_op(spec, ci)[0]) for label, spec in choices.items()}
            slot = Slot(c_in, c_out, name=f"node{node}", choices=factories)
            slot.set_entity(module, candidate=first_label)
            module = slot
        if node > low:
            if c_in != c_out or parse_op(first_spec)[1].get("stride", 1) != 1:
                raise SlotnasError(f"template node {node}: chain_size lets it be skipped, but it changes the shape")
            module = Skippable(module)
        nodes.append(module)
        inputs.append(sources)
        combines.append(combine)
        channels.append(c_out)
    depth = (low, high) if low < high else None
    return BlockNet(nodes, inputs, combines, channels[-1], num_classes, dropout, depth)
