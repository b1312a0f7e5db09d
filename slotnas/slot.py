"""Slot: a placeholder module that remembers the arguments of the layer it stands for.

A Slot is transparent to its host: ``forward`` runs its entity, attributes it lacks (``weight``,
``in_features``, ...) are read from the entity, and state_dict keys leave out ``entity.``, so a
slotified model with its original layers has the original model's keys.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from torch import nn

from .errors import SlotError


class Slot(nn.Module):
    """Placeholder for a searchable layer; ``forward`` runs whatever module ``set_entity`` put in."""

    def __init__(
        self,
        chn_in: Optional[int],
        chn_out: Optional[int] = None,
        stride: int = 1,
        *,
        name: Optional[str] = None,
        group: Optional[str] = None,
        original: Optional[nn.Module] = None,
        choices: Optional[Dict[str, Callable[[], nn.Module]]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.chn_in = chn_in
        self.chn_out = chn_in if chn_out is None else chn_out
        self.stride = stride
        self.kwargs = kwargs
        self.name = name
        self.group = group
        self.register_module("entity", None)
        self.candidate: Optional[str] = None  # id of the candidate in the entity, when it is one
        # The layer this slot replaced (candidate ORIG). Not a registered submodule: it only
        # joins the model's parameters when chosen as (part of) the entity.
        self.__dict__["original"] = original
        # Candidates of its own (label -> factory), e.g. from a template; used when construct
        # is given no candidate list. A factory taking a ``channels`` keyword can be built narrower
        # (mixed_op partial_channels).
        self.choices: Optional[Dict[str, Callable[[], nn.Module]]] = choices
        post_hook = getattr(self, "register_state_dict_post_hook", None)  # public from torch 2.5
        if post_hook is not None:
            post_hook(_without_entity_keys)
        else:
            self._register_state_dict_hook(_without_entity_keys)
        self._register_load_state_dict_pre_hook(_with_entity_keys, with_module=True)

    @property
    def param_name(self) -> str:
        """Name of the architecture parameter this slot is bound to: its group, else its name."""
        return self.group or self.name or "slot"

    def set_entity(self, module: nn.Module, candidate: Optional[str] = None) -> None:
        """Make ``module`` the one that ``forward`` runs; ``candidate`` names its candidate id, if any."""
        if not isinstance(module, nn.Module):
            raise SlotError(f"slot {self.name!r}: entity must be an nn.Module, got {type(module).__name__}")
        self._modules["entity"] = module
        self.__dict__["candidate"] = candidate  # plain attribute; skips nn.Module.__setattr__ (hot path)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        entity = self._modules["entity"]
        if entity is None:
            raise SlotError(
                f"slot {self.name!r} has no module yet; run slotnas.construct(model, chain) "
                "or slot.set_entity(module) first"
            )
        return entity(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        """Attributes the Slot lacks come from its entity (host code such as nn.MultiheadAttention reads
        ``out_proj.weight``); if the entity lacks them too, the error names the slot and its candidate."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("__"):
                raise
        entity = self.__dict__.get("_modules", {}).get("entity")
        if entity is None:
            raise AttributeError(f"slot {self.__dict__.get('name')!r} has no attribute {name!r} (it holds no module)")
        try:
            return getattr(entity, name)
        except AttributeError:
            candidate = self.__dict__.get("candidate") or type(entity).__name__
            raise AttributeError(
                f"slot {self.__dict__.get('name')!r}: the host reads {name!r}, which its candidate {candidate!r} "
                f"({type(entity).__name__}) does not have; where a host reads a layer's tensors, only candidates "
                "that have them work (ORIG)") from None

    def extra_repr(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"name={self.name!r}, chn_in={self.chn_in}, chn_out={self.chn_out}, stride={self.stride}{extra}"


ENTITY = "entity."


def _without_entity_keys(module: nn.Module, state: Dict[str, Any], prefix: str, metadata: Any) -> None:
    """state_dict hook: ``<slot>.entity.<key>`` -> ``<slot>.<key>`` (also in the version metadata)."""
    inner = prefix + ENTITY
    for key in [k for k in state if k.startswith(inner)]:
        state[prefix + key[len(inner):]] = state.pop(key)
    meta = getattr(state, "_metadata", None)
    if meta is not None:
        for key in [k for k in meta if k == inner[:-1] or k.startswith(inner)]:
            meta[prefix + key[len(inner):] if key != inner[:-1] else prefix[:-1]] = meta.pop(key)


def _with_entity_keys(module: nn.Module, state: Dict[str, Any], prefix: str, *_: Any) -> None:
    """load_state_dict pre-hook: ``<slot>.<key>`` -> ``<slot>.entity.<key>`` (keys already inside stay)."""
    inner = prefix + ENTITY
    for key in [k for k in state if k.startswith(prefix) and not k.startswith(inner)]:
        state[inner + key[len(prefix):]] = state.pop(key)


def holds_slots(factory: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """Mark a Slot choice whose module contains Slots (e.g. a template's motif): the categorical
    constructor builds it once up front so that the nested Slots' parameters exist before a search."""
    factory.holds_slots = True  # type: ignore[attr-defined]
    return factory


def find_slots(model: nn.Module, prefix: str = "") -> List[Slot]:
    """All Slots in ``model`` in module order, each given its dotted name in the model (after ``prefix``)."""
    slots = []
    for path, module in model.named_modules(prefix=prefix):
        if isinstance(module, Slot):
            module.name = path or module.name
            slots.append(module)
    return slots
