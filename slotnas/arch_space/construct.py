"""construct: turn a model's Slots into candidates / mixed ops and the ParamSpace that drives them."""
from __future__ import annotations

import fnmatch
import functools
import inspect
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from torch import nn

from ..errors import SlotError, SlotnasError
from ..params import Categorical, Param, ParamSpace
from ..constraints import Names
from ..registry import Registry, check_component, check_options, check_value
from ..slot import Slot, find_slots
from .candidates import CANDIDATES, build_candidate
from .export import module_device
from .mixed_ops import MIXED_OPS
from .partial import partial_width

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
    check_value(f"{where}.candidates", candidates, Optional[Names])
    for name in candidates:
        CANDIDATES.get(name)
    return list(candidates)


def check_step(step: Any, where: str) -> Tuple[Constructor, str, Dict[str, Any]]:
    """Check a ``{type, slots, **options}`` construct step without building anything.

    Returns the constructor, the slot glob and the options; config validation and ``construct`` both
    call this, so what is accepted before a run is exactly what construction accepts.
    """
    spec = dict(step) if isinstance(step, Mapping) else step
    pattern = spec.pop("slots", "*") if isinstance(spec, dict) else "*"
    fn, options = check_component(spec, CONSTRUCTORS, where, injected=("slots", "space"))
    check_value(f"{where}.slots", pattern, str)
    try:
        _check_candidates(options.get("candidates"), where)
        if fn is mixed_op:
            _mixed_op_class(options, where)
    except SlotnasError as exc:
        raise SlotnasError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
    return fn, pattern, options


def _mixed_op_class(options: Mapping[str, Any], where: str) -> type:
    """The mixed-op class a ``mixed_op`` step names, its own options checked against its signature."""
    mixed = options.get("mixed", "weighted_sum")
    op_cls = MIXED_OPS.get(mixed)
    own = {k: v for k, v in options.items() if k not in ("candidates", "mixed")}
    check_options(op_cls, f"{where} (mixed op {mixed!r})", own, injected=("candidates", "alpha", "param"))
    return op_cls


def slot_candidates(slot: Slot, candidates: Optional[List[str]], where: str) -> List[str]:
    """The candidate ids a slot chooses among: the given list, else the slot's own choices."""
    if candidates is not None:
        return candidates
    if not slot.choices:
        raise SlotnasError(f"{where}: slot {slot.name!r} has no choices of its own; give 'candidates'")
    return list(slot.choices)


def build_choice(name: str, slot: Slot, channels: Optional[int] = None) -> nn.Module:
    """Build candidate ``name`` for ``slot``: its own factory if it has one, else the registry's; with
    ``channels``, at that width instead of the slot's (own factories must take a ``channels`` keyword)."""
    if slot.choices and name in slot.choices:
        factory = slot.choices[name]
        if channels is None:
            return factory()
        if "channels" not in inspect.signature(factory).parameters:
            raise SlotError(f"slot {slot.name!r}: its choice {name!r} cannot be built at {channels} channels "
                            "(its factory takes no 'channels' keyword)")
        return factory(channels=channels)
    if channels is None:
        return build_candidate(name, slot)
    narrow = Slot(channels, channels, slot.stride, name=slot.name, **slot.kwargs)
    return build_candidate(name, narrow)


def _group_candidates(members: Sequence[Slot], candidates: Optional[List[str]], where: str) -> List[str]:
    names = slot_candidates(members[0], candidates, where)
    for slot in members[1:]:
        if slot_candidates(slot, candidates, where) != names:
            raise SlotnasError(f"{where}: slots {members[0].name!r} and {slot.name!r} share group "
                               f"{members[0].param_name!r} but not their choices")
    return names


def _group_param(space: ParamSpace, name: str, fresh: Param, where: str) -> Param:
    """The group's parameter: ``fresh`` added to the space, or the one already there (a group met again,
    e.g. a template pattern nested at two depths), which must offer the same choices."""
    if name not in space:
        return space.add(fresh)
    existing = space.get(name)
    same = type(existing) is type(fresh) and (
        getattr(existing, "choices", None) == getattr(fresh, "choices", None)
        and getattr(existing, "shape", None) == getattr(fresh, "shape", None))
    if not same:
        raise SlotnasError(f"{where}: group {name!r} already has a parameter with other choices ({existing!r})")
    return existing


def _holds_slots(slot: Slot, names: Sequence[str]) -> bool:
    """Whether some choice of the slot holds Slots (a motif): partial channels narrow the operations
    inside it, not the motif itself."""
    return any(getattr((slot.choices or {}).get(name), "holds_slots", False) for name in names)


@register_constructor("mixed_op")
def mixed_op(slots: Sequence[Slot], space: ParamSpace, candidates: Optional[Names] = None,
             mixed: str = "weighted_sum", **options: Any) -> None:
    """Each Slot becomes a mixed op over ``candidates`` (default: its own choices); a group shares one parameter.

    With ``partial_channels: K`` (weighted_sum, gumbel) candidates are built at C/K channels (PC-DARTS);
    slots choosing among motifs stay full width, the operations inside the motifs are narrowed.
    """
    where = "constructor 'mixed_op'"
    candidates = _check_candidates(candidates, where)
    op_cls = _mixed_op_class({"mixed": mixed, **options}, where)
    k = options.get("partial_channels", 1)
    for name, members in group_slots(slots).items():
        names = _group_candidates(members, candidates, where)
        param = _group_param(space, name, op_cls.make_param(names, name), where)
        for slot in members:
            width = None if k == 1 or _holds_slots(slot, names) else \
                partial_width(slot.name, slot.chn_in, slot.chn_out, k)
            own = options if width is not None or k == 1 else {**options, "partial_channels": 1}
            op = op_cls([(c, build_choice(c, slot, width)) for c in names], param, **own)
            if width is not None:  # the derived network gets full-width candidates (PC-DARTS)
                op.set_full_width([functools.partial(build_choice, c, slot) for c in names])
            slot.set_entity(op)


