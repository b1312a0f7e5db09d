"""Operation specs of templates: ``Name-arg:value&arg:value`` -> a module factory for given input channels."""
from __future__ import annotations

import inspect
import itertools
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from torch import nn

from ...errors import SlotnasError
from ...registry import Registry, did_you_mean
from ...slot import Slot
from .. import ops
from ..candidates import CANDIDATES, build_candidate

TEMPLATE_OPS = Registry("template operation")

Built = Tuple[nn.Module, int]  # module, output channels


def register_template_op(name: str) -> Callable:
    """Decorator registering ``fn(in_channels, **args) -> (module, out_channels)`` as operation ``name``."""
    return TEMPLATE_OPS.register(name)


def parse_value(text: str) -> Any:
    """'3x3' -> 3, '3x5' -> (3, 5), '32' -> 32, '0.5' -> 0.5, 'true' -> True, else the text."""
    text = text.strip()
    if "x" in text and all(p.strip().isdigit() for p in text.split("x")):
        parts = tuple(int(p) for p in text.split("x"))
        return parts[0] if len(set(parts)) == 1 else parts
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_op(spec: str) -> Tuple[str, Dict[str, Any]]:
    """Split ``'MBConv-out_channels:24&stride:2'`` into ('MBConv', {'out_channels': 24, 'stride': 2})."""
    if not isinstance(spec, str) or not spec.strip():
        raise SlotnasError(f"template: operation must be a string like 'Conv2d-kernel_size:3x3', got {spec!r}")
    name, _, rest = spec.strip().partition("-")
    args: Dict[str, Any] = {}
    for item in filter(None, rest.split("&")):
        key, sep, value = item.partition(":")
        if not sep:
            raise SlotnasError(f"template: operation {spec!r}: argument {item!r} needs the form name:value")
        args[key.strip()] = parse_value(value)
    return name, args


def format_op(name: str, args: Dict[str, Any]) -> str:
    """Inverse of ``parse_op``: ('MBConv', {'stride': 2}) -> 'MBConv-stride:2'."""
    return name + ("-" + "&".join(f"{k}:{v}" for k, v in args.items()) if args else "")


def op_arguments(name: str) -> list:
    """Names of the arguments operation ``name`` accepts."""
    if name in CANDIDATES:
        return ["out_channels", "stride"]
    params = inspect.signature(TEMPLATE_OPS.get(name)).parameters
    return [p for p in params if p != "in_channels"]


def build_op(spec_or_name: str, in_channels: int, **extra: Any) -> Built:
    """Build an operation from its spec (plus ``extra`` arguments) on ``in_channels`` input channels."""
    name, args = parse_op(spec_or_name)
    args.update(extra)
    if name not in TEMPLATE_OPS and name not in CANDIDATES:
        allowed = TEMPLATE_OPS.names() + CANDIDATES.names()
        raise SlotnasError(f"template: unknown operation {name!r}{did_you_mean(name, allowed)}; "
                           f"allowed: {', '.join(TEMPLATE_OPS.names())} or a candidate id")
    allowed_args = op_arguments(name)
    for key in args:
        if key not in allowed_args:
            raise SlotnasError(f"template: operation {name!r} has no argument {key!r}"
                               f"{did_you_mean(key, allowed_args)}; allowed: {', '.join(allowed_args)}")
    if name in CANDIDATES:
        out = args.get("out_channels", in_channels)
        return build_candidate(name, Slot(in_channels, out, args.get("stride", 1))), out
    return TEMPLATE_OPS.get(name)(in_channels, **args)


def edge_ends(where: str, edge: Any, first: int, last: int) -> Tuple[int, int]:
    """(from, to) of an ``edge_operations`` entry: node ids in first..last with from < to, else a
    one-line error naming the entry."""
    if not isinstance(edge, dict):
        raise SlotnasError(f"{where} {edge!r}: expected a mapping with from and to")
    src, dst = edge.get("from"), edge.get("to")
    if not (isinstance(src, int) and isinstance(dst, int) and first <= src <= last and first <= dst <= last):
        raise SlotnasError(f"{where} {edge!r}: from and to must be node ids {first}..{last}")
    if src >= dst:
        raise SlotnasError(f"{where} {edge!r}: edges must go to a later node (from < to)")
    return src, dst


