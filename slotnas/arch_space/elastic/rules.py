"""The ``elastic:`` config section: rules that make an unmodified model's widths, depths and kernels
elastic (like ``slots:`` rules for Slots), each a Categorical of the space whose handler switches groups."""
from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Callable, List, Mapping, Optional, Sequence

import torch
from torch import nn

from ...constraints import Length, PositiveInt, Range
from ...errors import SlotnasError
from ...params import Categorical, ParamSpace
from ...registry import Registry, check_component, component_options
from ..slotify import is_type
from .groups import DepthGroup, ElasticSpace, KernelGroup, WidthGroup, grow_kernel
from .layers import make_elastic, make_skippable
from .trace import ModelGraph, find_stages

ELASTIC_RULES = Registry("elastic rule")
WidthFraction = Annotated[float, Range(0, 1, low_open=True)]
Ratios = Annotated[List[Annotated[float, Range(0, low_open=True)]], Length(1)]
Widths = Annotated[List[WidthFraction], Length(1)]
Counts = Annotated[List[PositiveInt], Length(1)]


class RuleContext:
    """What rules work on: the model, its space, an example input, the groups made so far."""

    def __init__(self, model: nn.Module, space: ParamSpace, example: torch.Tensor, where: str) -> None:
        self.model, self.space, self.example, self.where = model, space, example, where
        self.elastic: ElasticSpace = space.elastic if space.elastic is not None else ElasticSpace()
        self._graph: Optional[ModelGraph] = None

    def graph(self) -> ModelGraph:
        """The model's fx graph, traced on first use (before any layer became elastic)."""
        if self._graph is None:
            self._graph = ModelGraph(self.model, self.example)
        return self._graph

    def selected(self, names: Sequence[str], name: str, exclude: Optional[str], what: str) -> List[str]:
        """Names matching the ``name`` glob and not ``exclude``; none is a one-line error."""
        found = [n for n in names if fnmatch.fnmatchcase(n, name) and not (exclude and fnmatch.fnmatchcase(n, exclude))]
        if not found:
            raise SlotnasError(f"{self.where}: no {what} matches name {name!r}"
                               + (f" (exclude {exclude!r})" if exclude else ""))
        return found

    def param(self, name: str, choices: List[Any], default: Any, kind: str, apply: Callable[[Any], None]) -> None:
        """Add (or, for a shared group, reuse) the Categorical ``name`` and its handler; apply its value."""
        table = getattr(self.elastic, kind)
        if name in self.space:
            existing = self.space.get(name)
            if name not in table or getattr(existing, "choices", None) != choices:
                raise SlotnasError(f"{self.where}: parameter {name!r} already exists with other choices")
        else:
            self.space.add(Categorical(choices, default=default, name=name))
            table[name] = []
            self.space.connect(lambda p, groups=table[name]: [g.apply(p.value) for g in groups], [name])
        apply(self.space.get(name).value)


def _sorted_unique(values: Sequence[Any], where: str) -> List[Any]:
    if len(set(values)) != len(values):
        raise SlotnasError(f"{where}: values must be unique, got {list(values)}")
    return sorted(values)


@ELASTIC_RULES.register("width")
def width_rule(ctx: RuleContext, name: str = "*", exclude: Optional[str] = None, expand_ratio: Optional[Ratios] = None,
               width: Optional[Widths] = None, divisor: PositiveInt = 1, group: Optional[str] = None,
               score: bool = False) -> None:
    """Elastic spatial groups: the maps written by the matching Conv2d/Linear layers run on fewer channels,
    ``expand_ratio`` x the writing layer's input channels (MobileNet) or a ``width`` fraction of its own;
    ``score``: a learned per-channel score on each map, for importance 'score'."""
    if (expand_ratio is None) == (width is None):
        raise SlotnasError(f"{ctx.where}: give exactly one of expand_ratio and width")
    kind, values = ("expand_ratio", expand_ratio) if width is None else ("width", width)
    values = _sorted_unique(values, f"{ctx.where}.{kind}")
    graph = ctx.graph()
    linear = [n for n, node in graph.nodes.items() if graph.role(node) == "linear"]
    done = {id(m) for groups in ctx.elastic.width.values() for g in groups for m in g.producers}
    for producer in ctx.selected(linear, name, exclude, "Conv2d or Linear layer"):
        if id(ctx.model.get_submodule(producer)) in done:
            continue  # tied by a residual add to a map already made elastic
        hidden = graph.hidden_map(producer)
        layers = {n: make_elastic(ctx.model.get_submodule(n), n)
                  for n in hidden.producers + hidden.channelwise + hidden.consumers}
        done.update(id(layers[n]) for n in hidden.producers)
        first = layers[hidden.producers[0]]
        base = getattr(first, "in_channels", getattr(first, "in_features", 1)) if kind == "expand_ratio" \
            else hidden.channels
        to_value = _channels(base, divisor)
        for value in values:
            if not 1 <= to_value(value) <= hidden.channels:
                raise SlotnasError(f"{ctx.where}.{kind}: {value} gives {to_value(value)} channels for {producer!r}, "
                                   f"which has {hidden.channels}")
        pname = group or f"{producer}.{kind}"
        grp = WidthGroup(pname, [layers[n] for n in hidden.producers], [layers[n] for n in hidden.channelwise],
                         [layers[n] for n in hidden.consumers], hidden.channels, to_value)
        if score:
            grp.learn_score()
        ctx.param(pname, values, values[-1], "width", grp.apply)
        ctx.elastic.width[pname].append(grp)


