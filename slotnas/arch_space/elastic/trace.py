"""Find what can be elastic in an unmodified model: hidden feature maps (torch.fx graph walk) and stages of
blocks (a probe forward), with the couplings a residual add creates."""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from ...errors import SlotError
from .layers import is_depthwise

PASS_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Hardswish, nn.SiLU, nn.GELU, nn.ELU, nn.Sigmoid, nn.Tanh,
                nn.Dropout, nn.Dropout2d, nn.Identity, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                nn.AdaptiveMaxPool2d, nn.Flatten)
PASS_FUNCTIONS = {F.relu, F.relu6, torch.relu, F.hardswish, F.silu, F.gelu, F.dropout, F.adaptive_avg_pool2d,
                  F.adaptive_max_pool2d, F.max_pool2d, F.avg_pool2d, torch.flatten}
PASS_METHODS = {"relu", "relu_", "flatten", "contiguous"}
JOIN_FUNCTIONS = {operator.add, operator.iadd, torch.add}
FLATTENS = (nn.Flatten, torch.flatten, "flatten")


def probe(model: nn.Module, example: torch.Tensor, run: Callable[[torch.Tensor], Any]) -> None:
    """``run(example)`` in eval mode without gradients (the model's mode restored); a model that does not run
    on the input is a one-line error."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            run(example)
    except Exception as exc:
        cause = exc.__cause__ or exc  # fx's ShapeProp wraps the model's own error
        first = str(cause).strip().splitlines()[0][:200] if str(cause).strip() else ""
        raise SlotError(f"elastic: the model does not run on an input of shape {list(example.shape[1:])} "
                        f"({type(cause).__name__}: {first}); check the data's channels and image_size") from None
    finally:
        model.train(was_training)


@dataclass
class HiddenMap:
    """One feature map of the model: the layers writing it (fan-out), the channel-wise layers on it (BN,
    depthwise convs) and the layers reading it (fan-in); several producers when residual adds tie them."""

    producers: List[str]
    channelwise: List[str]
    consumers: List[str]
    channels: int
    tied: bool = False


@dataclass
class Stage:
    """A run of blocks in one nn.Sequential of which all but the first keep their input's shape."""

    name: str
    blocks: List[str] = field(default_factory=list)


