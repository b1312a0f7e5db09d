"""slotify: replace layers of an unmodified model with Slots, by type, attributes and name glob."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from ..errors import SlotError
from ..slot import Slot

RULE_KEYS = ("type", "name", "exclude", "attrs", "group")


@dataclass
class SlotRule:
    """Which modules become Slots: class name (or class), attribute values, dotted-name glob (minus ``exclude``)."""

    type: Union[str, type, None] = None
    name: Optional[str] = None
    exclude: Optional[str] = None
    attrs: Dict[str, Any] = field(default_factory=dict)
    group: Optional[str] = None

    @classmethod
    def from_any(cls, rule: Union["SlotRule", Mapping[str, Any]]) -> "SlotRule":
        """Build a rule from a dict with keys type / name / attrs / group."""
        if isinstance(rule, SlotRule):
            return rule
        if not isinstance(rule, Mapping):
            raise SlotError(f"slot rule must be a mapping with keys {', '.join(RULE_KEYS)}, got {rule!r}")
        unknown = [k for k in rule if k not in RULE_KEYS]
        if unknown:
            raise SlotError(f"slot rule key {unknown[0]!r} unknown; allowed: {', '.join(RULE_KEYS)}")
        if not any(rule.get(k) for k in ("type", "name", "attrs")):
            raise SlotError(f"slot rule {dict(rule)!r} needs at least one of: type, name, attrs")
        return cls(**rule)

    def matches(self, path: str, module: nn.Module) -> bool:
        """Whether the module at dotted ``path`` satisfies every given criterion."""
        if self.type is not None and not is_type(module, self.type):
            return False
        if self.name is not None and not fnmatch.fnmatchcase(path, self.name):
            return False
        if self.exclude is not None and fnmatch.fnmatchcase(path, self.exclude):
            return False
        return all(_attr_equals(module, k, v) for k, v in self.attrs.items())


def is_type(module: nn.Module, wanted: Union[str, type]) -> bool:
    """Whether the module is an instance of ``wanted`` (a class, or a class name / dotted path in its MRO)."""
    if isinstance(wanted, type):
        return isinstance(module, wanted)
    return any(wanted in (c.__name__, f"{c.__module__}.{c.__qualname__}") for c in type(module).__mro__)


def _attr_equals(module: nn.Module, key: str, wanted: Any) -> bool:
    if not hasattr(module, key):
        return False
    have = getattr(module, key)
    if isinstance(wanted, list):
        wanted = tuple(wanted)
    if isinstance(have, tuple) and not isinstance(wanted, tuple):
        return all(h == wanted for h in have)  # kernel_size: 3 matches (3, 3)
    return have == wanted


def _scalar(value: Any) -> Any:
    """(3, 3) -> 3, keep non-square tuples."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def layer_args(module: nn.Module) -> Tuple[Optional[int], Optional[int], int, Dict[str, Any]]:
    """(chn_in, chn_out, stride, kwargs) of the layer, as a Slot remembers them."""
    if isinstance(module, _ConvNd):
        kwargs = {
            "kernel_size": _scalar(module.kernel_size),
            "padding": _scalar(module.padding),
            "dilation": _scalar(module.dilation),
            "groups": module.groups,
            "bias": module.bias is not None,
        }
        return module.in_channels, module.out_channels, _scalar(module.stride), kwargs
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features, 1, {"bias": module.bias is not None}
    if isinstance(module, _BatchNorm):
        return module.num_features, module.num_features, 1, {}
    # A composite block: channels of its first and last conv/linear, product of conv strides.
    layers = [m for m in module.modules() if isinstance(m, (_ConvNd, nn.Linear))]
    if not layers:
        return None, None, 1, {}
    first, last = layer_args(layers[0]), layer_args(layers[-1])
    stride = 1
    for m in layers:
        if isinstance(m, _ConvNd):
            stride *= m.stride[0]
    return first[0], last[1], stride, {}


def slotify(model: nn.Module, rules: Sequence[Union[SlotRule, Mapping[str, Any]]]) -> List[Slot]:
    """Replace each module matching a rule by a Slot holding it (candidate ORIG); return the Slots.

    The outermost match wins: modules inside a replaced module are not slotified. Each Slot
    starts with the original module as its entity, so the model computes exactly what it did.
    The host's in-place activations (``ReLU(inplace=True)`` after a conv, ...) are made out-of-place
    (same numbers): a candidate may end in an op that saves its output for backward, which an
    in-place op of the host would overwrite.
    """
    parsed = [SlotRule.from_any(r) for r in rules]
    hits = [0] * len(parsed)
    targets: List[Tuple[str, nn.Module, SlotRule]] = []
    replaced_prefixes: List[str] = []
    for path, module in model.named_modules():
        if not path or isinstance(module, Slot) or any(path.startswith(p) for p in replaced_prefixes):
            continue
        for i, rule in enumerate(parsed):
            if rule.matches(path, module):
                hits[i] += 1
                targets.append((path, module, rule))
                replaced_prefixes.append(path + ".")
                break
    for rule, count in zip(parsed, hits):
        if count == 0:
            raise SlotError(f"slot rule {_describe(rule)} matched no module in {type(model).__name__}")
    slots = []
    for path, module, rule in targets:
        chn_in, chn_out, stride, kwargs = layer_args(module)
        slot = Slot(chn_in, chn_out, stride, name=path, group=rule.group, original=module, **kwargs)
        slot.set_entity(module, candidate="ORIG")
        parent_path, _, attr = path.rpartition(".")
        setattr(model.get_submodule(parent_path) if parent_path else model, attr, slot)
        slots.append(slot)
    if slots:
        out_of_place(model)
    return slots


def out_of_place(model: nn.Module) -> int:
    """Turn ``inplace`` off on every module of ``model`` that has it (activations, dropout); return how many."""
    changed = 0
    for module in model.modules():
        if not isinstance(module, Slot) and module.__dict__.get("inplace") is True:
            module.inplace = False
            changed += 1
    return changed


def _describe(rule: SlotRule) -> str:
    parts = {k: getattr(rule, k) for k in ("type", "name", "attrs") if getattr(rule, k)}
    if isinstance(parts.get("type"), type):
        parts["type"] = parts["type"].__name__
    return str(parts)