def _channels(base: int, divisor: int) -> Callable[[float], int]:
    def to_channels(value: float) -> int:
        channels = int(round(base * value))
        return max(divisor, int(channels + divisor / 2) // divisor * divisor) if divisor > 1 else channels
    return to_channels


@ELASTIC_RULES.register("depth")
def depth_rule(ctx: RuleContext, block: str, choices: Counts, name: str = "*", exclude: Optional[str] = None,
               group: Optional[str] = None) -> None:
    """Elastic sequential groups: in each stage of ``block`` modules only the first ``depth`` run."""
    choices = _sorted_unique(choices, f"{ctx.where}.choices")
    stages = find_stages(ctx.model, ctx.example, lambda n, m: is_type(m, block))
    by_name = {s.name: s for s in stages}
    if not stages:
        raise SlotnasError(f"{ctx.where}: no stage of 2 or more {block!r} blocks in a row (after one that may "
                           "change the shape, the others must keep it)")
    for stage_name in ctx.selected(list(by_name), name, exclude, f"stage of {block!r} blocks"):
        stage = by_name[stage_name]
        allowed = [c for c in choices if c <= len(stage.blocks)]
        if not allowed:
            raise SlotnasError(f"{ctx.where}.choices: stage {stage_name!r} has {len(stage.blocks)} blocks, "
                               f"fewer than every choice in {choices}")
        grp = DepthGroup(group or f"{stage_name}.depth",
                         [make_skippable(ctx.model.get_submodule(b)) for b in stage.blocks[1:]])
        ctx.param(grp.name, allowed, allowed[-1], "depth", grp.apply)
        ctx.elastic.depth[grp.name].append(grp)


@ELASTIC_RULES.register("kernel")
def kernel_rule(ctx: RuleContext, choices: Counts, name: str = "*", exclude: Optional[str] = None,
                transform: bool = False, group: Optional[str] = None) -> None:
    """Elastic kernels (OFA): the matching convs use the centre crop of a kernel of the largest choice
    (smaller kernels are zero-padded up to it: the same function); ``transform`` learns OFA's per-size
    linear maps of the cropped taps."""
    choices = _sorted_unique(choices, f"{ctx.where}.choices")
    if any(c % 2 == 0 for c in choices):
        raise SlotnasError(f"{ctx.where}.choices: kernel sizes must be odd, got {choices}")
    convs = [n for n, m in ctx.model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
    for layer_name in ctx.selected(convs, name, exclude, "Conv2d layer with a kernel larger than 1"):
        conv = make_elastic(ctx.model.get_submodule(layer_name), layer_name)
        own = conv.kernel_size[0]
        if conv.kernel_size[0] != conv.kernel_size[1] or tuple(conv.padding) != tuple(
                d * (own - 1) // 2 for d in conv.dilation):
            raise SlotnasError(f"{ctx.where}: layer {layer_name!r} has kernel {conv.kernel_size} and padding "
                               f"{conv.padding}; elastic kernels need square kernels with 'same' padding")
        if own > choices[-1]:
            raise SlotnasError(f"{ctx.where}.choices: layer {layer_name!r} has kernel {own}, larger than {choices[-1]}")
        grow_kernel(conv, choices[-1])
        conv.kernel_sizes = sorted(set(choices) | {own})
        if transform:
            steps = sorted(conv.kernel_sizes, reverse=True)
            for bigger, smaller in zip(steps, steps[1:]):
                eye = torch.eye(smaller * smaller, device=conv.weight.device, dtype=conv.weight.dtype)
                conv.register_parameter(f"kernel_{bigger}to{smaller}", nn.Parameter(eye))
        grp = KernelGroup(group or f"{layer_name}.kernel", [conv])
        ctx.param(grp.name, choices, own if own in choices else choices[-1], "kernel", grp.apply)
        ctx.elastic.kernel[grp.name].append(grp)


def check_rule(rule: Any, where: str) -> Callable[..., None]:
    """Check one ``elastic:`` rule without touching a model; config validation and ``apply_elastic`` share it."""
    return check_component(rule, ELASTIC_RULES, where, injected=("ctx",))[0]


def apply_elastic(model: nn.Module, rules: Sequence[Mapping[str, Any]], space: ParamSpace,
                  input_shape: Sequence[int]) -> ElasticSpace:
    """Make the model elastic by ``rules`` (in place); parameters go to ``space``, groups to ``space.elastic``."""
    from ..export import module_device

    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.get_default_dtype()
    example = torch.zeros(2, *input_shape, device=module_device(model), dtype=dtype)
    context = RuleContext(model, space, example, "elastic")
    for i, rule in enumerate(rules):
        context.where = f"elastic[{i}]"
        fn = check_rule(rule, context.where)
        try:
            fn(context, **component_options(dict(rule)))
        except SlotnasError as exc:  # the layers' and tracer's messages name the rule
            text = str(exc)
            if text.startswith("elastic: "):
                raise type(exc)(f"{context.where}: {text[len('elastic: '):]}") from None
            raise
    space.elastic = context.elastic
    return context.elastic
