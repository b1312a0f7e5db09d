"""slotnas: event-driven, slot-replacement neural architecture search for PyTorch."""
from .arch_space.candidates import build_candidate, register_candidate
from .arch_space.construct import construct, register_constructor
from .arch_space.slotify import SlotRule, slotify
from .errors import HandlerError, ParamError, SlotError, SlotnasError
from .params import Categorical, Numeric, ParamSpace, TensorParam
from .slot import Slot, find_slots, holds_slots

__version__ = "0.1.0"

_LAZY = {  # the runtime pulls in estimators, metrics and optimizers: imported on first use
    "search": "slotnas.runtime", "resume": "slotnas.runtime", "SearchResult": "slotnas.runtime",
    "Callback": "slotnas.callbacks", "Trial": "slotnas.trials", "TrialState": "slotnas.trials",
    "TrialStore": "slotnas.store",
}


def __getattr__(name: str):  # noqa: ANN201 - module-level lazy attributes (PEP 562)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'slotnas' has no attribute {name!r}")


__all__ = [
    "Slot", "find_slots", "holds_slots", "slotify", "SlotRule", "construct", "register_constructor",
    "Categorical", "Numeric", "TensorParam", "ParamSpace",
    "register_candidate", "build_candidate",
    "SlotnasError", "ParamError", "SlotError", "HandlerError",
    "search", "resume", "SearchResult", "Callback", "Trial", "TrialState", "TrialStore",
]