class ModelGraph:
    """The model's fx graph with shapes, and the role of every node for channel slicing."""

    def __init__(self, model: nn.Module, example: torch.Tensor) -> None:
        self.model = model
        try:
            self.graph = torch.fx.symbolic_trace(model)
        except Exception as exc:
            raise SlotError(f"elastic: the model cannot be traced by torch.fx ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160]}); elastic width needs a traceable model") from None
        probe(model, example, ShapeProp(self.graph).propagate)
        self.nodes = {n.target: n for n in self.graph.graph.nodes if n.op == "call_module"}

    def module(self, node: torch.fx.Node) -> Optional[nn.Module]:
        """The leaf module a call_module node runs."""
        return self.model.get_submodule(node.target) if node.op == "call_module" else None

    def role(self, node: torch.fx.Node) -> str:
        """'linear' (writes a new map), 'channel' (per-channel layer), 'pass', 'join' (add) or 'other'."""
        module = self.module(node)
        if module is not None:
            if isinstance(module, nn.Conv2d):
                if is_depthwise(module):
                    return "channel"
                return "linear" if module.groups == 1 else "other"
            if isinstance(module, nn.Linear):
                return "linear"
            if isinstance(module, nn.BatchNorm2d):
                return "channel"
            if isinstance(module, PASS_MODULES):
                return "pass" if self._flat_ok(node, module) else "other"
            return "other"
        if node.op == "call_function":
            if node.target in JOIN_FUNCTIONS and all(isinstance(a, torch.fx.Node) for a in node.args[:2]):
                return "join"
            if node.target in PASS_FUNCTIONS:
                return "pass" if self._flat_ok(node, node.target) else "other"
        if node.op == "call_method" and node.target in PASS_METHODS:
            return "pass" if self._flat_ok(node, node.target) else "other"
        return "other"

    def _flat_ok(self, node: torch.fx.Node, what: Any) -> bool:
        """Flattening keeps channels as features only when nothing spatial is left (1x1 maps)."""
        if not (what in FLATTENS or isinstance(what, nn.Flatten)):
            return True
        source = node.args[0] if node.args else None
        meta = getattr(source, "meta", {}).get("tensor_meta")
        return meta is not None and all(int(s) == 1 for s in meta.shape[2:])

    def describe(self, node: torch.fx.Node) -> str:
        """A node in words for error messages."""
        if node.op == "output":
            return "the model's output"
        if node.op == "placeholder":
            return "the model's input"
        if node.op == "call_module":
            return f"layer {node.target!r} ({type(self.module(node)).__name__})"
        return f"operation {getattr(node.target, '__name__', node.target)!s}"

    def hidden_map(self, producer: str) -> HiddenMap:
        """The feature map layer ``producer`` writes, closed over residual adds; a one-line error if some
        layer on it cannot be sliced by channel (concatenation, reshape, the model's output, ...)."""
        start = self.nodes.get(producer)
        if start is None or self.role(start) != "linear":
            raise SlotError(f"elastic: {producer!r} is not a Conv2d (groups=1) or Linear layer of the model")
        producers, members, consumers = [start], set(), []
        queue = [start]
        while queue:
            node = queue.pop()
            for user in node.users:
                role = self.role(user)
                if role == "linear":
                    if user.args[0] is not node:
                        raise SlotError(f"elastic: the output of {producer!r} reaches {self.describe(user)} "
                                        "other than as its input")
                    if user not in consumers:
                        consumers.append(user)
                elif role in ("channel", "pass", "join") and user not in members:
                    members.add(user)
                    queue.append(user)
                elif role == "other":
                    raise SlotError(f"elastic: the output of {producer!r} reaches {self.describe(user)}, which "
                                    "elastic width cannot slice by channel")
            if node in members:
                for source in node.all_input_nodes:
                    role = self.role(source)
                    if source in members or source in producers:
                        continue
                    if role == "linear":
                        producers.append(source)
                        queue.append(source)
                    elif role in ("channel", "pass", "join"):
                        members.add(source)
                        queue.append(source)
                    else:
                        raise SlotError(f"elastic: the output of {producer!r} is added to {self.describe(source)}"
                                        ", whose channels cannot change with it")
        if not consumers:
            raise SlotError(f"elastic: the output of {producer!r} reaches no Conv2d or Linear layer")
        order = {n: i for i, n in enumerate(self.graph.graph.nodes)}
        channel = sorted((n for n in members if self.role(n) == "channel"), key=order.__getitem__)
        width = {self.module(p).weight.shape[0] for p in producers}
        if len(width) != 1:
            raise SlotError(f"elastic: the layers tied to {producer!r} by residual adds differ in width {sorted(width)}")
        return HiddenMap([p.target for p in sorted(producers, key=order.__getitem__)], [n.target for n in channel],
                         [n.target for n in sorted(consumers, key=order.__getitem__)], width.pop())


def find_stages(model: nn.Module, example: torch.Tensor, is_block: Any) -> List[Stage]:
    """Runs of ``is_block`` modules in each nn.Sequential: a run starts at a block that changes the shape
    and goes on while blocks keep it (the ones an elastic depth may skip)."""
    shapes: Dict[str, Tuple[Any, Any]] = {}
    names = {id(m): n for n, m in model.named_modules()}
    handles = []
    for name, module in model.named_modules():
        if is_block(name, module):
            def hook(mod: nn.Module, inputs: Sequence[Any], output: Any, name: str = name) -> None:
                first = inputs[0] if inputs else None
                shapes[name] = (getattr(first, "shape", None), getattr(output, "shape", None))
            handles.append(module.register_forward_hook(hook))
    try:
        probe(model, example, model)
    finally:
        for h in handles:
            h.remove()
    stages: List[Stage] = []
    for parent_name, parent in model.named_modules():
        if not isinstance(parent, nn.Sequential):
            continue
        run: List[str] = []
        for child in list(parent.children()) + [None]:
            name = names.get(id(child)) if child is not None else None
            keeps = name in shapes and shapes[name][0] is not None and shapes[name][0] == shapes[name][1]
            if name in shapes and run and keeps and type(child) is type(model.get_submodule(run[0])):
                run.append(name)
                continue
            if len(run) > 1:
                stages.append(Stage(_stage_name(parent_name, parent, run), run))
            run = [name] if name in shapes else []
    return stages


def _stage_name(parent_name: str, parent: nn.Sequential, run: List[str]) -> str:
    if len(run) == len(parent):
        return parent_name or "model"
    first, last = run[0].rsplit(".", 1)[-1], run[-1].rsplit(".", 1)[-1]
    return f"{parent_name}.{first}-{last}" if parent_name else f"{first}-{last}"
