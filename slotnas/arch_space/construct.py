"""construct: turn a model's Slots into candidates / mixed ops and the ParamSpace that drives them."""
from __future__ import annotations

import fnmatch
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from torch import nn

from ..errors import SlotError, SlotnasError
from ..params import Categorical, Param, ParamSpace
from ..registry import Registry, check_options
from ..slot import Slot, find_slots
from .candidates import CANDIDATES, build_candidate
from .export import module_device
from .mixed_ops import MIXED_OPS

CONSTRUCTORS = Registry("constructor")

Constructor = Callable[..., None]
Step = Union[Mapping[str, Any], Constructor]


def register_constructor(name: str) -> Callable[[Constructor], Constructor]:
    """Decorator registering ``fn(slots, space, **options)`` as constructor ``name``."""
    return CONSTRUCTORS.register(name)


def group_slots(slots: Sequence[Slot]) -> "OrderedDict[str, List[Slot]]":
    """Slots keyed by the parameter they share (their group, else their own name)."""
    groups: "OrderedDict[str, List[Slot]]" = OrderedDict()
    for slot in slots:
        groups.setdefault(slot.param_name, []).append(slot)
    return groups


def _check_candidates(candidates: Optional[Sequence[str]], where: str) -> Optional[List[str]]:
    if candidates is None:
        return None  # each Slot's own choices
    if isinstance(candidates, str) or not candidates:
        raise SlotnasError(f"{where}: 'candidates' must be a non-empty list of candidate ids")
    for name in candidates:
        CANDIDATES.get(name)
    return list(candidates)


def slot_candidates(slot: Slot, candidates: Optional[List[str]], where: str) -> List[str]:
    """The candidate ids a slot chooses among: the given list, else the slot's own choices."""
    if candidates is not None:
        return candidates
    if not slot.choices:
        raise SlotnasError(f"{where}: slot {slot.name!r} has no choices of its own; give 'candidates'")
    return list(slot.choices)


def build_choice(name: str, slot: Slot) -> nn.Module:
    """Build candidate ``name`` for ``slot``: its own factory if it has one, else the registry's."""
    if slot.choices and name in slot.choices:
        return slot.choices[name]()
    return build_candidate(name, slot)


def _group_candidates(members: Sequence[Slot], candidates: Optional[List[str]], where: str) -> List[str]:
    names = slot_candidates(members[0], candidates, where)
    for slot in members[1:]:
        if slot_candidates(slot, candidates, where) != names:
            raise SlotnasError(f"{where}: slots {members[0].name!r} and {slot.name!r} share group "
                               f"{members[0].param_name!r} but not their choices")
    return names


@register_constructor("mixed_op")
def mixed_op(slots: Sequence[Slot], space: ParamSpace, candidates: Optional[Sequence[str]] = None,
             mixed: str = "weighted_sum", **options: Any) -> None:
    """Each Slot becomes a mixed op over ``candidates`` (default: its own choices); a group shares one parameter."""
    where = "constructor 'mixed_op'"
    candidates = _check_candidates(candidates, where)
    op_cls = MIXED_OPS.get(mixed)
    check_options(op_cls, f"mixed op {mixed!r}", options, injected=("candidates", "alpha", "param"))
    for name, members in group_slots(slots).items():
        names = _group_candidates(members, candidates, where)
        param = space.add(op_cls.make_param(names, name))
        for slot in members:
            built = [(c, build_choice(c, slot)) for c in names]
            slot.set_entity(op_cls(built, param, **options))


@register_constructor("categorical")
def categorical(slots: Sequence[Slot], space: ParamSpace, candidates: Optional[Sequence[str]] = None,
                default: Optional[str] = None) -> None:
    """Each group of Slots gets a Categorical; its handler swaps in the chosen candidate (cached)."""
    where = "constructor 'categorical'"
    candidates = _check_candidates(candidates, where)
    for name, members in group_slots(slots).items():
        names = _group_candidates(members, candidates, where)
        param = space.add(Categorical(names, default=default, name=name))
        handler = _SwapCandidate(members)
        space.connect(handler, [name])
        handler(param)


class _SwapCandidate:
    """Transform handler: set each Slot's entity to the chosen candidate, built once per id."""

    def __init__(self, slots: Sequence[Slot]) -> None:
        self.slots = list(slots)
        self.cache: List[Dict[str, nn.Module]] = [{} for _ in self.slots]

    def __call__(self, param: Param) -> None:
        choice = param.value
        for slot, cache in zip(self.slots, self.cache):
            module = cache.get(choice)
            if module is None:
                module = build_choice(choice, slot)
                cache[choice] = module.to(module_device(slot))
            slot.set_entity(module, candidate=choice)


@register_constructor("fixed")
def fixed(slots: Sequence[Slot], space: ParamSpace, candidate: str) -> None:
    """Each Slot gets one candidate (a registered id or one of its own choices); no parameter is added."""
    for slot in slots:
        if not (slot.choices and candidate in slot.choices):
            CANDIDATES.get(candidate)
        slot.set_entity(build_choice(candidate, slot), candidate=candidate)


def construct(model: nn.Module, chain: Sequence[Step], space: Optional[ParamSpace] = None) -> ParamSpace:
    """Apply the constructor chain to the model's Slots and return the ParamSpace.

    Each step is ``{"type": name, "slots": glob, **options}`` or a callable
    ``fn(slots, space)``; a Slot is handled by the first step whose glob matches its name.
    Slots created by a step (inside a candidate) are open to the following steps.
    """
    space = ParamSpace() if space is None else space
    if hasattr(model, "declare_params"):  # e.g. a template's depth parameter and its handler
        model.declare_params(space)
    done: set = set()
    for step in chain:
        if callable(step):
            fn, pattern, options, label = step, "*", {}, getattr(step, "__name__", repr(step))
        else:
            options = dict(step)
            label = options.pop("type", None)
            if label is None:
                raise SlotnasError(f"construct step {dict(step)!r} needs 'type'; allowed: {', '.join(CONSTRUCTORS)}")
            fn = CONSTRUCTORS.get(label)
            pattern = options.pop("slots", "*")
            check_options(fn, f"constructor {label!r}", options, injected=("slots", "space"))
        slots = [s for s in find_slots(model) if id(s) not in done and fnmatch.fnmatchcase(s.name, pattern)]
        fn(slots, space, **options)
        done.update(id(s) for s in slots)
    empty = [s.name for s in find_slots(model) if s.entity is None]
    if empty:
        raise SlotError(f"slot {empty[0]!r} has no module after construct; add a chain step matching it")
    return space