@register_constructor("categorical")
def categorical(slots: Sequence[Slot], space: ParamSpace, candidates: Optional[Names] = None,
                default: Optional[str] = None) -> None:
    """Each group of Slots gets a Categorical; its handler swaps in the chosen candidate (built once, cached).

    Slots inside a candidate (e.g. a template's motif) join this step when the candidate is built.
    Choices marked ``holds_slots`` are built once when their group's parameter is made, so that the
    parameters of every nested Slot exist before the search starts; others are built when first chosen.
    """
    where = "constructor 'categorical'"
    step = _CategoricalStep(space, _check_candidates(candidates, where), where)
    step.add(slots, default=default)
    step.constructing = False


class _CategoricalStep:
    """The categorical constructor's state: member Slots per group, built candidates, nesting."""

    def __init__(self, space: ParamSpace, candidates: Optional[List[str]], where: str) -> None:
        self.space, self.candidates, self.where = space, candidates, where
        self.members: Dict[str, List[Slot]] = {}
        self.cache: Dict[int, Dict[str, nn.Module]] = {}  # id(slot) -> candidate id -> module
        self.owner: Dict[int, Tuple[Slot, str]] = {}  # id(nested slot) -> (outer slot, candidate holding it)
        self.nested: Dict[Tuple[int, str], List[Slot]] = {}  # (id(outer slot), candidate) -> its Slots
        self.constructing = True  # afterwards, a new parameter would be one the optimizer never sees

    def add(self, slots: Sequence[Slot], default: Optional[str] = None,
            owner: Optional[Tuple[Slot, str]] = None) -> None:
        """Bind Slots to their groups' parameters (made on first sight, outer before nested) and set
        the active ones."""
        groups = group_slots(slots)
        new = [name for name in groups if name not in self.members]
        for name, members in groups.items():
            names = _group_candidates(members, self.candidates, self.where)
            pick = default if owner is None or default in names else None
            _group_param(self.space, name, Categorical(names, default=pick, name=name), self.where)
            if name in new:
                self.members[name] = []
                self.space.connect(lambda p, name=name: self.update(name, p), [name])
            for slot in members:
                self.members[name].append(slot)
                self.cache[id(slot)] = {}
                if owner is not None:
                    self.owner[id(slot)] = owner
        for name in new:  # choices holding Slots: make the nested parameters now
            first = groups[name][0]
            for choice, factory in (first.choices or {}).items():
                if getattr(factory, "holds_slots", False) and choice in self.space.get(name).choices:
                    self.build(first, choice)
        for name, members in groups.items():
            value = self.space.get(name).value
            for slot in members:
                if self.is_active(slot):
                    self.apply(slot, value)

    def build(self, slot: Slot, choice: str) -> nn.Module:
        """The slot's module for ``choice``, built on first use; Slots inside it join this step."""
        module = self.cache[id(slot)].get(choice)
        if module is None:
            module = build_choice(choice, slot).to(module_device(slot))
            self.cache[id(slot)][choice] = module
            inner = find_slots(module, prefix=f"{slot.name}.entity")
            if not self.constructing and any(s.param_name not in self.members for s in inner):
                raise SlotError(f"slot {slot.name!r}: candidate {choice!r} holds Slots with no parameter yet; "
                                "mark its factory with slotnas.holds_slots so they get one at construct")
            if inner:
                self.nested[(id(slot), choice)] = inner
                self.add(inner, owner=(slot, choice))
        return module

    def is_active(self, slot: Slot) -> bool:
        """Whether the slot is in the model now: every candidate holding it is chosen."""
        owner = self.owner.get(id(slot))
        while owner is not None:
            outer, choice = owner
            if outer.candidate != choice:
                return False
            owner = self.owner.get(id(outer))
        return True

    def apply(self, slot: Slot, choice: str) -> None:
        """Set the slot to ``choice``, then bring the Slots nested in it up to date."""
        if slot.candidate != choice:
            slot.set_entity(self.build(slot, choice), candidate=choice)
        if self.nested:  # hot path: plain models have no nested Slots
            for inner in self.nested.get((id(slot), choice), ()):
                self.apply(inner, self.space.get(inner.param_name).value)

    def update(self, name: str, param: Param) -> None:
        """Transform handler of group ``name``: active member Slots take the new value (others on activation)."""
        value = param.value
        for slot in self.members[name]:
            if id(slot) not in self.owner or self.is_active(slot):
                self.apply(slot, value)


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
    Slots that a step creates inside candidates are handled by the same step (``categorical``
    binds them as it builds them; other steps get them while they match their glob), else by the
    following steps: a hierarchical space needs one step.
    """
    space = ParamSpace() if space is None else space
    if hasattr(model, "declare_params"):  # e.g. a template's depth parameter and its handler
        model.declare_params(space)
    done: set = set()
    for step in chain:
        if callable(step):
            fn, pattern, options = step, "*", {}
        else:
            fn, pattern, options = check_step(step, f"constructor {step.get('type')!r}")
        slots = [s for s in find_slots(model) if id(s) not in done and fnmatch.fnmatchcase(s.name, pattern)]
        while slots:
            fn(slots, space, **options)
            done.update(id(s) for s in slots)
            slots = [s for s in find_slots(model) if id(s) not in done and s.entity is None
                     and fnmatch.fnmatchcase(s.name, pattern)]
    empty = [s.name for s in find_slots(model) if s.entity is None]
    if empty:
        raise SlotError(f"slot {empty[0]!r} has no module after construct; add a chain step matching it")
    return space