def classifier(in_channels: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """The templates' head: global average pool, dropout, linear."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                         nn.Linear(in_channels, num_classes))


SHORT = {"kernel_size": "k", "expansion_ratio": "e", "out_channels": "c", "stride": "s", "dilation": "d"}


def expand_choices(ops: Sequence[str], other_configs: Dict[str, List[Any]]) -> Dict[str, str]:
    """Label -> full spec for each operation times the values of the searchable arguments it leaves open.

    A label names the operation and its searched values only, e.g. ``MBConv-k5-e3``.
    """
    choices: Dict[str, str] = {}
    for spec in ops:
        name, fixed = parse_op(spec)
        free = [k for k in other_configs if k in op_arguments(name) and k not in fixed]
        for values in itertools.product(*(other_configs[k] for k in free)):
            args = {**fixed, **dict(zip(free, values))}
            label = "-".join([name] + [f"{SHORT.get(k, k)}{v}" for k, v in zip(free, values)])
            choices[label] = format_op(name, args)
    return choices


class Op(NamedTuple):
    """An operation ready to build: its factory (``channels=`` narrows it), output channels, stride and
    whether it is "no edge"."""

    factory: Callable[[], nn.Module]
    out_channels: int
    stride: int
    is_zero: bool


def op_factory(spec: str, in_channels: int, stride: Optional[int] = None) -> Op:
    """Operation ``spec`` on ``in_channels``: out_channels defaults to ``in_channels``; a given
    ``stride`` is imposed (e.g. on a reduction cell's edges). It is built once here, so that a bad
    spec fails at build time and its shape and zero-ness are read from a real module.
    """
    name, args = parse_op(spec)
    extra: Dict[str, Any] = {}
    accepted = op_arguments(name) if name in TEMPLATE_OPS or name in CANDIDATES else []
    if "out_channels" in accepted and "out_channels" not in args:
        extra["out_channels"] = in_channels
    if stride is not None and stride != 1:
        if "stride" not in accepted:
            raise SlotnasError(f"template: operation {spec!r} cannot reduce resolution (no stride); use e.g. IDT")
        extra["stride"] = stride
    probe, out = build_op(spec, in_channels, **extra)

    def factory(channels: int = in_channels) -> nn.Module:
        """Build the operation; ``channels`` narrows a width-keeping one (partial channels)."""
        sized = {**extra, "out_channels": channels} if "out_channels" in extra else extra
        return build_op(spec, channels, **sized)[0]

    return Op(factory, out, {**args, **extra}.get("stride", 1), getattr(probe, "is_zero", False))


@register_template_op("Conv2d")
def _conv2d(in_channels: int, out_channels: int = 0, kernel_size: Any = 3, stride: int = 1, padding: Any = None,
            groups: int = 1, bias: bool = True) -> Built:
    out = out_channels or in_channels
    pad = padding if padding is not None else (kernel_size // 2 if isinstance(kernel_size, int) else
                                               tuple(k // 2 for k in kernel_size))
    return nn.Conv2d(in_channels, out, kernel_size, stride, pad, groups=groups, bias=bias), out


@register_template_op("ConvBNAct")
def _conv_bn_act(in_channels: int, out_channels: int = 0, kernel_size: int = 3, stride: int = 1,
                 activation: str = "relu6") -> Built:
    out = out_channels or in_channels
    act = {"relu6": nn.ReLU6, "relu": nn.ReLU}.get(activation)
    if act is None:
        raise SlotnasError(f"template: ConvBNAct activation {activation!r} not allowed; allowed: relu6, relu")
    return nn.Sequential(*ops.conv_bn(in_channels, out, kernel_size, stride), act(inplace=True)), out


@register_template_op("MBConv")
def _mbconv(in_channels: int, out_channels: int = 0, kernel_size: int = 3, stride: int = 1,
            expansion_ratio: int = 6) -> Built:
    out = out_channels or in_channels
    return ops.MBConv(in_channels, out, kernel_size, stride, expansion_ratio), out


@register_template_op("SeparableConv2d")
def _sep_conv(in_channels: int, out_channels: int = 0, kernel_size: int = 3, stride: int = 1) -> Built:
    out = out_channels or in_channels
    return ops.SepConv(in_channels, out, kernel_size, stride), out


@register_template_op("DilatedConv2d")
def _dil_conv(in_channels: int, out_channels: int = 0, kernel_size: int = 3, stride: int = 1,
              dilation: int = 2) -> Built:
    out = out_channels or in_channels
    return ops.SepConv(in_channels, out, kernel_size, stride, dilation=dilation), out


@register_template_op("MaxPool2d")
def _max_pool(in_channels: int, kernel_size: int = 3, stride: int = 1) -> Built:
    return nn.MaxPool2d(kernel_size, stride, kernel_size // 2), in_channels


@register_template_op("AvgPool2d")
def _avg_pool(in_channels: int, kernel_size: int = 3, stride: int = 1) -> Built:
    return nn.AvgPool2d(kernel_size, stride, kernel_size // 2, count_include_pad=False), in_channels


@register_template_op("Identity")
def _identity(in_channels: int) -> Built:
    return nn.Identity(), in_channels


@register_template_op("Zero")
def _zero(in_channels: int, stride: int = 1) -> Built:
    return ops.Zero(in_channels, stride), in_channels
